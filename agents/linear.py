"""`linucb` / `lints`: disjoint linear bandits with a closed-form ridge posterior per item.

LinUCB (Li et al., 2010, "A contextual-bandit approach to personalized news article
recommendation", disjoint model) and linear Thompson sampling (Agrawal & Goyal, 2013) on the
same observable features as the neural agent. Item i has its own ridge regression of clicks
on the context of user u at position j (d = Fu + k − 1):

    z_{u,j} = [x_u ‖ e_j],   e_j ∈ R^{k−1} the one-hot of position j ≥ 1, e_0 = 0

Position 0 is the reference, so position bias is fitted (as offsets of the lower positions),
not confused with relevance, and the intercept is carried once, by x_u (in `latent` it ends
with the user-group one-hot, which sums to 1; a full position one-hot would carry it a second
time and leave A_i a direction held up by λ alone: a condition number in the 10⁵).

    A_i = λ I + Σ z zᵀ,   b_i = Σ c z,   θ̂_i = A_i⁻¹ b_i
    mean_{u,i} = θ̂_iᵀ z_{u,0},    std_{u,i} = v · sqrt(z_{u,0}ᵀ A_i⁻¹ z_{u,0})

`Scores.sample` is one draw mean + std · ε, ε ~ N(0, 1) per user and item — exactly the
posterior of the score θ_iᵀ z_{u,0} under θ_i ~ N(θ̂_i, v² A_i⁻¹) (items are independent).
`linucb` explores with `ucb` (mean + β std) and `lints` with `thompson` by default; any
strategy can be combined.

Numerics (float32, exact to round-off every step): A_i and b_i are accumulated by compensated
(Kahan–Knuth two-sum) summation, each as high + low parts, so their error does not grow with
the number of observations. A_i⁻¹ is kept by Sherman–Morrison rank-one updates, one per shown
slot, user by user (the k items of a slate are distinct), and after every step polished by one
Newton–Schulz step against the accumulated A_i,

    A⁻¹ ← A⁻¹ − (A⁻¹z)(A⁻¹z)ᵀ / (1 + zᵀA⁻¹z),      X ← X (2I − A X)  (symmetrised),

which squares the residual I − A X, so round-off cannot build up across steps. θ̂_i = X b_i
gets one step of iterative refinement, θ̂ ← θ̂ + X (b − A θ̂), with the residual from the high
and low parts. Over 2,000 steps of the default world (condition numbers of A_i up to ~2·10⁴)
the posterior stays within 1.2·10⁻⁵ (mean, relative to its scale) and 6·10⁻⁶ (std, entrywise)
of a float64 ridge regression on the same data (`tests/test_linear.py`).

Ties. Items often have the same posterior in exact arithmetic: every unseen item, and e.g.
the items a single user was shown below the top position and did not click (for the top
position their data differ only in the position column). Round-off then decides their order,
and it differs item by item and between compiled programs (XLA's CPU kernels round some rows
of a product differently from others): `loop.run` and `loop.rollout` showed different slates.
So the ties are broken explicitly and at random: mean and std get offsets r_{u,i} · δ, with r_u
a random permutation of 0..N−1 per user from the agent's key and δ = 2⁻¹⁸ ≈ 3.8·10⁻⁶ — several
ulps of a score below 8, far above the round-off of tied values, so every program orders ties
alike; the offsets stay below N · δ (0.00076 for N = 200). Unseen items (no observation since
their id (re)started) are scored by the prior itself, mean 0 and std v ‖z_{u,0}‖ / √λ,
computed once per user.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from agents import forgetting
from agents.exploration import Exploration, Scores
from agents.scoring import NO_EXPLORATION, ScoringAgent
from recsim.core.types import EnvSpec, Feedback, Observation
from recsim.core.validation import check_real

TIE_BREAK_STEP = 2.0**-18  # δ: spacing of the tie-break offsets (≈ 3.8e-6)
HIGHEST = jax.lax.Precision.HIGHEST  # no reduced-precision (TF32 / bf16) passes on GPU / TPU


@dataclasses.dataclass
class LinearConfig:
    """Config of `agent=linucb` (and, as `LinTSConfig`, of `agent=lints`: the same model)."""

    name: str = "linucb"
    ridge: float = 1.0  # λ > 0
    noise_scale: float = 0.5  # v: posterior std scale (≈ the click noise std)

    def validate(self, prefix: str = "agent") -> None:
        check_real(f"{prefix}.ridge", self.ridge, 0.0, low_open=True)
        check_real(f"{prefix}.noise_scale", self.noise_scale, 0.0)


@dataclasses.dataclass
class LinTSConfig(LinearConfig):
    """Config of `agent=lints`: the LinUCB model, named apart (its YAML picks `thompson`)."""

    name: str = "lints"


@struct.dataclass
class LinearParams:
    ridge: jax.Array
    noise_scale: jax.Array
    exploration: Any


@struct.dataclass
class LinearState:
    """A_i and b_i, each as a float32 sum `high + low` (compensated summation), and A_i⁻¹."""

    precision: jax.Array  # [N, d, d] A_i, rounded to float32
    precision_low: jax.Array  # [N, d, d] what that rounding lost
    covariance: jax.Array  # [N, d, d] A_i⁻¹
    target: jax.Array  # [N, d] b_i, rounded to float32
    target_low: jax.Array  # [N, d] what that rounding lost
    counts: jax.Array  # [N] int32 observations of item i since its id (re)started


def contexts(user_features: jax.Array, k: int) -> jax.Array:
    """z_{u,j} = [x_u ‖ e_j] for every user and position: [U, Fu] -> [U, k, Fu + k − 1]."""
    users = jnp.broadcast_to(
        user_features[:, None, :], (user_features.shape[0], k, user_features.shape[1])
    )
    positions = jnp.broadcast_to(jnp.eye(k)[:, 1:], (user_features.shape[0], k, k - 1))
    return jnp.concatenate([users, positions], axis=-1)


def two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """s = fl(a + b) and its rounding error e, so that a + b = s + e exactly (Knuth)."""
    s = a + b
    a_part = s - b
    b_part = s - a_part
    return s, (a - a_part) + (b - b_part)


def sherman_morrison(covariance: jax.Array, z: jax.Array) -> jax.Array:
    """(A + z zᵀ)⁻¹ from A⁻¹ [..., d, d] and z [..., d]."""
    az = jnp.einsum("...de,...e->...d", covariance, z, precision=HIGHEST)
    return covariance - az[..., :, None] * az[..., None, :] / (
        1.0 + jnp.sum(z * az, -1)[..., None, None]
    )


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b, precision=HIGHEST)


def newton_step(state: "LinearState") -> jax.Array:
    """One Newton–Schulz step X ← X (2I − A X), symmetrised: it squares the residual
    I − A X of the covariance X against the compensated A = high + low."""
    x = state.covariance
    x = 2.0 * x - matmul(x, matmul(state.precision + state.precision_low, x))
    return 0.5 * (x + jnp.swapaxes(x, -1, -2))


def ridge_posterior(state: "LinearState", z: jax.Array):
    """Posterior mean θ̂_iᵀ z_u and sqrt(z_uᵀ A_i⁻¹ z_u) of every item for every user.

    Args:
      state: A_i [N, d, d] and b_i [N, d] with their low parts, and A_i⁻¹ [N, d, d].
      z: [U, d] contexts.

    Returns:
      mean [U, N] and scale [U, N] (the std before the factor v).
    """

    def product(matrix, vector):
        return jnp.einsum("nde,ne->nd", matrix, vector, precision=HIGHEST)

    theta = product(state.covariance, state.target + state.target_low)
    # One step of iterative refinement, the residual b − Aθ̂ from the high and low parts.
    residual = (state.target - product(state.precision, theta)) + (
        state.target_low - product(state.precision_low, theta)
    )
    theta = theta + product(state.covariance, residual)
    mean = jnp.einsum("ud,nd->un", z, theta, precision=HIGHEST)
    variance = jnp.einsum("ud,nde,ue->un", z, state.covariance, z, precision=HIGHEST)
    return mean, jnp.sqrt(jnp.maximum(variance, 0.0))


def tie_break(key: jax.Array, n_users: int, n_items: int) -> jax.Array:
    """[U, N] offsets r_{u,i} · δ, r_u a random permutation of 0..N−1 for each user: a random
    permutation π of the items, rotated by a random shift s_u, r_{u,i} = (π_i + s_u) mod N
    (each pair of items is ordered either way with probability 1/2; no sort per user)."""
    permutation_key, shift_key = jax.random.split(key)
    ranks = jax.random.permutation(permutation_key, n_items)  # [N]
    shifts = jax.random.randint(shift_key, (n_users, 1), 0, n_items)  # [U, 1]
    return ((ranks[None, :] + shifts) % n_items).astype(jnp.float32) * TIE_BREAK_STEP


@dataclasses.dataclass(frozen=True)
class LinearAgent(ScoringAgent):
    """Per-item ridge regression on (user, position) contexts (see module docstring)."""

    spec: EnvSpec
    exploration: Exploration

    @property
    def dim(self) -> int:
        return self.spec.user_feature_dim + self.spec.slate_size - 1

    def init(self, key: jax.Array, params: LinearParams) -> LinearState:
        n, d = self.spec.n_items, self.dim
        return LinearState(
            precision=params.ridge * jnp.broadcast_to(jnp.eye(d), (n, d, d)),
            precision_low=jnp.zeros((n, d, d)),
            covariance=jnp.broadcast_to(jnp.eye(d), (n, d, d)) / params.ridge,
            target=jnp.zeros((n, d)),
            target_low=jnp.zeros((n, d)),
            counts=jnp.zeros((n,), jnp.int32),
        )

    def posterior(self, state: LinearState, obs: Observation, params: LinearParams):
        """mean [U, N] and std [U, N] of the score at the top position, before tie-breaking."""
        z = obs.user_features  # [U, d] at the top position: [x_u ‖ 0]
        z = jnp.concatenate([z, jnp.zeros((z.shape[0], self.spec.slate_size - 1))], axis=-1)
        mean, scale = ridge_posterior(state, z)
        prior_scale = jnp.sqrt(jnp.sum(z * z, axis=-1) / params.ridge)  # [U]
        unseen = state.counts == 0  # [N]
        mean = jnp.where(unseen, 0.0, mean)
        return mean, params.noise_scale * jnp.where(unseen, prior_scale[:, None], scale)

    def scores(self, key, state: LinearState, obs: Observation, params: LinearParams) -> Scores:
        """The posterior with the tie-break offsets added to mean and std, and one draw."""
        sample_key, tie_key = jax.random.split(key)
        mean, std = self.posterior(state, obs, params)
        offsets = tie_break(tie_key, *mean.shape)
        mean, std = mean + offsets, std + offsets
        sample = mean + std * jax.random.normal(sample_key, mean.shape)
        return Scores(mean=mean, std=std, sample=sample)

    def forget(self, state: LinearState, obs: Observation, params: LinearParams) -> LinearState:
        """Recycled ids (`agents.forgetting`) restart from the prior: A_i = λI, b_i = 0."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        prior = self.init(None, params)
        return jax.tree.map(lambda now, new: forgetting.reset_rows(now, fresh, new), state, prior)

    def act(self, key, state: LinearState, obs: Observation, params: LinearParams):
        scores_key, explore_key = jax.random.split(key)
        # Forgetting for this decision: an item with count 0 is scored by the prior alone.
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        state = state.replace(counts=forgetting.reset_rows(state.counts, fresh, 0))
        scores = self.scores(scores_key, state, obs, params)
        # The mean is a linear score, not bounded: the reported click probability is clipped.
        return self.choose(explore_key, scores, obs, params, jnp.clip(scores.mean, 0.0, 1.0))

    def update(
        self, key, state: LinearState, obs: Observation, slates, feedback: Feedback, params
    ) -> LinearState:
        state = self.forget(state, obs, params)
        z = contexts(obs.user_features, self.spec.slate_size)  # [U, k, d]
        clicks = feedback.clicks.astype(jnp.float32)

        def one_user(state, example):
            # The k items of one slate are distinct: each scatter writes each row once, so
            # the sums are added in the same order on every backend (no atomics).
            items, z_u, c_u = example  # [k], [k, d], [k]
            precision, precision_error = two_sum(
                state.precision[items], z_u[:, :, None] * z_u[:, None, :]
            )
            target, target_error = two_sum(state.target[items], c_u[:, None] * z_u)
            return LinearState(
                precision=state.precision.at[items].set(precision),
                precision_low=state.precision_low.at[items].add(precision_error),
                covariance=state.covariance.at[items].set(
                    sherman_morrison(state.covariance[items], z_u)
                ),
                target=state.target.at[items].set(target),
                target_low=state.target_low.at[items].add(target_error),
                counts=state.counts.at[items].add(1),
            ), None

        state, _ = jax.lax.scan(one_user, state, (slates, z, clicks))
        return state.replace(covariance=newton_step(state))


def make(config: LinearConfig, spec: EnvSpec):
    """The agent and its traced params for `spec`, exploring greedily until a strategy is
    composed in (`agents.with_exploration`)."""
    config.validate()
    strategy, strategy_params = NO_EXPLORATION
    agent = LinearAgent(spec=spec, exploration=strategy)
    params = LinearParams(
        ridge=jnp.asarray(config.ridge, jnp.float32),
        noise_scale=jnp.asarray(config.noise_scale, jnp.float32),
        exploration=strategy_params,
    )
    return agent, params
