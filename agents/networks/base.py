"""Flax scoring networks of the neural agent: click logits for (user, item, position).

Both variants model the logit of a click on item i shown at position j to user u as

    logit(u, i, j) = f(x_u, x_i) + b̂_i + g_j

with b̂_i a learned per-item bias (item ids: the hidden quality b_i is not in the features)
and g_j a learned position offset (the agent does not know the examination κ_j). The click
probability predicted for ranking is the top-position one, σ(f + b̂_i + g_0).

- `two_tower`: f = ⟨φ(x_u), ψ(x_i)⟩ with MLP towers φ, ψ. Scoring the catalogue for U users
  costs O(N·h² + U·h² + U·N·e) per step (item embeddings once, then dot products).
- `mlp`: f = MLP([x_u ‖ x_i]). More expressive; scoring costs O(U·N·h²) per step.

Shapes: U users, N items, B examples, Fu / Fi feature dims, h hidden width, e embedding.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    """ReLU MLP with optional dropout after every hidden layer."""

    hidden: Sequence[int]
    out: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
            if self.dropout > 0:
                x = nn.Dropout(self.dropout)(x, deterministic=deterministic)
        return nn.Dense(self.out)(x)


class ClickNet(nn.Module):
    """Click-logit network; `kind` is "two_tower" or "mlp"."""

    kind: str
    n_items: int
    n_positions: int
    hidden: Sequence[int]
    embedding: int
    dropout: float = 0.0
    item_prior: float = 0.0  # std of the random initial b̂_i (0: zeros)

    def setup(self):
        if self.kind == "two_tower":
            self.user_tower = MLP(self.hidden, self.embedding, self.dropout)
            self.item_tower = MLP(self.hidden, self.embedding, self.dropout)
        else:
            self.joint = MLP(self.hidden, 1, self.dropout)
        zeros, normal = nn.initializers.zeros, nn.initializers.normal
        bias_init = normal(self.item_prior) if self.item_prior > 0 else zeros
        self.item_bias = self.param("item_bias", bias_init, (self.n_items,))
        self.position_bias = self.param("position_bias", nn.initializers.zeros, (self.n_positions,))

    def catalogue(
        self, user_features: jax.Array, item_features: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        """Top-position logits of every item for every user: [U, Fu] x [N, Fi] -> [U, N]."""
        if self.kind == "two_tower":
            users = self.user_tower(user_features, deterministic)  # [U, e]
            items = self.item_tower(item_features, deterministic)  # [N, e]
            affinity = users @ items.T
        else:
            shape = (user_features.shape[0], item_features.shape[0])
            pairs = jnp.concatenate(
                [
                    jnp.broadcast_to(user_features[:, None, :], (*shape, user_features.shape[1])),
                    jnp.broadcast_to(item_features[None, :, :], (*shape, item_features.shape[1])),
                ],
                axis=-1,
            )  # [U, N, Fu + Fi]
            affinity = self.joint(pairs, deterministic)[..., 0]
        return affinity + self.item_bias + self.position_bias[0]

    def __call__(
        self,
        user_features: jax.Array,  # [B, Fu]
        items: jax.Array,  # [B] int item ids
        positions: jax.Array,  # [B] int positions
        item_features: jax.Array,  # [N, Fi]
        deterministic: bool = True,
    ) -> jax.Array:
        """Logits [B] of the examples (user, item, position)."""
        if self.kind == "two_tower":
            users = self.user_tower(user_features, deterministic)  # [B, e]
            catalogue = self.item_tower(item_features, deterministic)  # [N, e]: once, then gather
            affinity = jnp.sum(users * catalogue[items], axis=-1)
        else:
            pairs = jnp.concatenate([user_features, item_features[items]], axis=-1)
            affinity = self.joint(pairs, deterministic)[..., 0]
        return affinity + self.item_bias[items] + self.position_bias[positions]
