"""The exploration interface (DESIGN.md §4), in the style of rlax: small pure functions.

A strategy is a `Select` function `select(key, scores, item_features, k, params, step) ->
(slates, explored)`:

    key            typed PRNG key
    scores         `Scores`: the model's mean, uncertainty and one posterior sample per item
    item_features  [N, F] observable item features (for similarity)
    k              static slate size
    params         the strategy's traced knobs (a pytree; vmappable)
    step           [] int32 step index t (for schedules)
    slates         [U, k] distinct item ids
    explored       [U, k] bool: the slot was chosen by exploration rather than greedily —
                   by the strategy's own mechanism where it has one (ε-greedy's coin, a
                   query slot), else: the item is not in the greedy top-k

Every strategy returns k distinct items per user.

A strategy is one module: its config dataclass (the Hydra schema; `name` defaults to the
strategy's name, written nowhere else), its params pytree, `select`, and

    make(config, spec) -> (Exploration, params)

which validates the config for the env's `spec` (once, here: some bounds depend on the slate
size) and returns the named `select` with its traced knobs. Registering it is one line in
`agents.exploration.REGISTRY`, and its Hydra option one YAML in `conf/exploration/` (the
`/schema/exploration/<name>@_here_` default and only the keys that differ from the dataclass
defaults).
"""

import dataclasses
from typing import Any, Protocol

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Scores:
    """What a model knows about every item for each arriving user.

    `members` [E, U, N] is every ensemble member's scores (`sample` is one of them, drawn
    uniformly per user), so that a strategy whose randomness is that draw (Thompson) can
    state its propensity; None where the model has no finite ensemble (a Gaussian posterior).
    Whether it is None is static: the pytree structure tells."""

    mean: jax.Array  # [U, N] predicted click probability (or score) — the greedy criterion
    std: jax.Array  # [U, N] epistemic uncertainty of `mean`
    sample: jax.Array  # [U, N] one draw from the model's posterior (an ensemble member)
    members: jax.Array | None = None  # [E, U, N] every member's scores (None: no ensemble)


class Select(Protocol):
    """A strategy's pure selection function (module docstring for the arguments)."""

    def __call__(
        self,
        key: jax.Array,
        scores: Scores,
        item_features: jax.Array,  # [N, F]
        k: int,
        params: Any,
        step: jax.Array,  # [] int32
    ) -> tuple[jax.Array, jax.Array]:  # [U, k] int slates, [U, k] bool explored
        ...


class Chain(Protocol):
    """P(s_j | s_1..s_{j−1}, x) [U, k] of given slates [U, k] under the strategy (arguments as
    `Select`, the slates first): their product over j ≤ m is the probability that the slate
    starts with s_1..s_m, over all k the probability of the whole slate. None: these scores
    allow no closed form (Thompson without ensemble members)."""

    def __call__(self, slates, scores, item_features, k, params, step) -> jax.Array | None: ...


class Marginals(Protocol):
    """P(item a at position j | x) [U, k, N] under the strategy (arguments as `Select`); None
    as for `Chain`."""

    def __call__(self, scores, item_features, k, params, step) -> jax.Array | None: ...


@dataclasses.dataclass(frozen=True)
class Propensity:
    """How likely the strategy is to show a slate, given the model's scores (the randomness
    of the strategy only: its `key`; Thompson's: the agent's uniform draw of `sample` among
    `Scores.members`). `marginals` None: no closed form (`estimate_marginals`)."""

    chain: Chain
    marginals: Marginals | None


@dataclasses.dataclass(frozen=True)
class Exploration:
    """A named strategy: its `select` function; its knobs travel separately as params.
    `propensity` None: the strategy states none (every registered strategy states one;
    Thompson's is exact when the scores carry the ensemble `Scores.members`, None when not)."""

    name: str
    select: Select
    propensity: Propensity | None = None


def deterministic(select: Select) -> Propensity:
    """The propensity of a strategy whose slate is a function of the scores (greedy, UCB,
    diversity, uncertainty-query): probability 1 for its slate, 0 for any other."""

    def chosen(scores, item_features, k, params, step):
        return select(jax.random.key(0), scores, item_features, k, params, step)[0]

    def chain(slates, scores, item_features, k, params, step):
        return (slates == chosen(scores, item_features, k, params, step)).astype(jnp.float32)

    def marginals(scores, item_features, k, params, step):
        return jax.nn.one_hot(chosen(scores, item_features, k, params, step), scores.mean.shape[1])

    return Propensity(chain, marginals)


def estimate_marginals(
    select: Select, key, scores, item_features, k, params, step, draws: int
) -> jax.Array:
    """Monte-Carlo P(item a at position j | x) [U, k, N]: the share of `draws` slates drawn
    with independent keys (standard error at most 0.5/√draws)."""
    n_items = scores.mean.shape[1]

    def one(key):
        return jax.nn.one_hot(select(key, scores, item_features, k, params, step)[0], n_items)

    return jnp.mean(jax.lax.map(one, jax.random.split(key, draws)), axis=0)


def earlier(slates: jax.Array, n_items: int) -> jax.Array:
    """[U, k, N] bool: item a is in s_1..s_{j−1} (taken before position j)."""
    shown = jax.nn.one_hot(slates, n_items, dtype=jnp.int32)  # [U, k, N]
    return (jnp.cumsum(shown, axis=1) - shown) > 0


@struct.dataclass
class NoParams:
    """Params of a strategy without knobs."""


def top_k(values: jax.Array, k: int) -> jax.Array:
    """Indices [U, k] of the k largest values of each row, largest first.

    Exact ties go to the lower index (`lax.top_k`), the same in every program. Values equal
    in exact arithmetic but computed apart may differ in the last bits, and differently in
    differently compiled programs (`loop.run` vs `loop.rollout`): a model whose scores tie
    by construction breaks its ties itself (e.g. `agents.linear`'s random offsets)."""
    return jax.lax.top_k(values, k)[1]


def outside(slates: jax.Array, reference: jax.Array) -> jax.Array:
    """[U, k] bool: slot item of `slates` is not among the items of `reference` [U, k']."""
    return ~jnp.any(slates[:, :, None] == reference[:, None, :], axis=-1)


def explored_vs_greedy(slates: jax.Array, scores: Scores) -> jax.Array:
    """Slots whose item is not in the greedy top-k of `scores.mean`."""
    return outside(slates, top_k(scores.mean, slates.shape[1]))


def config_to_params(config: Any, params_class: type) -> Any:
    """Traced float32 params from the same-named fields of a config dataclass."""
    names = [field.name for field in dataclasses.fields(params_class)]
    return params_class(**{name: jnp.asarray(getattr(config, name), jnp.float32) for name in names})
