"""`thompson`: Thompson sampling — the greedy slate of one posterior draw.

Thompson (1933); for ensembles, the bootstrapped-DQN form of Osband et al. (2016): each user's
slate is the top-k of one ensemble member drawn uniformly at random (for the linear agent, of
one draw of the Gaussian posterior). The draw is made by the agent (`Scores.sample`).

Propensity. With an ensemble (`Scores.members`, E members) the slate is member m's top-k
t_m with probability 1/E for each m, so with c_j = #{m : t_m starts with s_1..s_j}, c_0 = E,

    P(s_j | s_<j) = c_j / c_{j−1}  (0 where c_{j−1} = 0),    P(a at j) = #{m : t_{m,j} = a} / E.

Exact given the members' scores: for the neural ensemble, and for MC dropout given the M
dropout predictions of that step (the masks are part of the scores, as its mean and std are).
Without members (`lints`: one draw of a Gaussian posterior, whose top-k distribution has no
closed form) both return None, and the agent reports no propensity.
"""

import dataclasses

import jax
import jax.numpy as jnp

from agents.exploration.base import Exploration, NoParams, Propensity, explored_vs_greedy, top_k
from recsim.core.types import EnvSpec


@dataclasses.dataclass
class ThompsonConfig:
    name: str = "thompson"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def select(key, scores, item_features, k, params, step):
    slates = top_k(scores.sample, k)
    return slates, explored_vs_greedy(slates, scores)


def member_slates(members: jax.Array, k: int) -> jax.Array:
    """t_m [E, U, k]: each member's top-k, tie-broken as `select` breaks them."""
    return jax.vmap(top_k, in_axes=(0, None))(members, k)


def chain(slates, scores, item_features, k, params, step):
    """P(s_j | s_<j) = c_j / c_{j−1} (module docstring); None without members."""
    if scores.members is None:
        return None
    agrees = member_slates(scores.members, k) == slates[None]  # [E, U, k]
    counts = jnp.sum(jnp.cumprod(agrees, axis=2), axis=0)  # c_j [U, k]
    before = jnp.concatenate(
        [jnp.full_like(counts[:, :1], scores.members.shape[0]), counts[:, :-1]], axis=1
    )  # c_{j−1}
    # c_j ≤ c_{j−1}, so c_{j−1} = 0 gives 0 / 1 = 0
    return (counts / jnp.maximum(before, 1)).astype(jnp.float32)


def marginals(scores, item_features, k, params, step):
    """P(a at j) = #{m : t_{m,j} = a} / E [U, k, N]; None without members."""
    if scores.members is None:
        return None
    n_items = scores.mean.shape[1]
    return jnp.mean(jax.nn.one_hot(member_slates(scores.members, k), n_items), axis=0)


PROPENSITY = Propensity(chain, marginals)


def make(config: ThompsonConfig, spec: EnvSpec):
    """The strategy (no knobs)."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), NoParams()
