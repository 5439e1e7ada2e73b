"""`boltzmann`: a slate sampled without replacement from softmax(mean / T).

Gumbel-top-k (Kool et al., 2019, "Stochastic Beams and Where to Find Them"): the top-k of
mean_{u,i} / T + G_{u,i}, G ~ Gumbel(0, 1), is a sample of k items without replacement from
the Plackett–Luce model with weights exp(mean / T). T → 0 is greedy; T → ∞ is uniform.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import (
    Exploration,
    Propensity,
    config_to_params,
    earlier,
    explored_vs_greedy,
    top_k,
)
from recsim.core.types import EnvSpec
from recsim.core.validation import check_real


@dataclasses.dataclass
class BoltzmannConfig:
    name: str = "boltzmann"
    temperature: float = 0.05  # T > 0, on the scale of predicted click probabilities

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        check_real(f"{prefix}.temperature", self.temperature, 0.0, low_open=True)


@struct.dataclass
class BoltzmannParams:
    temperature: jax.Array


def select(key, scores, item_features, k, params: BoltzmannParams, step):
    gumbel = jax.random.gumbel(key, scores.mean.shape)
    slates = top_k(scores.mean / params.temperature + gumbel, k)
    return slates, explored_vs_greedy(slates, scores)


def chain(slates, scores, item_features, k, params: BoltzmannParams, step):
    """Plackett–Luce: P(s_j | s_<j) = exp(m_{s_j}/T) / Σ_{a ∉ s_<j} exp(m_a/T)."""
    logits = scores.mean / params.temperature  # [U, N]
    taken = earlier(slates, logits.shape[1])  # [U, k, N]
    remaining = jax.nn.logsumexp(jnp.where(taken, -jnp.inf, logits[:, None, :]), axis=-1)
    return jnp.exp(jnp.take_along_axis(logits, slates, axis=1) - remaining)


PROPENSITY = Propensity(chain, None)  # the marginals of positions > 1 have no closed form


def make(config: BoltzmannConfig, spec: EnvSpec):
    """The strategy and its traced params; the config validated for `spec`."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select, PROPENSITY), config_to_params(config, BoltzmannParams)
