"""Users who leave (after RecSim's interest-evolution time budget, Ie et al., 2019, and
KuaiSim's leave model, Zhao et al., 2023; our own equations).

Each user has a patience budget B ∈ [0, P], full (B = P = `patience`) when the user joins. A
visit without any click costs one unit; a visit with a click refills R = `patience_refill`:

    B ← min(P, B − 1 + R · 1[the user clicked at least once])

Boredom acts through the clicks: a slate the user is bored of is clicked less. When B ≤ 0
the user leaves after the visit and is replaced in the same slot by a new user drawn from the
generator's user law (fresh hidden preferences, group and feature noise; empty boredom; full
budget), so the population size is static. The slot keeps its arrival weight, so the arrivals
— and with them the traffic — are the same for every agent: leaving costs no visits, it
replaces a user the agent has learned to serve by a stranger. P = 0 turns leaving off
(default).
"""

import jax
import jax.numpy as jnp


def spend(
    budget: jax.Array, clicks: jax.Array, patience: jax.Array, refill: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Budgets after the visit and who leaves: [U], [U, k] -> [U] float32, [U] bool."""
    satisfied = jnp.any(clicks > 0, axis=1).astype(jnp.float32)
    budget = jnp.minimum(patience, budget - 1.0 + refill * satisfied)
    return budget, (patience > 0) & (budget <= 0)
