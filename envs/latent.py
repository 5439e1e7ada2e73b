"""`latent`: users with hidden, drifting preferences over topic-clustered items (DESIGN.md §3).

The embedded default environment, needing no data. Generator, response model and dynamics
follow the factoring of jumanji's environments; the click model is the position-based model
of Craswell et al. (2008), "An experimental comparison of click position-bias models".
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from recsim.types import EnvSpec, Feedback, Observation, Truth
from recsim.validation import ConfigError, check_int, check_real


@dataclasses.dataclass
class LatentConfig:
    """Config of `env=latent` (the Hydra schema). Ints fix shapes; floats are traced knobs."""

    name: str = "latent"
    n_items: int = 200
    n_users: int = 2000
    n_topics: int = 10
    latent_dim: int = 16
    item_feature_dim: int = 16
    user_feature_dim: int = 16
    slate_size: int = 5
    users_per_step: int = 32
    group_shares: list[float] = dataclasses.field(default_factory=lambda: [0.7, 0.3])
    click_scale: float = 4.0
    bias_mean: float = -2.0
    bias_scale: float = 0.5
    bias_tail: float = 3.0
    topic_spread: float = 0.5
    group_taste_scale: float = 2.0
    user_taste_scale: float = 1.0
    user_spread: float = 0.5
    activity_skew: float = 1.0
    item_feature_noise: float = 0.5
    user_feature_noise: float = 0.5
    drift_rate: float = 0.02
    boredom_penalty: float = 0.1
    boredom_decay: float = 0.5

    def validate(self, prefix: str = "env") -> None:
        """Raises `ConfigError` naming the first out-of-range or inconsistent key."""
        key = lambda name: f"{prefix}.{name}"  # noqa: E731
        check_int(key("n_items"), self.n_items, 2)
        check_int(key("n_users"), self.n_users, 1)
        for name in ("n_topics", "latent_dim", "item_feature_dim", "user_feature_dim"):
            check_int(key(name), getattr(self, name), 1)
        check_int(key("slate_size"), self.slate_size, 1, self.n_items, key("n_items"))
        check_int(key("users_per_step"), self.users_per_step, 1, self.n_users, key("n_users"))
        shares = list(self.group_shares)
        if not shares:
            raise ConfigError(f"{key('group_shares')}=[] must list at least one group share")
        for i, share in enumerate(shares):
            check_real(f"{key('group_shares')}[{i}]", share, 0.0, 1.0, low_open=True)
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ConfigError(
                f"{key('group_shares')}={shares} must sum to 1 (sums to {sum(shares)})"
            )
        for name in ("click_scale", "bias_scale", "topic_spread", "group_taste_scale",
                     "user_taste_scale", "user_spread", "activity_skew",
                     "item_feature_noise", "user_feature_noise"):  # fmt: skip
            check_real(key(name), getattr(self, name), 0.0)
        check_real(key("bias_mean"), self.bias_mean)
        check_real(key("bias_tail"), self.bias_tail, 0.0, low_open=True)
        check_real(key("drift_rate"), self.drift_rate, 0.0, 1.0)
        check_real(key("boredom_penalty"), self.boredom_penalty, 0.0, 1.0, high_open=True)
        check_real(key("boredom_decay"), self.boredom_decay, 0.0, 1.0)


@struct.dataclass
class LatentParams:
    """Traced knobs of `latent` (see `LatentConfig` and the class docstring for meanings)."""

    group_shares: jax.Array  # [G]
    click_scale: jax.Array
    bias_mean: jax.Array
    bias_scale: jax.Array
    bias_tail: jax.Array
    topic_spread: jax.Array
    group_taste_scale: jax.Array
    user_taste_scale: jax.Array
    user_spread: jax.Array
    activity_skew: jax.Array
    item_feature_noise: jax.Array
    user_feature_noise: jax.Array
    drift_rate: jax.Array
    boredom_penalty: jax.Array
    boredom_decay: jax.Array


@struct.dataclass
class LatentState:
    """The hidden world. M = n_users, N = n_items, d = latent_dim, T = n_topics."""

    user_vecs: jax.Array  # [M, d] unit hidden preferences u (drift moves them)
    user_groups: jax.Array  # [M] int32
    user_activity: jax.Array  # [M] log arrival weight
    user_proj: jax.Array  # [Fu', d] projection of u into the observable features
    user_noise: jax.Array  # [M, Fu'] fixed observation noise of each user
    boredom: jax.Array  # [M, T] recent exposure m of each user to each topic
    item_vecs: jax.Array  # [N, d] unit hidden item vectors v
    item_bias: jax.Array  # [N] quality bias b
    item_topics: jax.Array  # [N] int32
    item_features: jax.Array  # [N, T + Fi'] observable: topic one-hot ‖ noisy projection of v


def _normalize(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _attraction(affinity, bias, boredom, params: LatentParams) -> jax.Array:
    """`σ(α ⟨u, v_i⟩ + b_i) · (1 − β)^{m_{u,t_i}}` from ⟨u, v_i⟩, b_i and m_{u,t_i} (broadcast)."""
    fatigue = jnp.exp(boredom * jnp.log1p(-params.boredom_penalty))
    return jax.nn.sigmoid(params.click_scale * affinity + bias) * fatigue


def examination(slate_size: int) -> jax.Array:
    """Position-based examination `κ_j = 1 / log2(j + 2)`, j = 0..k-1. Shape [k]."""
    return 1.0 / jnp.log2(jnp.arange(slate_size, dtype=jnp.float32) + 2.0)


@dataclasses.dataclass(frozen=True)
class LatentEnv:
    """Topic-clustered items, grouped users with hidden drifting tastes, position-based clicks.

    World (sampled once per seed; c_t unit topic centres, t = 1..T):
      v_i = normalize(c_{t_i} + σ_v ξ_i / √d),          t_i ~ Uniform(T)
      b_i = μ_b + s_b (P_i − 1),                         P_i ~ Pareto(shape a)  (heavy tail)
      w_u = softmax(γ_g z_{g(u)} + γ_u ζ_u),             g(u) ~ Categorical(group_shares)
      u   = normalize(Σ_t w_{u,t} c_t + σ_u ξ_u / √d)
    with z, ζ, ξ standard normal. Arrivals: `users_per_step` distinct users per step, drawn
    without replacement with weights exp(σ_a a_u), a_u ~ N(0, 1) (σ_a = 0: uniform).
    Observable: user features `A_u u + σ_y ε_u ‖ onehot(g(u))`; item features
    `onehot(t_i) ‖ A_v v_i + σ_x ε_i` (A random Gaussian projections, ε fixed per user/item).

    Clicks (position-based): user u clicks the item i at position j with probability
      P(click) = κ_j · σ(α ⟨u, v_i⟩ + b_i) · (1 − β)^{m_{u, t_i}},   κ_j = 1 / log2(j + 2).
    Dynamics after each visit:
      drift    u ← normalize(u + η (v̄ − u)),   v̄ the mean hidden vector of the clicked items
               (unchanged without a click);
      boredom  m_u ← ρ m_u + n_u / k,   n_{u,t} the number of topic-t items in the slate.
    """

    spec: EnvSpec
    n_users: int
    n_topics: int
    latent_dim: int
    observed_user_dim: int
    observed_item_dim: int

    def init(self, key: jax.Array, params: LatentParams) -> LatentState:
        n_items, n_users, d, T = self.spec.n_items, self.n_users, self.latent_dim, self.n_topics
        n_groups = self.spec.n_groups
        k = jax.random.split(key, 12)
        centres = _normalize(jax.random.normal(k[0], (T, d)))
        item_topics = jax.random.randint(k[1], (n_items,), 0, T)
        item_vecs = _normalize(
            centres[item_topics]
            + params.topic_spread * jax.random.normal(k[2], (n_items, d)) / jnp.sqrt(d)
        )
        pareto = jax.random.pareto(k[3], params.bias_tail, (n_items,))
        item_bias = params.bias_mean + params.bias_scale * (pareto - 1.0)
        group_taste = params.group_taste_scale * jax.random.normal(k[4], (n_groups, T))
        user_groups = jax.random.categorical(k[5], jnp.log(params.group_shares), shape=(n_users,))
        user_taste = group_taste[user_groups] + params.user_taste_scale * jax.random.normal(
            k[6], (n_users, T)
        )
        user_vecs = _normalize(
            jax.nn.softmax(user_taste) @ centres
            + params.user_spread * jax.random.normal(k[7], (n_users, d)) / jnp.sqrt(d)
        )
        item_proj = jax.random.normal(k[8], (self.observed_item_dim, d))
        item_noise = jax.random.normal(k[9], (n_items, self.observed_item_dim))
        item_features = jnp.concatenate(
            [
                jax.nn.one_hot(item_topics, T),
                item_vecs @ item_proj.T + params.item_feature_noise * item_noise,
            ],
            axis=1,
        )
        return LatentState(
            user_vecs=user_vecs,
            user_groups=user_groups.astype(jnp.int32),
            user_activity=params.activity_skew * jax.random.normal(k[10], (n_users,)),
            user_proj=jax.random.normal(k[11], (self.observed_user_dim, d)),
            user_noise=params.user_feature_noise
            * jax.random.normal(jax.random.fold_in(key, 12), (n_users, self.observed_user_dim)),
            boredom=jnp.zeros((n_users, T), jnp.float32),
            item_vecs=item_vecs,
            item_bias=item_bias,
            item_topics=item_topics.astype(jnp.int32),
            item_features=item_features,
        )

    def observe(self, key: jax.Array, state: LatentState, params: LatentParams) -> Observation:
        # Gumbel-top-k: U distinct users, sampled without replacement ∝ exp(activity).
        gumbel = jax.random.gumbel(key, (self.n_users,))
        _, user_ids = jax.lax.top_k(state.user_activity + gumbel, self.spec.users_per_step)
        groups = state.user_groups[user_ids]
        user_features = jnp.concatenate(
            [
                state.user_vecs[user_ids] @ state.user_proj.T + state.user_noise[user_ids],
                jax.nn.one_hot(groups, self.spec.n_groups),
            ],
            axis=1,
        )
        return Observation(
            user_ids=user_ids.astype(jnp.int32),
            user_features=user_features,
            user_groups=groups,
            item_features=state.item_features,
        )

    def truth(self, state: LatentState, obs: Observation, params: LatentParams) -> Truth:
        users = state.user_vecs[obs.user_ids]  # [U, d]
        boredom = state.boredom[obs.user_ids][:, state.item_topics]  # [U, N]
        attraction = _attraction(users @ state.item_vecs.T, state.item_bias, boredom, params)
        return Truth(attraction=attraction, examination=examination(self.spec.slate_size))

    def step(
        self,
        key: jax.Array,
        state: LatentState,
        obs: Observation,
        slates: jax.Array,  # [U, k]
        params: LatentParams,
    ) -> tuple[LatentState, Feedback]:
        ids, k = obs.user_ids, self.spec.slate_size
        users = state.user_vecs[ids]  # [U, d]
        shown = state.item_vecs[slates]  # [U, k, d]
        topics = state.item_topics[slates]  # [U, k]
        boredom = state.boredom[ids]  # [U, T]
        attraction = _attraction(
            jnp.einsum("ud,ukd->uk", users, shown),
            state.item_bias[slates],
            jnp.take_along_axis(boredom, topics, axis=1),
            params,
        )
        prob = examination(k) * attraction  # [U, k]
        clicks = (jax.random.uniform(key, prob.shape) < prob).astype(jnp.int32)

        n_clicks = jnp.sum(clicks, axis=1, keepdims=True)  # [U, 1]
        clicked_mean = jnp.einsum("uk,ukd->ud", clicks, shown) / jnp.maximum(n_clicks, 1)
        drifted = _normalize(users + params.drift_rate * (clicked_mean - users))
        users = jnp.where(n_clicks > 0, drifted, users)
        topic_share = jnp.sum(jax.nn.one_hot(topics, self.n_topics), axis=1) / k  # [U, T]
        boredom = params.boredom_decay * boredom + topic_share
        # Arriving users are distinct, so these scatters have no conflicting writes.
        state = state.replace(
            user_vecs=state.user_vecs.at[ids].set(users),
            boredom=state.boredom.at[ids].set(boredom),
        )
        return state, Feedback(clicks=clicks)


def make(config: LatentConfig) -> tuple[LatentEnv, LatentParams]:
    """Validated static env and its traced params from a config."""
    config.validate()
    n_groups = len(config.group_shares)
    spec = EnvSpec(
        n_items=config.n_items,
        slate_size=config.slate_size,
        users_per_step=config.users_per_step,
        user_feature_dim=config.user_feature_dim + n_groups,
        item_feature_dim=config.n_topics + config.item_feature_dim,
        n_groups=n_groups,
    )
    env = LatentEnv(
        spec=spec,
        n_users=config.n_users,
        n_topics=config.n_topics,
        latent_dim=config.latent_dim,
        observed_user_dim=config.user_feature_dim,
        observed_item_dim=config.item_feature_dim,
    )
    traced = {f.name: jnp.asarray(getattr(config, f.name), jnp.float32)
              for f in dataclasses.fields(LatentParams)}  # fmt: skip
    return env, LatentParams(**traced)
