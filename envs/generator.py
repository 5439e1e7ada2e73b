"""The generator of the `latent` world: samples the hidden world, its items and its users.

Every draw of items and users uses the same laws at the start and later (new items for the
item-churn dynamics, new users for the users that leave), from the world constants sampled
once per seed. M users, N items, d latent dims, T topics, G groups, Fi'/Fu' observed dims.

World (c_t unit topic centres, t = 1..T; z_g ~ N(0, I_T) group tastes):
  v_i = normalize(c_{t_i} + σ_v ξ_i / √d),          t_i ~ Uniform(T)
  b_i = μ_b + s_b (P_i − 1),                         P_i ~ Pareto(shape a)  (heavy tail)
  w_u = softmax(γ_g z_{g(u)} + γ_u ζ_u),             g(u) ~ Categorical(group_shares)
  u   = normalize(Σ_t w_{u,t} c_t + σ_u ξ_u / √d)
with ζ, ξ standard normal. Observable: item features `onehot(t_i) ‖ A_v v_i + σ_x ε_i`; user
features `A_u u + σ_y ε_u ‖ onehot(g(u))` (A random Gaussian projections, ε fixed per user and
per item); arrival weights exp(σ_a α_u), α_u ~ N(0, 1).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from envs.dynamics.drift import normalize


@struct.dataclass
class WorldConstants:
    """What stays fixed for the whole run of one seed."""

    centres: jax.Array  # [T, d] unit topic centres c_t
    group_taste: jax.Array  # [G, T] γ_g z_g
    item_proj: jax.Array  # [Fi', d] A_v
    user_proj: jax.Array  # [Fu', d] A_u


class Items(NamedTuple):
    vecs: jax.Array  # [n, d] unit hidden vectors v
    bias: jax.Array  # [n] quality bias b
    topics: jax.Array  # [n] int32
    features: jax.Array  # [n, T + Fi'] observable


class Users(NamedTuple):
    vecs: jax.Array  # [n, d] unit hidden preferences u
    groups: jax.Array  # [n] int32
    activity: jax.Array  # [n] log arrival weight σ_a α_u
    noise: jax.Array  # [n, Fu'] fixed observation noise σ_y ε_u


def sample_world(key, params, n_topics: int, dim: int, n_groups: int, item_dim: int,
                 user_dim: int) -> WorldConstants:  # fmt: skip
    """The per-seed constants (centres, group tastes, projections)."""
    centres_key, taste_key, item_key, user_key = jax.random.split(key, 4)
    return WorldConstants(
        centres=normalize(jax.random.normal(centres_key, (n_topics, dim))),
        group_taste=params.group_taste_scale * jax.random.normal(taste_key, (n_groups, n_topics)),
        item_proj=jax.random.normal(item_key, (item_dim, dim)),
        user_proj=jax.random.normal(user_key, (user_dim, dim)),
    )


def sample_items(key, world: WorldConstants, n: int, params) -> Items:
    """n fresh items from the item law."""
    n_topics, dim = world.centres.shape
    topic_key, vec_key, bias_key, noise_key = jax.random.split(key, 4)
    topics = jax.random.randint(topic_key, (n,), 0, n_topics)
    vecs = normalize(
        world.centres[topics]
        + params.topic_spread * jax.random.normal(vec_key, (n, dim)) / jnp.sqrt(dim)
    )
    pareto = jax.random.pareto(bias_key, params.bias_tail, (n,))
    noise = jax.random.normal(noise_key, (n, world.item_proj.shape[0]))
    features = jnp.concatenate(
        [
            jax.nn.one_hot(topics, n_topics),
            vecs @ world.item_proj.T + params.item_feature_noise * noise,
        ],
        axis=1,
    )
    bias = params.bias_mean + params.bias_scale * (pareto - 1.0)
    return Items(vecs, bias, topics.astype(jnp.int32), features)


def sample_users(key, world: WorldConstants, n: int, params) -> Users:
    """n fresh users from the user law."""
    n_topics, dim = world.centres.shape
    group_key, taste_key, vec_key, activity_key, noise_key = jax.random.split(key, 5)
    groups = jax.random.categorical(group_key, jnp.log(params.group_shares), shape=(n,))
    taste = world.group_taste[groups] + params.user_taste_scale * jax.random.normal(
        taste_key, (n, n_topics)
    )
    vecs = normalize(
        jax.nn.softmax(taste) @ world.centres
        + params.user_spread * jax.random.normal(vec_key, (n, dim)) / jnp.sqrt(dim)
    )
    activity = params.activity_skew * jax.random.normal(activity_key, (n,))
    noise = params.user_feature_noise * jax.random.normal(noise_key, (n, world.user_proj.shape[0]))
    return Users(vecs, groups.astype(jnp.int32), activity, noise)


def user_features(world: WorldConstants, vecs, noise, groups, n_groups: int) -> jax.Array:
    """Observable features of users: [n, d], [n, Fu'], [n] -> [n, Fu' + G]."""
    return jnp.concatenate(
        [vecs @ world.user_proj.T + noise, jax.nn.one_hot(groups, n_groups)], axis=1
    )
