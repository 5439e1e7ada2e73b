"""Interest drift toward clicked items: the feedback loop behind filter bubbles (Chaney,
Stewart & Engelhardt, 2018, "How algorithmic confounding in recommendation systems increases
homogeneity and decreases utility").

    u ← normalize(u + η (v̄ − u)),   v̄ = mean hidden vector of the items the user clicked

unchanged without a click; η = `drift_rate` ∈ [0, 1] (0: off, the default — drift lets a fixed
policy's regret fall without any learning, so it is a named scenario, not the default world).
"""

import jax
import jax.numpy as jnp


def normalize(x: jax.Array) -> jax.Array:
    """Rows scaled to unit length: [..., d] -> [..., d]."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def drift(
    users: jax.Array, shown: jax.Array, clicks: jax.Array, rate: jax.Array, unit: bool = True
) -> jax.Array:
    """Drifted hidden vectors of the visiting users. With `unit=False` (preference vectors of
    any length, e.g. a rating model's user factors p_u) the step is not renormalised:
    p ← p + η (q̄ − p).

    Args:
      users: [U, d] unit hidden preferences.
      shown: [U, k, d] hidden vectors of the shown items.
      clicks: [U, k] int clicks.
      rate: [] η.

    Returns:
      [U, d] the preferences after the visit.
    """
    n_clicks = jnp.sum(clicks, axis=1, keepdims=True)  # [U, 1]
    clicked_mean = jnp.einsum("uk,ukd->ud", clicks, shown) / jnp.maximum(n_clicks, 1)
    drifted = users + rate * (clicked_mean - users)
    drifted = normalize(drifted) if unit else drifted
    return jnp.where(n_clicks > 0, drifted, users)
