"""`two_tower`: f = ⟨φ(x_u), ψ(x_i)⟩ with MLP towers φ, ψ. Scoring the catalogue for U users
costs O(N·h² + U·h² + U·N·e) per step (item embeddings once, then dot products)."""

import jax
import jax.numpy as jnp

from agents.networks.base import MLP, ClickNet


class TwoTower(ClickNet):
    """User and item towers to `embedding` dims; f is their dot product."""

    def setup(self):
        self.user_tower = MLP(self.hidden, self.embedding, self.dropout)
        self.item_tower = MLP(self.hidden, self.embedding, self.dropout)
        super().setup()

    def affinity(self, user_features, items, item_features, deterministic: bool) -> jax.Array:
        users = self.user_tower(user_features, deterministic)  # [B, e]
        catalogue = self.item_tower(item_features, deterministic)  # [N, e]: once, then gather
        return jnp.sum(users * catalogue[items], axis=-1)

    def catalogue_affinity(self, user_features, item_features, deterministic: bool) -> jax.Array:
        users = self.user_tower(user_features, deterministic)  # [U, e]
        items = self.item_tower(item_features, deterministic)  # [N, e]
        return users @ items.T
