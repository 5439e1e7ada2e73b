"""recsim: the engine — contracts, the compiled loop, metrics, results and plots.

`recsim` never imports `envs` or `agents`; they plug in through the contracts in
`recsim.contracts`, and `experiments` wires them together from a config.
"""

__version__ = "0.1.0"
