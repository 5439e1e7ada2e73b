"""`uncertainty`: uncertainty-query, from active learning (uncertainty sampling: Lewis & Gale,
1994; Settles, 2009, "Active Learning Literature Survey", §3.1).

Up to `n_query` slots of each slate are given to the items whose predicted click probability
is most uncertain, among those with uncertainty std_{u,i} > τ, so the user's feedback teaches
the model most; the other slots are greedy. With q ≤ n_query qualifying items chosen
(highest std first), the slate is

    [ greedy top-(k − q) of mean, excluding the queried items ] ‖ [ the q queried items ]

— greedy items keep the top positions, queries take the last q slots. The explored mask marks
the query slots.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import Exploration, deterministic, top_k
from recsim.core.types import EnvSpec
from recsim.core.validation import check_int, check_real


@dataclasses.dataclass
class UncertaintyConfig:
    name: str = "uncertainty"
    n_query: int = 1  # most query slots per slate, 0..slate_size
    threshold: float = 0.0  # τ: only items with uncertainty above it are queried

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        check_int(f"{prefix}.n_query", self.n_query, 0, slate_size, "env.slate_size")
        check_real(f"{prefix}.threshold", self.threshold, 0.0)


@struct.dataclass
class UncertaintyParams:
    n_query: jax.Array  # [] int32 (traced: sweepable)
    threshold: jax.Array  # [] float32


def select(key, scores, item_features, k, params: UncertaintyParams, step):
    users = scores.mean.shape[0]
    eligible = scores.std > params.threshold
    query_std, query_items = jax.lax.top_k(jnp.where(eligible, scores.std, -jnp.inf), k)
    is_query = (jnp.arange(k) < params.n_query) & jnp.isfinite(query_std)  # [U, k] prefix
    n_queries = jnp.sum(is_query, axis=1, keepdims=True)  # [U, 1]
    queried = (
        jnp.zeros(scores.mean.shape, bool)
        .at[jnp.arange(users)[:, None], jnp.where(is_query, query_items, scores.mean.shape[1])]
        .set(True, mode="drop")
    )
    greedy = top_k(jnp.where(queried, -jnp.inf, scores.mean), k)  # [U, k]
    position = jnp.arange(k)[None, :]
    n_greedy = k - n_queries
    query_slot = jnp.clip(position - n_greedy, 0, k - 1)
    slates = jnp.where(
        position < n_greedy,
        greedy,
        jnp.take_along_axis(query_items, query_slot, axis=1),
    )
    return slates, position >= n_greedy


PROPENSITY = deterministic(select)


def make(config: UncertaintyConfig, spec: EnvSpec):
    """The strategy and its traced params; `n_query` checked against the slate size."""
    config.validate(slate_size=spec.slate_size)
    params = UncertaintyParams(
        n_query=jnp.asarray(config.n_query, jnp.int32),
        threshold=jnp.asarray(config.threshold, jnp.float32),
    )
    return Exploration(config.name, select, PROPENSITY), params
