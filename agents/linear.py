"""`linucb` / `lints`: disjoint linear bandits with a closed-form ridge posterior per item.

LinUCB (Li et al., 2010, "A contextual-bandit approach to personalized news article
recommendation", disjoint model) and linear Thompson sampling (Agrawal & Goyal, 2013) on the
same observable features as the neural agent. Item i has its own ridge regression of clicks
on the context z_{u,j} = [x_u ‖ onehot(j)] (user features and the position, so position bias
is fitted, not confused with relevance; d = Fu + k):

    A_i = λ I + Σ z zᵀ,   b_i = Σ c z,   θ̂_i = A_i⁻¹ b_i
    mean_{u,i} = θ̂_iᵀ z_{u,0},    std_{u,i} = v · sqrt(z_{u,0}ᵀ A_i⁻¹ z_{u,0})

`Scores.sample` is one draw mean + std · ε, ε ~ N(0, 1) per user and item — exactly the
posterior of the score θ_iᵀ z_{u,0} under θ_i ~ N(θ̂_i, v² A_i⁻¹) (items are independent).
`linucb` explores with `ucb` (mean + β std) and `lints` with `thompson` by default; any
strategy can be combined.

A_i⁻¹ is maintained by Sherman–Morrison rank-one updates, one per shown slot,
    A⁻¹ ← A⁻¹ − (A⁻¹z)(A⁻¹z)ᵀ / (1 + zᵀA⁻¹z),
applied user by user (the k items of one slate are distinct, so each update writes distinct
items) and symmetrised; every `refresh_every` steps it is recomputed from A by Cholesky
to stop float32 round-off from accumulating.
"""

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct

from agents import forgetting
from agents.exploration import Exploration, Scores
from recsim.types import ActInfo, EnvSpec, Feedback, Observation
from recsim.validation import check_int, check_real


@dataclasses.dataclass
class LinearConfig:
    """Config of `agent=linucb` and `agent=lints` (the same model)."""

    name: str = "linucb"
    ridge: float = 1.0  # λ > 0
    noise_scale: float = 0.5  # v: posterior std scale (≈ the click noise std)
    refresh_every: int = 500  # steps between exact recomputations of A⁻¹

    def validate(self, prefix: str = "agent") -> None:
        check_real(f"{prefix}.ridge", self.ridge, 0.0, low_open=True)
        check_real(f"{prefix}.noise_scale", self.noise_scale, 0.0)
        check_int(f"{prefix}.refresh_every", self.refresh_every, 1)


@struct.dataclass
class LinearParams:
    ridge: jax.Array
    noise_scale: jax.Array
    exploration: Any


@struct.dataclass
class LinearState:
    precision: jax.Array  # [N, d, d] A_i
    covariance: jax.Array  # [N, d, d] A_i⁻¹
    target: jax.Array  # [N, d] b_i


def contexts(user_features: jax.Array, k: int) -> jax.Array:
    """z_{u,j} = [x_u ‖ onehot(j)] for every user and position: [U, Fu] -> [U, k, Fu + k]."""
    users = jnp.broadcast_to(
        user_features[:, None, :], (user_features.shape[0], k, user_features.shape[1])
    )
    positions = jnp.broadcast_to(jnp.eye(k), (user_features.shape[0], k, k))
    return jnp.concatenate([users, positions], axis=-1)


def sherman_morrison(covariance: jax.Array, z: jax.Array) -> jax.Array:
    """(A + z zᵀ)⁻¹ from A⁻¹ [..., d, d] and z [..., d], symmetrised."""
    az = jnp.einsum("...de,...e->...d", covariance, z)
    updated = (
        covariance
        - az[..., :, None] * az[..., None, :] / (1.0 + jnp.sum(z * az, -1))[..., None, None]
    )
    return 0.5 * (updated + jnp.swapaxes(updated, -1, -2))


def inverse_spd(precision: jax.Array) -> jax.Array:
    """Inverse of symmetric positive-definite matrices [..., d, d] by Cholesky."""
    eye = jnp.eye(precision.shape[-1], dtype=precision.dtype)
    solve = lambda a: jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(a), True), eye)  # noqa: E731
    flat = precision.reshape(-1, *precision.shape[-2:])
    return jax.vmap(solve)(flat).reshape(precision.shape)


