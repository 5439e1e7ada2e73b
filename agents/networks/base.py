"""The part every click network shares: the layer stack, and the learned biases

    logit(u, i, j) = f(x_u, x_i) + b̂_i + g_j

with b̂_i a learned per-item bias (item ids: the hidden quality b_i is not in the features)
and g_j a learned position offset (the agent does not know the examination κ_j). A variant
(`agents.networks.NETWORKS`) is a subclass that defines the affinity f: it creates its layers
in `setup` before calling `super().setup()`, and implements `affinity` (per example) and
`catalogue_affinity` (every user × every item).

Shapes: U users, N items, B examples, Fu / Fi feature dims, h hidden width, e embedding.
"""

from collections.abc import Sequence
from typing import ClassVar

import flax.linen as nn
import jax


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
    """Click logits f + b̂_i + g_j (module docstring); f is the subclass's."""

    n_items: int
    n_positions: int
    hidden: Sequence[int]
    embedding: int
    dropout: float = 0.0
    item_prior: float = 0.0  # std of the random initial b̂_i (0: zeros)

    def setup(self):
        zeros, normal = nn.initializers.zeros, nn.initializers.normal
        bias_init = normal(self.item_prior) if self.item_prior > 0 else zeros
        self.item_bias = self.param("item_bias", bias_init, (self.n_items,))
        self.position_bias = self.param("position_bias", nn.initializers.zeros, (self.n_positions,))

    # f = ⟨φ(x_u), ψ(x_i)⟩ with ψ(x_i) independent of the user: a variant that says so
    # implements `item_embeddings` and `catalogue_from_embeddings`, and an agent may compute
    # ψ of the catalogue once and keep it while neither the weights nor the items change.
    separable: ClassVar[bool] = False

    def affinity(self, user_features, items, item_features, deterministic: bool) -> jax.Array:
        """f of the examples: [B, Fu], [B] item ids, [N, Fi] -> [B]."""
        raise NotImplementedError

    def item_embeddings(self, item_features: jax.Array, deterministic: bool = True) -> jax.Array:
        """ψ(x_i) of every item (separable variants only): [N, Fi] -> [N, e]."""
        raise NotImplementedError

    def catalogue_from_embeddings(
        self, user_features: jax.Array, item_embeddings: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        """`catalogue` from ψ of the catalogue (separable variants only): [U, Fu] x [N, e] ->
        [U, N], equal to `catalogue(user_features, item_features)` when `item_embeddings` =
        `item_embeddings(item_features)`."""
        raise NotImplementedError

    def catalogue_affinity(self, user_features, item_features, deterministic: bool) -> jax.Array:
        """f of every item for every user: [U, Fu] x [N, Fi] -> [U, N]."""
        raise NotImplementedError

    def catalogue(
        self, user_features: jax.Array, item_features: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        """Top-position logits of every item for every user: [U, Fu] x [N, Fi] -> [U, N]."""
        affinity = self.catalogue_affinity(user_features, item_features, deterministic)
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
        affinity = self.affinity(user_features, items, item_features, deterministic)
        return affinity + self.item_bias[items] + self.position_bias[positions]
