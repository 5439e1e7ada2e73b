"""`mnl`: multinomial-logit choice with a no-click option (as RecSim's interest-evolution
user and the MNL-bandit literature, Agrawal et al., 2019, "MNL-Bandit").

The user picks at most one item of the slate. Item i has the choice weight w_i = a_i / (1 − a_i)
(so an item shown alone, beside the outside option of weight 1, is chosen with probability
exactly a_i), discounted by the attention κ_j = 1 / log2(j + 2) that position j receives; the
outside option ("no click") has the traced weight w_0 > 0:

    P(click at j) = κ_j w_{s_j} / (w_0 + Σ_l κ_l w_{s_l}),    E[clicks] = W / (w_0 + W),
    W = Σ_l κ_l w_{s_l}.

Best slate (every click earns the same reward): E[clicks] increases in W, and W pairs
decreasing κ_j with the weights, so by the rearrangement inequality the optimum is the k items
of largest w — the k most attractive, since w is increasing in a — sorted by decreasing a.
(With item-dependent rewards, as in assortment optimisation, the optimum would be a
revenue-ordered set instead; clicks carry no such rewards here.)

One shared uniform per user decides the choice (inverse CDF over slots, then no click).
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from envs.response.base import best_top_k
from envs.response.pbm import examination
from recsim.core.types import EnvSpec

MAX_ATTRACTION = 1.0 - 1e-6  # keeps w finite


@struct.dataclass
class MNLParams:
    outside_weight: jax.Array  # [] w_0 > 0


@dataclasses.dataclass(frozen=True)
class MultinomialLogit:
    """At most one click, chosen by weights against a no-click option (module docstring)."""

    name: ClassVar[str] = "mnl"

    def click_probs(self, shown: jax.Array, params: MNLParams) -> jax.Array:
        a = jnp.minimum(shown, MAX_ATTRACTION)
        weights = examination(shown.shape[-1]) * a / (1.0 - a)
        total = params.outside_weight + jnp.sum(weights, axis=-1, keepdims=True)
        return weights / total

    def sample(self, key: jax.Array, shown: jax.Array, params: MNLParams) -> jax.Array:
        prob = self.click_probs(shown, params)
        upper = jnp.cumsum(prob, axis=-1)  # [U, k]
        u = jax.random.uniform(key, prob.shape[:-1])[..., None]
        chosen = jnp.sum(u >= upper, axis=-1)  # slot index; k means no click
        return jax.nn.one_hot(chosen, prob.shape[-1], dtype=jnp.int32)

    def best(self, attraction: jax.Array, k: int, params: MNLParams):
        return best_top_k(self, attraction, k, params)


def make(config, spec: EnvSpec) -> tuple[MultinomialLogit, MNLParams]:
    """The model and its params, w_0 = `config.outside_weight` (the env config's)."""
    params = MNLParams(outside_weight=jnp.asarray(config.outside_weight, jnp.float32))
    return MultinomialLogit(), params
