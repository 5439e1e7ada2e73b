"""`diversity`: maximal marginal relevance (Carbonell & Goldstein, 1998).

The slate is built greedily: the first item is the most relevant (argmax mean_{u,i}); each
next one maximises
    λ · mean_{u,i} − (1 − λ) · max_{s ∈ slate} cos(x_i, x_s)
(cosine similarity of observable item features). λ = 1 is greedy; smaller λ trades predicted
clicks for intra-list diversity; λ = 0 is the most relevant item followed by the most
dissimilar ones.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import Exploration, config_to_params, deterministic, explored_vs_greedy
from recsim.core.types import EnvSpec
from recsim.core.validation import check_real


@dataclasses.dataclass
class DiversityConfig:
    name: str = "diversity"
    relevance_weight: float = 0.7  # λ in [0, 1]

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        check_real(f"{prefix}.relevance_weight", self.relevance_weight, 0.0, 1.0)


@struct.dataclass
class DiversityParams:
    relevance_weight: jax.Array


def select(key, scores, item_features, k, params: DiversityParams, step):
    users, n_items = scores.mean.shape
    norm = jnp.linalg.norm(item_features, axis=1, keepdims=True)
    unit = item_features / jnp.where(norm > 0, norm, 1.0)  # [N, F]
    lam = params.relevance_weight
    rows = jnp.arange(users)

    def add_one(state, position):
        max_similarity, taken = state  # [U, N], [U, N] bool
        marginal = lam * scores.mean - (1.0 - lam) * max_similarity
        value = jnp.where(position > 0, marginal, scores.mean)
        choice = jnp.argmax(jnp.where(taken, -jnp.inf, value), axis=1)  # [U]
        similarity = unit[choice] @ unit.T  # [U, N]
        return (jnp.maximum(max_similarity, similarity), taken.at[rows, choice].set(True)), choice

    start = (jnp.full((users, n_items), -jnp.inf), jnp.zeros((users, n_items), bool))
    _, choices = jax.lax.scan(add_one, start, jnp.arange(k))
    slates = choices.T  # [U, k]
    return slates, explored_vs_greedy(slates, scores)


PROPENSITY = deterministic(select)


def make(config: DiversityConfig, spec: EnvSpec):
    """The strategy and its traced params; the config validated for `spec`."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), config_to_params(config, DiversityParams)
