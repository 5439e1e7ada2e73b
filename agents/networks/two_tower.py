"""`two_tower`: f = ⟨φ(x_u), ψ(x_i)⟩ with MLP towers φ, ψ. Scoring the catalogue for U users
costs O(N·h² + U·h² + U·N·e) per step, or O(U·h² + U·N·e) with ψ of the catalogue kept from
an earlier step (`separable`); a training example needs ψ of its own item only."""

import jax
import jax.numpy as jnp

from agents.networks.base import MLP, ClickNet


class TwoTower(ClickNet):
    """User and item towers to `embedding` dims; f is their dot product."""

    def setup(self):
        self.user_tower = MLP(self.hidden, self.embedding, self.dropout)
        self.item_tower = MLP(self.hidden, self.embedding, self.dropout)
        super().setup()

    separable = True

    def affinity(self, user_features, items, item_features, deterministic: bool) -> jax.Array:
        users = self.user_tower(user_features, deterministic)  # [B, e]
        shown = self.item_tower(item_features[items], deterministic)  # [B, e]: B rows, not N
        return jnp.sum(users * shown, axis=-1)

    def catalogue_affinity(self, user_features, item_features, deterministic: bool) -> jax.Array:
        users = self.user_tower(user_features, deterministic)  # [U, e]
        items = self.item_tower(item_features, deterministic)  # [N, e]
        return users @ items.T

    def item_embeddings(self, item_features: jax.Array, deterministic: bool = True) -> jax.Array:
        return self.item_tower(item_features, deterministic)

    def catalogue_from_embeddings(
        self, user_features: jax.Array, item_embeddings: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        users = self.user_tower(user_features, deterministic)  # [U, e]
        return users @ item_embeddings.T + self.item_bias + self.position_bias[0]