@dataclasses.dataclass(frozen=True)
class LinearAgent:
    """Per-item ridge regression on (user, position) contexts (see module docstring)."""

    spec: EnvSpec
    exploration: Exploration
    refresh_every: int
    uses_truth: ClassVar[bool] = False
    predicts_clicks: ClassVar[bool] = True

    @property
    def dim(self) -> int:
        return self.spec.user_feature_dim + self.spec.slate_size

    def init(self, key: jax.Array, params: LinearParams) -> LinearState:
        n, d = self.spec.n_items, self.dim
        eye = jnp.broadcast_to(jnp.eye(d), (n, d, d))
        return LinearState(
            precision=params.ridge * eye,
            covariance=eye / params.ridge,
            target=jnp.zeros((n, d)),
        )

    def scores(self, key, state: LinearState, obs: Observation, params: LinearParams) -> Scores:
        z = contexts(obs.user_features, self.spec.slate_size)[:, 0, :]  # [U, d] top position
        theta = jnp.einsum("nde,ne->nd", state.covariance, state.target)  # [N, d]
        mean = z @ theta.T  # [U, N]
        variance = jnp.einsum("ud,nde,ue->un", z, state.covariance, z)
        std = params.noise_scale * jnp.sqrt(jnp.maximum(variance, 0.0))
        sample = mean + std * jax.random.normal(key, mean.shape)
        return Scores(mean=mean, std=std, sample=sample)

    def forget(self, state: LinearState, obs: Observation, params: LinearParams) -> LinearState:
        """Recycled ids (`agents.forgetting`) restart from the prior: A_i = λI, b_i = 0."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        eye = jnp.eye(self.dim)
        return LinearState(
            precision=forgetting.reset_rows(state.precision, fresh, params.ridge * eye),
            covariance=forgetting.reset_rows(state.covariance, fresh, eye / params.ridge),
            target=forgetting.reset_rows(state.target, fresh, 0.0),
        )

    def act(self, key, state: LinearState, obs: Observation, params: LinearParams):
        sample_key, explore_key = jax.random.split(key)
        scores = self.scores(sample_key, self.forget(state, obs, params), obs, params)
        slates, explored = self.exploration.select(
            explore_key, scores, obs.item_features, self.spec.slate_size,
            params.exploration, obs.step,
        )  # fmt: skip
        info = ActInfo(scores=jnp.clip(scores.mean, 0.0, 1.0), uncertainty=scores.std,
                       explored=explored)  # fmt: skip
        return slates, info

    def update(
        self, key, state: LinearState, obs: Observation, slates, feedback: Feedback, params
    ) -> LinearState:
        state = self.forget(state, obs, params)
        z = contexts(obs.user_features, self.spec.slate_size)  # [U, k, d]
        clicks = feedback.clicks.astype(jnp.float32)

        def one_user(state, example):
            items, z_u, c_u = example  # [k], [k, d], [k]: k distinct items
            return LinearState(
                precision=state.precision.at[items].add(z_u[:, :, None] * z_u[:, None, :]),
                covariance=state.covariance.at[items].set(
                    sherman_morrison(state.covariance[items], z_u)
                ),
                target=state.target.at[items].add(c_u[:, None] * z_u),
            ), None

        state, _ = jax.lax.scan(one_user, state, (slates, z, clicks))
        return jax.lax.cond(
            (obs.step + 1) % self.refresh_every == 0,
            lambda s: s.replace(covariance=inverse_spd(s.precision)),
            lambda s: s,
            state,
        )


def make(config: LinearConfig, spec: EnvSpec, exploration: tuple[Exploration, Any]):
    """The agent and its traced params, for `spec` and the (strategy, strategy params)."""
    config.validate()
    strategy, strategy_params = exploration
    agent = LinearAgent(spec=spec, exploration=strategy, refresh_every=config.refresh_every)
    params = LinearParams(
        ridge=jnp.asarray(config.ridge, jnp.float32),
        noise_scale=jnp.asarray(config.noise_scale, jnp.float32),
        exploration=strategy_params,
    )
    return agent, params
