"""`neural`: a Flax click model learned online, composed with an exploration strategy.

An ensemble of M = `n_heads` click networks (`agents.networks.ClickNet`), each trained on its
own bootstrap of the replay buffer (Osband et al., 2016, "Deep Exploration via Bootstrapped
DQN"), or — with `uncertainty=dropout` — one network whose spread under M dropout masks is the
uncertainty (Gal & Ghahramani, 2016). For user u and item i, with p_m = σ(logit_m(u, i, 0)):

    mean_{u,i} = (1/M) Σ_m p_m,     std_{u,i} = sqrt((1/M) Σ_m (p_m − mean)²)

Every step all U·k shown slots enter the replay ring buffer; every `update_every` steps,
`n_updates` Adam(W) steps minimise the bootstrap-weighted binary cross-entropy of minibatches
of `batch_size` examples,

    L = Σ_m  Σ_b w_{b,m} BCE(logit_m(u_b, i_b, j_b), c_b) / max(1, Σ_b w_{b,m}).

The learning rate and weight decay are traced (`optax.inject_hyperparams`), so sweepable.

With a separable network (`two_tower`: f = ⟨φ(x_u), ψ(x_i)⟩) and an ensemble, the members'
item embeddings ψ_m(x_i) [M, N, e] are kept in the state (`item_cache`): computed when the
catalogue may have changed (step 0 and the env's `item_change_every` steps) and after every
training round, reused in between, so a step scores the catalogue in O(M·(U·h² + U·N·e))
instead of O(M·(N·h² + U·h² + U·N·e)). The slates are the same as without the cache.
The network variant (`network`) is chosen from `agents.networks.NETWORKS`; the slate from the
scores by the composed exploration strategy (`agents.scoring`).
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from agents import forgetting, replay
from agents.exploration import Exploration, Scores
from agents.networks import NETWORKS, ClickNet
from agents.scoring import NO_EXPLORATION, ScoringAgent, member_moments
from recsim.core.types import EnvSpec, Feedback, Observation
from recsim.core.validation import ConfigError, check_int, check_real

UNCERTAINTY = ("ensemble", "dropout")


@dataclasses.dataclass
class NeuralConfig:
    """Config of `agent=neural`. Ints and names fix the program; floats are traced."""

    name: str = "neural"
    network: str = "two_tower"  # two_tower | mlp
    hidden: list[int] = dataclasses.field(default_factory=lambda: [64])
    embedding: int = 32  # two-tower embedding size e
    uncertainty: str = "ensemble"  # ensemble | dropout
    n_heads: int = 5  # ensemble members, or dropout samples per act
    dropout: float = 0.1  # dropout rate (uncertainty=dropout only)
    buffer_size: int = 20000  # replay examples (rounded up to a multiple of U·k)
    batch_size: int = 128
    update_every: int = 4  # steps between training rounds
    n_updates: int = 1  # minibatch steps per round
    learning_rate: float = 0.003
    weight_decay: float = 0.0
    item_prior: float = 0.0  # std of each member's random initial per-item bias (0: zeros)
    item_cache: bool = True  # keep the item tower's output between training rounds (two_tower)

    def validate(self, prefix: str = "agent") -> None:
        if self.network not in NETWORKS:
            raise ConfigError(f"{prefix}.network={self.network!r} must be one of {tuple(NETWORKS)}")
        if self.uncertainty not in UNCERTAINTY:
            raise ConfigError(
                f"{prefix}.uncertainty={self.uncertainty!r} must be one of {UNCERTAINTY}"
            )
        if not self.hidden:
            raise ConfigError(f"{prefix}.hidden=[] must list at least one layer width")
        for i, width in enumerate(self.hidden):
            check_int(f"{prefix}.hidden[{i}]", width, 1)
        for name in ("embedding", "n_heads", "buffer_size", "batch_size", "update_every"):
            check_int(f"{prefix}.{name}", getattr(self, name), 1)
        check_int(f"{prefix}.n_updates", self.n_updates, 0)
        if self.uncertainty == "ensemble" and self.n_heads < 2:
            raise ConfigError(f"{prefix}.n_heads={self.n_heads} must be >= 2 for an ensemble")
        check_real(f"{prefix}.dropout", self.dropout, 0.0, 1.0, high_open=True)
        if self.uncertainty == "dropout" and self.dropout == 0:
            raise ConfigError(f"{prefix}.dropout=0 must be > 0 with uncertainty=dropout")
        check_real(f"{prefix}.learning_rate", self.learning_rate, 0.0, low_open=True)
        check_real(f"{prefix}.weight_decay", self.weight_decay, 0.0)
        check_real(f"{prefix}.item_prior", self.item_prior, 0.0)


@struct.dataclass
class NeuralParams:
    learning_rate: jax.Array
    weight_decay: jax.Array
    exploration: Any  # the strategy's params


@struct.dataclass
class NeuralState:
    network: Any  # Flax params, stacked along a leading member axis [M, ...]
    optimizer: Any  # optax state (learning rate inside, traced)
    replay: replay.Replay
    item_prior: jax.Array  # [members, N] each member's initial b̂ (restored for new items)
    item_embeddings: jax.Array | None  # [members, N, e] ψ_m of the catalogue (None: no cache)


@dataclasses.dataclass(frozen=True)
class NeuralAgent(ScoringAgent):
    """Ensemble (or MC-dropout) click model + exploration strategy (see module docstring)."""

    spec: EnvSpec
    net: ClickNet
    exploration: Exploration
    ensemble: bool
    n_heads: int
    capacity: int
    batch_size: int
    update_every: int
    n_updates: int
    item_cache: bool  # keeps ψ_m of the catalogue (separable network, ensemble)

    @property
    def members(self) -> int:
        """Parameter sets: one per head for an ensemble, one for MC dropout."""
        return self.n_heads if self.ensemble else 1

    def optimizer(self, params: NeuralParams) -> optax.GradientTransformation:
        return optax.inject_hyperparams(optax.adamw)(
            learning_rate=params.learning_rate, weight_decay=params.weight_decay
        )

    def init(self, key: jax.Array, params: NeuralParams) -> NeuralState:
        spec = self.spec
        users = jnp.zeros((1, spec.user_feature_dim))
        items = jnp.zeros((spec.n_items, spec.item_feature_dim))
        index = jnp.zeros((1,), jnp.int32)
        keys = jax.random.split(key, self.members)
        network = jax.vmap(lambda k: self.net.init(k, users, index, index, items))(keys)
        return NeuralState(
            network=network,
            optimizer=self.optimizer(params).init(network),
            replay=replay.init(self.capacity, spec.user_feature_dim, self.members),
            item_prior=network["params"]["item_bias"],
            item_embeddings=(
                jnp.zeros((self.members, spec.n_items, self.net.embedding))
                if self.item_cache
                else None
            ),
        )

    def catalogue_changed(self, step: jax.Array) -> jax.Array:
        """[] bool: the item features may differ from the last step's (step 0 has no last
        step; then every `item_change_every` steps of the env)."""
        every = self.spec.item_change_every
        return (step == 0) | ((step % every == 0) if every > 0 else False)

    def embed(self, network: Any, item_features: jax.Array) -> jax.Array:
        """ψ_m(x_i) of every member and item: [M, N, e]."""
        embed_one = lambda member: self.net.apply(  # noqa: E731
            member, item_features, method="item_embeddings"
        )
        return jax.vmap(embed_one)(network)

    def predict_current(self, key, state: NeuralState, network: Any, obs: Observation):
        """`predict` for `obs`, from the kept ψ of the catalogue unless the items may have
        changed since it was computed (or there is no cache, or no step to tell)."""
        if not self.item_cache or obs.step is None:
            return self.predict(key, network, obs)
        # Both branches compute the scores: a branch that passed the kept ψ [M, N, e] through
        # would cost a copy of it every step (measured: 10 % of a step at N = 10⁵).
        return jax.lax.cond(
            self.catalogue_changed(obs.step),
            lambda: self.predict(key, network, obs),
            lambda: self.predict(key, network, obs, state.item_embeddings),
        )

    def predict(
        self, key: jax.Array, network: Any, obs: Observation, embeddings: jax.Array | None = None
    ) -> jax.Array:
        """Top-position click probabilities of every item per head: [heads, U, N]; from the
        members' item embeddings [M, N, e] when given (`embed`)."""
        if embeddings is not None:
            logits = jax.vmap(
                lambda member, items: self.net.apply(
                    member, obs.user_features, items, method="catalogue_from_embeddings"
                )
            )(network, embeddings)
            return jax.nn.sigmoid(logits)

        def catalogue(member, dropout_key):
            return self.net.apply(
                member,
                obs.user_features,
                obs.item_features,
                deterministic=self.ensemble,
                rngs={"dropout": dropout_key},
                method=ClickNet.catalogue,
            )

        keys = jax.random.split(key, self.n_heads)
        if self.ensemble:
            logits = jax.vmap(catalogue)(network, keys)
        else:
            single = jax.tree.map(lambda x: x[0], network)
            logits = jax.vmap(catalogue, in_axes=(None, 0))(single, keys)
        return jax.nn.sigmoid(logits)

    def forget(self, state: NeuralState, obs: Observation) -> NeuralState:
        """Drops what was learned about recycled ids (`agents.forgetting`): their learned
        bias b̂_i restarts at each member's initial draw and its Adam first moment at 0 (the
        second moment is kept: zeroed, with Adam's step count already large, it would make the
        first updates of the new item several times the learning rate), their replay examples
        get weight 0."""
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        return state.replace(
            network=self.reset_bias(state, fresh),
            optimizer=forgetting.reset_named_leaves(
                state.optimizer, "item_bias", fresh, within=".mu"
            ),
            replay=replay.forget(state.replay, fresh),
        )

    def reset_bias(self, state: NeuralState, fresh: jax.Array):
        """The network with b̂_i of the `fresh` ids [N] back at the members' initial draws."""
        return forgetting.reset_named_leaves(state.network, "item_bias", fresh, state.item_prior)

    def act(self, key, state: NeuralState, obs: Observation, params: NeuralParams):
        predict_key, member_key, explore_key = jax.random.split(key, 3)
        fresh = forgetting.fresh_items(obs, self.spec.n_items)
        network = self.reset_bias(state, fresh)
        probs = self.predict_current(predict_key, state, network, obs)  # [H, U, N]
        users = probs.shape[1]
        member = jax.random.randint(member_key, (users,), 0, self.n_heads)
        mean, std = member_moments(probs)
        scores = Scores(
            mean=mean,
            std=std,
            sample=probs[member, jnp.arange(users)],
            members=probs,  # Thompson's propensity: the draw is uniform among these
        )
        return self.choose(explore_key, scores, obs, params)

    def loss(self, key, network, batch: replay.Replay, item_features) -> jax.Array:
        """Bootstrap-weighted BCE summed over members (see module docstring)."""

        def member_loss(member, weights, dropout_key):
            logits = self.net.apply(
                member, batch.user_features, batch.items, batch.positions, item_features,
                deterministic=self.ensemble, rngs={"dropout": dropout_key},
            )  # fmt: skip
            bce = optax.sigmoid_binary_cross_entropy(logits, batch.clicks)
            return jnp.sum(weights * bce) / jnp.maximum(jnp.sum(weights), 1.0)

        keys = jax.random.split(key, self.members)
        return jnp.sum(jax.vmap(member_loss)(network, batch.weights.T, keys))

    def train(self, key, state: NeuralState, item_features, params: NeuralParams) -> NeuralState:
        """`n_updates` minibatch steps on the replay buffer."""
        optimizer = self.optimizer(params)
        # The traced params are the source of truth for the hyper-parameters (they may be a
        # grid axis); write them into the optimizer state that inject_hyperparams reads.
        hyperparams = {"learning_rate": params.learning_rate, "weight_decay": params.weight_decay}
        opt_state = state.optimizer
        state = state.replace(
            optimizer=opt_state._replace(hyperparams={**opt_state.hyperparams, **hyperparams})
        )

        def one_update(state, update_key):
            batch_key, dropout_key = jax.random.split(update_key)
            batch = replay.sample(batch_key, state.replay, self.batch_size)
            grads = jax.grad(self.loss, argnums=1)(dropout_key, state.network, batch, item_features)
            updates, opt_state = optimizer.update(grads, state.optimizer, state.network)
            network = optax.apply_updates(state.network, updates)
            return state.replace(network=network, optimizer=opt_state), None

        state, _ = jax.lax.scan(one_update, state, jax.random.split(key, self.n_updates))
        return state

    def update(
        self,
        key,
        state: NeuralState,
        obs: Observation,
        slates,
        feedback: Feedback,
        params: NeuralParams,
    ) -> NeuralState:
        add_key, train_key = jax.random.split(key)
        state = self.forget(state, obs)
        buffer = replay.add(
            add_key, state.replay, obs.user_features, slates, feedback.clicks, self.ensemble
        )
        state = state.replace(replay=buffer)
        # obs.step is the same for every simulation, so these are real branches under vmap.
        trains = (obs.step + 1) % self.update_every == 0
        state = jax.lax.cond(
            trains,
            lambda s: self.train(train_key, s, obs.item_features, params),
            lambda s: s,
            state,
        )
        if not self.item_cache:
            return state
        # Kept for the next step's act: new weights, or items that changed at this step.
        return jax.lax.cond(
            trains | self.catalogue_changed(obs.step),
            lambda s: s.replace(item_embeddings=self.embed(s.network, obs.item_features)),
            lambda s: s,
            state,
        )


def make(config: NeuralConfig, spec: EnvSpec):
    """The agent and its traced params for `spec`, exploring greedily until a strategy is
    composed in (`agents.with_exploration`)."""
    config.validate()
    strategy, strategy_params = NO_EXPLORATION
    ensemble = config.uncertainty == "ensemble"
    net = NETWORKS[config.network](
        n_items=spec.n_items,
        n_positions=spec.slate_size,
        hidden=tuple(config.hidden),
        embedding=config.embedding,
        dropout=0.0 if ensemble else config.dropout,
        item_prior=config.item_prior,
    )
    block = spec.users_per_step * spec.slate_size
    agent = NeuralAgent(
        spec=spec,
        net=net,
        exploration=strategy,
        ensemble=ensemble,
        n_heads=config.n_heads,
        capacity=replay.capacity_for(config.buffer_size, block),
        batch_size=config.batch_size,
        update_every=config.update_every,
        n_updates=config.n_updates,
        item_cache=config.item_cache and net.separable and ensemble,
    )
    params = NeuralParams(
        learning_rate=jnp.asarray(config.learning_rate, jnp.float32),
        weight_decay=jnp.asarray(config.weight_decay, jnp.float32),
        exploration=strategy_params,
    )
    return agent, params
