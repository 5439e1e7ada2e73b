"""`ucb`: optimism in the face of uncertainty — rank by mean + β · std.

The upper-confidence-bound rule of Auer et al. (2002) and LinUCB (Li et al., 2010), with the
model's epistemic std (ensemble spread, MC-dropout spread, or the linear posterior std).
β = 0 is greedy.
"""

import dataclasses

import jax
from flax import struct

from agents.exploration.base import (
    Exploration,
    config_to_params,
    deterministic,
    explored_vs_greedy,
    top_k,
)
from recsim.core.types import EnvSpec
from recsim.core.validation import check_real


@dataclasses.dataclass
class UCBConfig:
    name: str = "ucb"
    beta: float = 1.0  # β >= 0

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        check_real(f"{prefix}.beta", self.beta, 0.0)


@struct.dataclass
class UCBParams:
    beta: jax.Array


def select(key, scores, item_features, k, params: UCBParams, step):
    slates = top_k(scores.mean + params.beta * scores.std, k)
    return slates, explored_vs_greedy(slates, scores)


PROPENSITY = deterministic(select)


def make(config: UCBConfig, spec: EnvSpec):
    """The strategy and its traced params; the config validated for `spec`."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), config_to_params(config, UCBParams)
