"""Table worlds: hidden preferences read off real data (`env=movielens`, `env=kuairec`).

The data-derived arrays (`TableData`, M₀ real users × N₀ real items) are world data: held
once per run in `recsim.core.shared.SharedData` and read unbatched by every simulation. Each
simulation's own state is small: which real user sits in each population slot, the slots'
drifted profiles, boredom, patience, which real item sits in each catalogue slot, the ring of
held-out items, and its seed's feature projections and noise.

Hidden score x of real user r (in slot m) for real item j:
  factor worlds (movielens):  x = μ + b_r + b_j + ⟨p_m, q_j⟩    (p_m starts at p_r; drift moves it)
  tabular worlds (kuairec):   x = X_{r,j}                       (an observed table)
Attraction (the click probability of the item fully examined alone), calibrated:
  a = σ(α (x − c)) · (1 − β)^{e_{m, t_j}}
with α = `click_slope`, c = `click_centre`, t_j the item's topic and e the boredom exposure
(`envs.dynamics.boredom`). Any response model (`envs.response`) turns a slate's attractions
into clicks.

Observable features (fixed per seed: projections A and standard-normal noise ε):
  user m: D_r ‖ A_u p̃_m + σ_y ε_m,   item j: G_j ‖ A_i q̃_j + σ_x ε_j
with D, G the data's own descriptors (demographics; genres, year, categories), p̃ and q̃ the
profiles (the factors, or for a tabular world an SVD of its table) divided by their RMS row
norm, and A with N(0, 1/rank) entries, so each projected coordinate has unit spread on
average and σ is the noise in units of the signal.

Arrivals: U distinct slots per step, sampled without replacement ∝ the slot's real user's
activity (number of ratings / interactions in the data). Catalogue: slot n starts with the
n-th item in release order; the items after the first N are held out. A churn
(`envs.dynamics.item_churn`) swaps the retiring items with the next held-out ones on a ring:
fresh items are items never shown in this run until the ring has gone round. A user who
leaves (`envs.dynamics.patience`) is replaced in the slot by a real user drawn uniformly.
"""

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.dynamics import boredom, drift, item_churn, patience
from envs.response.base import ResponseModel, gather
from recsim.core.precision import exact_world
from recsim.core.shared import SharedData
from recsim.core.types import EnvSpec, Feedback, Observation, Truth


class TableData(NamedTuple):
    """What a table world reads from its data: M₀ users, N₀ items, r profile rank."""

    user_bias: np.ndarray  # [M₀] μ + b_r (0 for a tabular world)
    item_bias: np.ndarray  # [N₀] b_j (0 for a tabular world)
    user_profile: np.ndarray  # [M₀, r] p_r (the factors, or the table's SVD profile)
    item_profile: np.ndarray  # [N₀, r] q_j
    table: np.ndarray  # [M₀, N₀] X (a tabular world) or [0, 0]
    user_descriptors: np.ndarray  # [M₀, Du] D_r
    item_descriptors: np.ndarray  # [N₀, Di] G_j
    user_group: np.ndarray  # [M₀] int32 group of each user (for the fairness metrics)
    item_topic: np.ndarray  # [N₀] int32 topic t_j (for boredom)
    activity: np.ndarray  # [M₀] log arrival weight: log(1 + the user's count in the data)
    release_order: np.ndarray  # [N₀] int32 item indices, oldest first


@struct.dataclass
class TableParams:
    data: SharedData  # TableData as device arrays, held once per run
    user_scale: jax.Array  # [] RMS of ‖p_r‖ over the data's users (p̃ = p / it)
    item_scale: jax.Array  # [] RMS of ‖q_j‖ over the data's items
    click_slope: jax.Array
    click_centre: jax.Array
    user_feature_noise: jax.Array
    item_feature_noise: jax.Array
    drift_rate: jax.Array
    boredom_penalty: jax.Array
    boredom_decay: jax.Array
    item_churn_rate: jax.Array
    patience: jax.Array
    patience_refill: jax.Array
    response: object


