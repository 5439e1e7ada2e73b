"""Flax scoring networks of the neural agent: click logits for (user, item, position).

`NETWORKS` maps `agent.network` to the variant; each is a `ClickNet` (`base`: the learned
item and position biases) with its own affinity f(x_u, x_i), one module each:

- `two_tower`: f = ⟨φ(x_u), ψ(x_i)⟩ with MLP towers (`two_tower.TwoTower`),
- `mlp`: f = MLP([x_u ‖ x_i]) (`mlp.JointMLP`).

The click probability predicted for ranking is the top-position one, σ(f + b̂_i + g_0).
A new variant is one module and one line here.
"""

from agents.networks.base import MLP, ClickNet
from agents.networks.mlp import JointMLP
from agents.networks.two_tower import TwoTower

NETWORKS: dict[str, type[ClickNet]] = {"two_tower": TwoTower, "mlp": JointMLP}

__all__ = ["MLP", "NETWORKS", "ClickNet", "JointMLP", "TwoTower"]
