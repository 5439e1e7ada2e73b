"""A reward model fitted on the log, for the direct method and doubly robust estimators:
L2-regularised logistic regression on features φ(x, a) of (context, action) pairs,

    q̂(x, a) = σ(θᵀ φ(x, a) + b),    θ, b = argmin  mean_i BCE(r_i, q̂(x_i, a_i)) + λ/2 ‖θ‖²

fitted full-batch with Adam (optax). λ weighs the *mean* loss, so its pull does not fade
with n (with one-hot features λ = 1e-3 shrinks every cell by about 0.04 at any n); keep it
small unless the features are many. Any q̂ may be passed to the estimators instead; this one
is the default for logs whose features describe the pair (one-hot items, user × item
products, …).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class LogisticModel(NamedTuple):
    weights: jax.Array  # [d]
    bias: jax.Array  # []


def predict(model: LogisticModel, features: jax.Array) -> jax.Array:
    """q̂ = σ(θᵀ φ + b) for features [..., d] -> [...]."""
    return jax.nn.sigmoid(features @ model.weights + model.bias)


def fit_logistic(
    features: jax.Array,
    rewards: jax.Array,
    l2: float = 1e-6,
    steps: int = 500,
    learning_rate: float = 0.1,
) -> LogisticModel:
    """Fits q̂ on the logged pairs: features φ(x_i, a_i) [n, d], rewards r_i ∈ [0, 1] [n]."""
    model = LogisticModel(jnp.zeros(features.shape[1]), jnp.zeros(()))
    optimiser = optax.adam(learning_rate)

    def loss(model):
        logits = features @ model.weights + model.bias
        fit = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, rewards))
        return fit + 0.5 * l2 * jnp.sum(model.weights**2)

    def step(carry, _):
        model, state = carry
        grads = jax.grad(loss)(model)
        updates, state = optimiser.update(grads, state, model)
        return (optax.apply_updates(model, updates), state), None

    (model, _), _ = jax.lax.scan(step, (model, optimiser.init(model)), None, length=steps)
    return model
