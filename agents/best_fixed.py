"""`best_fixed`: one slate for everyone, from the truth — the best non-personalised policy.

The privileged baseline that separates learning *who likes what* from learning *what is
popular*: it knows the true attraction of every item for every user of the population (not
only those who arrive) and shows all arriving users the same slate,

    s_t = top-k of ā_i = Σ_u π_u a_{u,i},   π = softmax(σ_a α) (arrival weights), best first,

recomputed each step, so it follows boredom, drift and item churn — and, being handed the
truth, knows a new item's quality the moment it arrives: it is a privileged upper reference
for non-personalised policies, not a policy that could be learned. Under the position-based
model it is the slate of most expected clicks for a user drawn with the arrival weights
(expected clicks are linear in a; the rearrangement inequality orders the slots). Arrivals are
distinct users drawn without replacement, whose inclusion probabilities are close to, not
exactly, π. Under cascade, DCM and MNL, whose expected clicks are not linear in a, it is the
natural strong fixed slate, not always the exact optimum over all fixed slates.
"""

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from recsim.core.types import ActInfo, EnvSpec, Observation, Truth


@dataclasses.dataclass
class BestFixedConfig:
    """Config of `agent=best_fixed` (no knobs)."""

    name: str = "best_fixed"

    def validate(self, prefix: str = "agent") -> None:
        """Nothing to check."""


@dataclasses.dataclass(frozen=True)
class BestFixedAgent:
    """Top-k of the population's mean true attraction, for every user (module docstring)."""

    spec: EnvSpec
    explores: ClassVar[bool] = False
    uses_truth: ClassVar[bool] = True
    uses_population: ClassVar[bool] = True
    predicts_clicks: ClassVar[bool] = True
    reports_uncertainty: ClassVar[bool] = False

    def init(self, key: jax.Array, params: tuple) -> tuple:
        return ()

    def act(self, key, state, obs: Observation, params, truth: Truth):
        mean = truth.population_attraction  # [N]
        _, slate = jax.lax.top_k(mean, self.spec.slate_size)
        users = obs.user_ids.shape[0]
        slates = jnp.broadcast_to(slate.astype(jnp.int32), (users, self.spec.slate_size))
        scores = jnp.broadcast_to(mean, truth.attraction.shape)
        info = ActInfo(
            scores=scores,
            uncertainty=jnp.zeros_like(scores),
            explored=jnp.zeros(slates.shape, bool),
            propensity=jnp.ones(slates.shape, jnp.float32),  # one slate, always
            slot_propensity=jnp.ones(slates.shape, jnp.float32),
        )
        return slates, info

    def update(self, key, state, obs, slates, feedback, params):
        return state


def make(config: BestFixedConfig, spec: EnvSpec):
    config.validate()
    return BestFixedAgent(spec=spec), ()
