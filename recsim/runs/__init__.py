"""Running experiments and keeping their results: result files, job records, sweep merging
and the statistics across seeds. Uses `recsim.core`; writes figures through `recsim.figures`.
"""
