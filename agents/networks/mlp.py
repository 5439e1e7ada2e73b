"""`mlp`: f = MLP([x_u ‖ x_i]) on the joined features. More expressive than two towers;
scoring the catalogue costs O(U·N·h²) per step. (`embedding` is not used.)"""

import jax
import jax.numpy as jnp

from agents.networks.base import MLP, ClickNet


class JointMLP(ClickNet):
    """One MLP to a single output on each (user, item) pair."""

    def setup(self):
        self.joint = MLP(self.hidden, 1, self.dropout)
        super().setup()

    def affinity(self, user_features, items, item_features, deterministic: bool) -> jax.Array:
        pairs = jnp.concatenate([user_features, item_features[items]], axis=-1)
        return self.joint(pairs, deterministic)[..., 0]

    def catalogue_affinity(self, user_features, item_features, deterministic: bool) -> jax.Array:
        shape = (user_features.shape[0], item_features.shape[0])
        pairs = jnp.concatenate(
            [
                jnp.broadcast_to(user_features[:, None, :], (*shape, user_features.shape[1])),
                jnp.broadcast_to(item_features[None, :, :], (*shape, item_features.shape[1])),
            ],
            axis=-1,
        )  # [U, N, Fu + Fi]
        return self.joint(pairs, deterministic)[..., 0]
