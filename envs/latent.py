"""`latent`: users with hidden preferences over topic-clustered items (DESIGN.md §3).

The embedded default environment, needing no data, factored as jumanji factors its
environments: a generator (`envs.generator`: the hidden world, new items, new users), a
response model (`envs.response`, chosen by `click_model`: how a user clicks a slate) and
dynamics (`envs.dynamics`: drift, boredom, item churn, users who leave).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import struct

from envs import generator
from envs.dynamics import boredom, drift, item_churn, patience
from envs.latent_config import LatentConfig
from envs.response import REGISTRY as RESPONSE_MODELS
from envs.response.base import ResponseModel, gather
from recsim.core.precision import exact_world
from recsim.core.types import EnvSpec, Feedback, Observation, Truth


@struct.dataclass
class LatentParams:
    """Traced knobs of `latent` (see `LatentConfig` and the README for meanings)."""

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
    item_churn_rate: jax.Array
    patience: jax.Array
    patience_refill: jax.Array
    response: object  # the response model's own params


@struct.dataclass
class LatentState:
    """The hidden world. M = n_users, N = n_items, d = latent_dim, T = n_topics."""

    world: generator.WorldConstants
    user_vecs: jax.Array  # [M, d] unit hidden preferences u (drift moves them)
    user_groups: jax.Array  # [M] int32
    user_activity: jax.Array  # [M] log arrival weight
    user_noise: jax.Array  # [M, Fu'] fixed observation noise of each user
    boredom: jax.Array  # [M, T] recent exposure m of each user to each topic
    budget: jax.Array  # [M] patience budget B
    item_vecs: jax.Array  # [N, d] unit hidden item vectors v
    item_bias: jax.Array  # [N] quality bias b
    item_topics: jax.Array  # [N] int32
    item_features: jax.Array  # [N, T + Fi'] observable: topic one-hot ‖ noisy projection of v
    item_born: jax.Array  # [N] int32 step at which each id got its current item
    clock: jax.Array  # [] int32 steps simulated so far


@exact_world
@dataclasses.dataclass(frozen=True)
class LatentEnv:
    """Topic-clustered items, grouped users with hidden tastes; any response model.

    Attraction (the click probability of item i fully examined on its own by user u):
      a_{u,i} = σ(α ⟨u, v_i⟩ + b_i) · (1 − β)^{m_{u, t_i}}
    The response model turns the attractions of a slate into clicks; the world and the
    dynamics are in `envs.generator` and `envs.dynamics`.
    """

    spec: EnvSpec
    response: ResponseModel
    n_users: int
    n_topics: int
    latent_dim: int
    observed_user_dim: int
    observed_item_dim: int
    item_churn_every: int

    def init(self, key: jax.Array, params: LatentParams) -> LatentState:
        world_key, item_key, user_key = jax.random.split(key, 3)
        world = generator.sample_world(
            world_key, params, self.n_topics, self.latent_dim, self.spec.n_groups,
            self.observed_item_dim, self.observed_user_dim,
        )  # fmt: skip
        items = generator.sample_items(item_key, world, self.spec.n_items, params)
        users = generator.sample_users(user_key, world, self.n_users, params)
        return LatentState(
            world=world,
            user_vecs=users.vecs,
            user_groups=users.groups,
            user_activity=users.activity,
            user_noise=users.noise,
            boredom=jnp.zeros((self.n_users, self.n_topics), jnp.float32),
            budget=jnp.broadcast_to(params.patience, (self.n_users,)).astype(jnp.float32),
            item_vecs=items.vecs,
            item_bias=items.bias,
            item_topics=items.topics,
            item_features=items.features,
            item_born=jnp.zeros((self.spec.n_items,), jnp.int32),
            clock=jnp.zeros((), jnp.int32),
        )

    def observe(self, key: jax.Array, state: LatentState, params: LatentParams) -> Observation:
        # Gumbel-top-k: U distinct users, sampled without replacement ∝ exp(activity).
        gumbel = jax.random.gumbel(key, (self.n_users,))
        _, user_ids = jax.lax.top_k(state.user_activity + gumbel, self.spec.users_per_step)
        groups = state.user_groups[user_ids]
        features = generator.user_features(
            state.world, state.user_vecs[user_ids], state.user_noise[user_ids], groups,
            self.spec.n_groups,
        )  # fmt: skip
        return Observation(
            user_ids=user_ids.astype(jnp.int32),
            user_features=features,
            user_groups=groups,
            item_features=state.item_features,
            item_age=state.clock - state.item_born,
        )

    def truth(self, state: LatentState, obs: Observation, params: LatentParams) -> Truth:
        attraction = self._catalogue_attraction(state, obs.user_ids, params)
        best_slates, best_value = self.response.best(
            attraction, self.spec.slate_size, params.response
        )
        return Truth(attraction=attraction, best_slates=best_slates, best_value=best_value)

    def expected_clicks(self, truth: Truth, slates: jax.Array, params: LatentParams):
        """Expected clicks of every slot of `slates` [U, k] under the response model: [U, k]."""
        return self.response.click_probs(gather(truth.attraction, slates), params.response)

    def population_attraction(self, state: LatentState, params: LatentParams) -> jax.Array:
        """Attraction of every item averaged over the whole population, each user weighted by
        its arrival weight exp(σ_a α_u) (so by how often it is shown a slate): [N].

        Computed over blocks of `POPULATION_BLOCK` items, so it holds M × block attractions at
        a time, not M × N (at N = 10⁶ and M = 2,000 that is 8 GB, twice: the run's peak)."""
        weights = jax.nn.softmax(state.user_activity)  # [M]
        n_items = self.spec.n_items
        block = min(POPULATION_BLOCK, n_items)
        pad = (-n_items) % block

        def blocks(x):  # [N, ...] -> [N / block, block, ...], zero-padded
            return jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(-1, block, *x.shape[1:])

        def one_block(items):  # [M, block] attractions, weighted
            return weights @ _table(state.user_vecs, state.boredom, *items, params)

        items = (blocks(state.item_vecs), blocks(state.item_bias), blocks(state.item_topics))
        return jax.lax.map(one_block, items).reshape(-1)[:n_items]

    def user_homogeneity(self, state: LatentState, params: LatentParams) -> jax.Array:
        """Mean pairwise cosine similarity of the M unit hidden vectors u_m, over pairs m ≠ m':
        `(‖Σ_m u_m‖² − M) / (M (M − 1))` (Σ_{m≠m'} u_mᵀu_m' = ‖Σ u‖² − Σ ‖u_m‖²): []."""
        m = self.n_users
        total = jnp.sum(state.user_vecs, axis=0)
        pairs = float(m * max(m - 1, 1))  # a Python float: as an int32 it overflows at M > 46,341
        return (jnp.sum(total**2) - m) / pairs

    def _catalogue_attraction(self, state: LatentState, user_ids, params) -> jax.Array:
        return _table(state.user_vecs[user_ids], state.boredom[user_ids], state.item_vecs,
                      state.item_bias, state.item_topics, params)  # fmt: skip

    def step(
        self,
        key: jax.Array,
        state: LatentState,
        obs: Observation,
        slates: jax.Array,  # [U, k]
        params: LatentParams,
    ) -> tuple[LatentState, Feedback]:
        click_key, churn_key, item_key, user_key = jax.random.split(key, 4)
        ids = obs.user_ids
        users = state.user_vecs[ids]  # [U, d]
        shown = state.item_vecs[slates]  # [U, k, d]
        topics = state.item_topics[slates]  # [U, k]
        exposure = state.boredom[ids]  # [U, T]
        attraction = _attraction(
            jnp.einsum("ud,ukd->uk", users, shown),
            state.item_bias[slates],
            jnp.take_along_axis(exposure, topics, axis=1),
            params,
        )
        clicks = self.response.sample(click_key, attraction, params.response)

        users = drift.drift(users, shown, clicks, params.drift_rate)
        exposure = boredom.update(exposure, topics, self.n_topics, params.boredom_decay)
        budget, left = patience.spend(
            state.budget[ids], clicks, params.patience, params.patience_refill
        )
        state = self._replace_users(user_key, state, ids, users, exposure, budget, left, params)
        churn = functools.partial(self._churn_items, churn_key, item_key, params=params)
        if obs.step is None:
            state = churn(state)
        else:  # the loop's step is the clock, unbatched: a real branch under vmap, so the
            # N fresh items are drawn only when due (the same draws: the keys are per step)
            due = item_churn.is_due(obs.step, self.item_churn_every)
            state = jax.lax.cond(due, churn, lambda s: s, state)
        return state.replace(clock=state.clock + 1), Feedback(clicks=clicks, left=left)

    def _replace_users(self, key, state, ids, users, exposure, budget, left, params):
        """Writes the visitors' new state; the users who left get fresh users in their slots.

        The arrival weight belongs to the slot, not the user, so the arrivals stay the same for
        every agent (common random numbers) however many users leave. Arriving users are
        distinct, so these scatters have no conflicting writes."""
        fresh = generator.sample_users(key, state.world, ids.shape[0], params)
        keep = lambda old, new: jnp.where(  # noqa: E731
            left.reshape(left.shape + (1,) * (old.ndim - 1)), new, old
        )
        return state.replace(
            user_vecs=state.user_vecs.at[ids].set(keep(users, fresh.vecs)),
            user_groups=state.user_groups.at[ids].set(keep(state.user_groups[ids], fresh.groups)),
            user_noise=state.user_noise.at[ids].set(keep(state.user_noise[ids], fresh.noise)),
            boredom=state.boredom.at[ids].set(keep(exposure, jnp.zeros_like(exposure))),
            budget=state.budget.at[ids].set(
                keep(budget, jnp.broadcast_to(params.patience, budget.shape))
            ),
        )

    def _churn_items(self, churn_key, item_key, state: LatentState, params) -> LatentState:
        """Retires a share of the catalogue on schedule; fresh items take the ids."""
        due = item_churn.is_due(state.clock, self.item_churn_every)
        retire = item_churn.retiring(churn_key, self.spec.n_items, params.item_churn_rate, due)
        fresh = generator.sample_items(item_key, state.world, self.spec.n_items, params)
        pick = lambda old, new: jnp.where(  # noqa: E731
            retire.reshape(retire.shape + (1,) * (old.ndim - 1)), new, old
        )
        return state.replace(
            item_vecs=pick(state.item_vecs, fresh.vecs),
            item_bias=pick(state.item_bias, fresh.bias),
            item_topics=pick(state.item_topics, fresh.topics),
            item_features=pick(state.item_features, fresh.features),
            item_born=jnp.where(retire, state.clock + 1, state.item_born),
        )


POPULATION_BLOCK = 4096
"""Items per block of `population_attraction`."""


def _table(user_vecs, boredom, item_vecs, item_bias, item_topics, params) -> jax.Array:
    """Attraction of every listed item for every listed user: [U, d], [U, T] x [N, d], [N],
    [N] -> [U, N]."""
    exposure = boredom[:, item_topics]  # [U, N]
    return _attraction(user_vecs @ item_vecs.T, item_bias, exposure, params)


def _attraction(affinity, bias, exposure, params: LatentParams) -> jax.Array:
    """`σ(α ⟨u, v_i⟩ + b_i) · (1 − β)^{m_{u,t_i}}` from ⟨u, v_i⟩, b_i and m_{u,t_i} (broadcast)."""
    fatigue = boredom.fatigue(exposure, params.boredom_penalty)
    return jax.nn.sigmoid(params.click_scale * affinity + bias) * fatigue


TRACED = (
    "click_scale", "bias_mean", "bias_scale", "bias_tail", "topic_spread", "group_taste_scale",
    "user_taste_scale", "user_spread", "activity_skew", "item_feature_noise",
    "user_feature_noise", "drift_rate", "boredom_penalty", "boredom_decay", "item_churn_rate",
    "patience", "patience_refill", "group_shares",
)  # fmt: skip


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
        n_users=config.n_users,
        item_change_every=config.item_churn_every,  # (the rate is traced: maybe 0)
    )
    response, response_params = RESPONSE_MODELS[config.click_model].make(config, spec)
    env = LatentEnv(
        spec=spec,
        response=response,
        n_users=config.n_users,
        n_topics=config.n_topics,
        latent_dim=config.latent_dim,
        observed_user_dim=config.user_feature_dim,
        observed_item_dim=config.item_feature_dim,
        item_churn_every=config.item_churn_every,
    )
    traced = {name: jnp.asarray(getattr(config, name), jnp.float32) for name in TRACED}
    return env, LatentParams(**traced, response=response_params)
