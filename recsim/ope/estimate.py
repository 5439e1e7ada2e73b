"""An off-policy estimate with its uncertainty, from per-round terms."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

Z95 = 1.959963984540054  # standard normal quantile 0.975: logs are large, so normal intervals


class Estimate(NamedTuple):
    """V̂, its standard error, and the 95% interval V̂ ± z·se (all [] float32, or with the
    leading axes of a vmap)."""

    value: jax.Array
    stderr: jax.Array
    low: jax.Array
    high: jax.Array


def from_terms(terms: jax.Array) -> Estimate:
    """V̂ = mean_i ψ_i and se = sd(ψ) / √n (sd with n − 1) of the per-round terms ψ [n]
    (se NaN for n = 1)."""
    n = terms.shape[0]
    value = jnp.mean(terms)
    stderr = jnp.std(terms, ddof=1) / jnp.sqrt(n)
    return Estimate(value, stderr, value - Z95 * stderr, value + Z95 * stderr)


def from_ratio(numerators: jax.Array, denominators: jax.Array) -> Estimate:
    """V̂ = Σ a_i / Σ b_i, with the delta-method se = sd(ψ) / √n of the linearised terms
    ψ_i = (a_i − V̂ b_i) / mean(b) (self-normalised estimators; NaN when every b_i is 0)."""
    value = jnp.sum(numerators) / jnp.sum(denominators)
    linearised = (numerators - value * denominators) / jnp.mean(denominators)
    n = numerators.shape[0]
    stderr = jnp.std(linearised, ddof=1) / jnp.sqrt(n)
    return Estimate(value, stderr, value - Z95 * stderr, value + Z95 * stderr)
