"""recsim: the engine, in three packages.

- `recsim.core`: the pure JAX core — contracts, keys, the compiled loop, metrics, tracking.
- `recsim.runs`: running experiments, result files, job records, sweeps, statistics.
- `recsim.figures`: matplotlib figures of results.

`recsim` never imports `envs` or `agents`; they plug in through the contracts in
`recsim.core.contracts`, and `experiments` wires them together from a config.
"""

__version__ = "0.1.0"
