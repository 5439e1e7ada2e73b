"""The response-model contract: how a user answers a slate, given the true attractions.

A response model is a frozen dataclass of pure functions of the attraction `a ∈ (0, 1)` of
the shown items (the probability that the user clicks item i when it is fully examined on its
own) and of the model's own traced params. It never sees the world that produced `a`, so every
generator can be combined with every response model. Shapes: U users, N items, k slots.

Each model is one module: the model class (its `name` class variable is the value of
`env.click_model` that picks it) and `make(env_config, spec) -> (model, params)`, whose knobs
are keys of the environment's config (e.g. `env.continuation`). Registering it is one line in
`envs.response.REGISTRY`.
"""

from typing import Any, ClassVar, Protocol

import jax
import jax.numpy as jnp

PyTree = Any


class ResponseModel(Protocol):
    """Clicks given a slate (Craswell et al., 2008; Guo et al., 2009; Train, 2009)."""

    name: ClassVar[str]

    def click_probs(self, shown: jax.Array, params: PyTree) -> jax.Array:
        """Marginal click probability of every slot: [U, k] attractions -> [U, k]."""

    def sample(self, key: jax.Array, shown: jax.Array, params: PyTree) -> jax.Array:
        """Clicks [U, k] int32 in {0, 1}, with `E[clicks] = click_probs(shown)`."""

    def best(self, attraction: jax.Array, k: int, params: PyTree) -> tuple[jax.Array, jax.Array]:
        """The slate of most expected clicks per user and its value: [U, N] -> [U, k], [U]."""


def top_k_slate(attraction: jax.Array, k: int) -> jax.Array:
    """The k items of highest attraction, best first: [U, N] -> [U, k] int32."""
    return jax.lax.top_k(attraction, k)[1].astype(jnp.int32)


def best_top_k(model: ResponseModel, attraction: jax.Array, k: int, params: PyTree):
    """`best` of a model whose optimum is the top-k by attraction (each model proves it in its
    docstring): the slate and its expected clicks under the model, [U, k] and [U]."""
    slates = top_k_slate(attraction, k)
    return slates, jnp.sum(model.click_probs(gather(attraction, slates), params), axis=-1)


def gather(attraction: jax.Array, slates: jax.Array) -> jax.Array:
    """Attractions of the shown items: [U, N] x [U, k] -> [U, k]."""
    return jnp.take_along_axis(attraction, slates, axis=1)