@struct.dataclass
class TableState:
    """One simulation's state. M slots (= M₀), N catalogue slots, P = N₀ − N held out."""

    user_row: jax.Array  # [M] int32 real user in each slot
    user_profile: jax.Array  # [M, r] p_m (drift moves it)
    user_noise: jax.Array  # [M, Fu'] ε_m
    boredom: jax.Array  # [M, T]
    budget: jax.Array  # [M]
    catalogue: jax.Array  # [N] int32 real item in each catalogue slot
    held_out: jax.Array  # [P] int32 ring of the items out of the catalogue
    head: jax.Array  # [] int32 where the ring's next fresh item is
    item_noise: jax.Array  # [N₀, Fi'] ε_j, per real item
    user_projection: jax.Array  # [Fu', r] A_u
    item_projection: jax.Array  # [Fi', r] A_i
    item_born: jax.Array  # [N] int32
    clock: jax.Array  # [] int32


@exact_world
@dataclasses.dataclass(frozen=True)
class TableEnv:
    """A world whose hidden preferences come from a data table (module docstring)."""

    spec: EnvSpec
    response: ResponseModel
    tabular: bool  # x from the table X rather than from the factors
    n_data_users: int  # M₀
    n_data_items: int  # N₀
    rank: int  # r
    n_topics: int
    observed_user_dim: int  # Fu'
    observed_item_dim: int  # Fi'
    item_churn_every: int

    def init(self, key: jax.Array, params: TableParams) -> TableState:
        data: TableData = params.data.arrays
        keys = jax.random.split(key, 4)
        order = data.release_order
        n = self.spec.n_items
        scale = 1.0 / jnp.sqrt(self.rank)
        return TableState(
            user_row=jnp.arange(self.n_data_users, dtype=jnp.int32),
            user_profile=data.user_profile,
            user_noise=jax.random.normal(keys[0], (self.n_data_users, self.observed_user_dim)),
            boredom=jnp.zeros((self.n_data_users, self.n_topics), jnp.float32),
            budget=jnp.broadcast_to(params.patience, (self.n_data_users,)).astype(jnp.float32),
            catalogue=order[:n],
            held_out=order[n:],
            head=jnp.zeros((), jnp.int32),
            item_noise=jax.random.normal(keys[1], (self.n_data_items, self.observed_item_dim)),
            user_projection=scale * jax.random.normal(keys[2], (self.observed_user_dim, self.rank)),
            item_projection=scale * jax.random.normal(keys[3], (self.observed_item_dim, self.rank)),
            item_born=jnp.zeros((n,), jnp.int32),
            clock=jnp.zeros((), jnp.int32),
        )

    def observe(self, key: jax.Array, state: TableState, params: TableParams) -> Observation:
        data: TableData = params.data.arrays
        gumbel = jax.random.gumbel(key, (self.n_data_users,))
        _, slots = jax.lax.top_k(data.activity + gumbel, self.spec.users_per_step)
        rows = state.user_row[slots]
        projected = (
            state.user_profile[slots] / params.user_scale @ state.user_projection.T
            + params.user_feature_noise * state.user_noise[slots]
        )
        return Observation(
            user_ids=slots.astype(jnp.int32),
            user_features=jnp.concatenate([data.user_descriptors[rows], projected], axis=1),
            user_groups=data.user_group[rows],
            item_features=self._item_features(state, params),
            item_age=state.clock - state.item_born,
        )

    def _item_features(self, state: TableState, params: TableParams) -> jax.Array:
        data = params.data.arrays
        items = state.catalogue
        projected = (
            data.item_profile[items] / params.item_scale @ state.item_projection.T
            + params.item_feature_noise * state.item_noise[items]
        )
        return jnp.concatenate([data.item_descriptors[items], projected], axis=1)

    def truth(self, state: TableState, obs: Observation, params: TableParams) -> Truth:
        attraction = self._attraction(state, obs.user_ids, state.catalogue[None, :], params)
        best_slates, best_value = self.response.best(
            attraction, self.spec.slate_size, params.response
        )
        return Truth(attraction=attraction, best_slates=best_slates, best_value=best_value)

    def expected_clicks(self, truth: Truth, slates: jax.Array, params: TableParams):
        return self.response.click_probs(gather(truth.attraction, slates), params.response)

    def _score(self, state: TableState, slots, items, params) -> jax.Array:
        """Hidden score x of the users in `slots` [U] for `items` [U or 1, K]: [U, K]."""
        data = params.data.arrays
        rows = state.user_row[slots]
        if self.tabular:
            table = data.table[rows]  # [U, N₀] the users' rows
            if items.shape[0] == 1:
                return table[:, items[0]]
            return jnp.take_along_axis(table, items, axis=1)
        profile = state.user_profile[slots]  # [U, r]
        if items.shape[0] == 1:  # one list for every user: a matrix product
            affinity = profile @ data.item_profile[items[0]].T
        else:
            affinity = jnp.einsum("ur,ukr->uk", profile, data.item_profile[items])
        return data.user_bias[rows][:, None] + data.item_bias[items] + affinity

    def _attraction(self, state: TableState, slots, items, params) -> jax.Array:
        """a = σ(α (x − c)) · (1 − β)^e for `slots` [U] and `items` [U or 1, K]: [U, K]."""
        x = self._score(state, slots, items, params)
        topics = params.data.arrays.item_topic[items]
        exposure = jnp.take_along_axis(state.boredom[slots], jnp.broadcast_to(
            topics, x.shape), axis=1)  # fmt: skip
        fatigue = boredom.fatigue(exposure, params.boredom_penalty)
        return jax.nn.sigmoid(params.click_slope * (x - params.click_centre)) * fatigue

    def population_attraction(self, state: TableState, params: TableParams) -> jax.Array:
        """Attraction of every catalogue item averaged over all slots, each weighted by its
        arrival weight: [N]. Summed over blocks of `USER_BLOCK` slots, so it holds
        block × N attractions at a time, not M × N (per simulation, under vmap)."""
        weights = jax.nn.softmax(params.data.arrays.activity)
        items = state.catalogue[None, :]

        def block(slots, valid):
            return jnp.where(valid, weights[slots], 0.0) @ self._attraction(
                state, slots, items, params
            )

        return self._sum_over_slots(block)

    def user_homogeneity(self, state: TableState, params: TableParams) -> jax.Array:
        """Mean pairwise cosine similarity, over slot pairs m ≠ m', of the users' hidden
        score rows over all the data's items, each centred on its own mean (so a user's
        overall generosity does not count, only which items the user prefers):
        `(‖Σ_m z_m‖² − M) / (M (M − 1))`, z_m = unit(x_{m,·} − mean_j x_{m,j}): []."""
        all_items = jnp.arange(self.n_data_items)[None, :]

        def block(slots, valid):  # Σ over the block's valid slots of z_m: [N₀]
            x = self._score(state, slots, all_items, params)
            z = drift.normalize(x - jnp.mean(x, axis=1, keepdims=True))
            return jnp.sum(jnp.where(valid[:, None], z, 0.0), axis=0)

        m = self.n_data_users
        return (jnp.sum(self._sum_over_slots(block) ** 2) - m) / float(m * max(m - 1, 1))

    def _sum_over_slots(self, block_fn) -> jax.Array:
        """Σ over blocks of `USER_BLOCK` slots of `block_fn(slots [B], valid [B])` (the last
        block padded with repeats of the last slot, marked invalid)."""
        m = self.n_data_users
        size = min(USER_BLOCK, m)
        padded = jnp.arange(-(-m // size) * size).reshape(-1, size)
        parts = jax.lax.map(lambda s: block_fn(jnp.minimum(s, m - 1), s < m), padded)
        return jnp.sum(parts, axis=0)

    def step(self, key, state: TableState, obs: Observation, slates, params: TableParams):
        click_key, churn_key, user_key = jax.random.split(key, 3)
        data = params.data.arrays
        slots = obs.user_ids
        items = state.catalogue[slates]  # [U, k] real items
        attraction = self._attraction(state, slots, items, params)
        clicks = self.response.sample(click_key, attraction, params.response)
        profile = state.user_profile[slots]
        if not self.tabular:
            shown = data.item_profile[items]
            profile = drift.drift(profile, shown, clicks, params.drift_rate, unit=False)
        exposure = boredom.update(
            state.boredom[slots], data.item_topic[items], self.n_topics, params.boredom_decay
        )
        budget, left = patience.spend(
            state.budget[slots], clicks, params.patience, params.patience_refill
        )
        state = self._replace_users(user_key, state, slots, profile, exposure, budget, left,
                                    params)  # fmt: skip
        if self.spec.n_items < self.n_data_items:  # else nothing is held out: no churn
            churn = functools.partial(self._churn_items, churn_key, params=params)
            due = item_churn.is_due(obs.step if obs.step is not None else state.clock,
                                    self.item_churn_every)  # fmt: skip
            state = jax.lax.cond(due, churn, lambda s: s, state)
        return state.replace(clock=state.clock + 1), Feedback(clicks=clicks, left=left)

    def _replace_users(self, key, state, slots, profile, exposure, budget, left, params):
        """The visitors' new state; a slot whose user left gets a real user drawn uniformly
        (own profile, fresh feature noise, no boredom, full budget)."""
        row_key, noise_key = jax.random.split(key)
        data = params.data.arrays
        fresh_rows = jax.random.randint(row_key, slots.shape, 0, self.n_data_users)
        fresh_noise = jax.random.normal(noise_key, (slots.shape[0], self.observed_user_dim))

        def keep(old, new):
            return jnp.where(left.reshape(left.shape + (1,) * (old.ndim - 1)), new, old)

        return state.replace(
            user_row=state.user_row.at[slots].set(keep(state.user_row[slots], fresh_rows)),
            user_profile=state.user_profile.at[slots].set(
                keep(profile, data.user_profile[fresh_rows])
            ),
            user_noise=state.user_noise.at[slots].set(keep(state.user_noise[slots], fresh_noise)),
            boredom=state.boredom.at[slots].set(keep(exposure, jnp.zeros_like(exposure))),
            budget=state.budget.at[slots].set(
                keep(budget, jnp.broadcast_to(params.patience, budget.shape))
            ),
        )

    def _churn_items(self, key, state: TableState, params) -> TableState:
        """The retiring slots (`item_churn.retiring`) swap items with the ring of held-out
        items: the c-th retiring slot takes ring[(head + c) mod P] and leaves its item there."""
        n, ring = self.spec.n_items, state.held_out.shape[0]
        retire = item_churn.retiring(key, n, params.item_churn_rate, jnp.bool_(True))
        position = (state.head + jnp.cumsum(retire) - 1) % ring  # [N]
        catalogue = jnp.where(retire, state.held_out[position], state.catalogue)
        held_out = state.held_out.at[jnp.where(retire, position, ring)].set(
            state.catalogue, mode="drop"
        )
        return state.replace(
            catalogue=catalogue,
            held_out=held_out,
            head=(state.head + jnp.sum(retire)) % ring,
            item_born=jnp.where(retire, state.clock + 1, state.item_born),
        )


USER_BLOCK = 64
"""Slots per block of the population-wide sums (population attraction, homogeneity)."""

TRACED = (
    "click_slope", "click_centre", "user_feature_noise", "item_feature_noise", "drift_rate",
    "boredom_penalty", "boredom_decay", "item_churn_rate", "patience", "patience_refill",
)  # fmt: skip


def build(config, data: TableData, digest: str, n_groups: int, response_registry):
    """(env, params) of a table world from its validated config and its data."""
    n_users, n_items = data.user_profile.shape[0], data.item_profile.shape[0]
    slots = n_items if config.n_items is None else config.n_items
    n_topics = int(data.item_topic.max()) + 1
    spec = EnvSpec(
        n_items=slots,
        slate_size=config.slate_size,
        users_per_step=config.users_per_step,
        user_feature_dim=data.user_descriptors.shape[1] + config.user_factor_features,
        item_feature_dim=data.item_descriptors.shape[1] + config.item_factor_features,
        n_groups=n_groups,
        n_users=n_users,
        item_change_every=config.item_churn_every if slots < n_items else 0,
    )
    response, response_params = response_registry[config.click_model].make(config, spec)
    env = TableEnv(
        spec=spec,
        response=response,
        tabular=data.table.size > 0,
        n_data_users=n_users,
        n_data_items=n_items,
        rank=data.user_profile.shape[1],
        n_topics=n_topics,
        observed_user_dim=config.user_factor_features,
        observed_item_dim=config.item_factor_features,
        item_churn_every=config.item_churn_every,
    )
    rms = lambda x: np.sqrt(np.mean(np.sum(np.square(x), axis=1))) or 1.0  # noqa: E731
    arrays = TableData(*(jnp.asarray(x) for x in data))
    traced = {name: jnp.asarray(getattr(config, name), jnp.float32) for name in TRACED}
    return env, TableParams(
        data=SharedData(arrays, digest),
        user_scale=jnp.float32(rms(data.user_profile)),
        item_scale=jnp.float32(rms(data.item_profile)),
        **traced,
        response=response_params,
    )
