"""The pure JAX core: types, contracts, keys, the compiled loop, metrics and their table,
tracking, the registry type of every component family, and config validation.

The core imports neither `recsim.runs` nor `recsim.figures`, and never matplotlib, pandas or
file I/O (`tests/test_layering.py` checks it).
"""
