"""`switch` with a layout: under `vmap` each strategy runs on its own simulations only, with the
same slates as the switch that runs every strategy on every simulation."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import exploration as explorations
from agents.exploration import switch
from agents.exploration.base import Exploration, Scores
from tests.conftest import small_env

NAMES = ["greedy", "epsilon_greedy", "ucb", "thompson", "diversity", "boltzmann"]
LAYOUT = [0, 0, 1, 1, 1, 2, 3, 4, 4, 5]  # the loop's order: contiguous groups
U = 6


def built(names=NAMES):
    spec = small_env()[0].spec
    pairs = []
    for name in names:
        entry = explorations.REGISTRY.get(name, "test")
        pairs.append(entry.make(entry.config_class(), spec))
    return spec, [strategy for strategy, _ in pairs], tuple(params for _, params in pairs)


def batch(spec, members, which, seed=0):
    """Random scores, features, keys and the switch's params for len(which) simulations."""
    sims, n = len(which), spec.n_items
    k = jax.random.split(jax.random.key(seed), 5)
    members_scores = jax.random.uniform(k[3], (sims, 5, U, n))  # sample: one of the members
    scores = Scores(jax.random.uniform(k[0], (sims, U, n)), jax.random.uniform(k[1], (sims, U, n)),
                    members_scores[:, 2], members_scores)  # fmt: skip
    features = jax.random.normal(k[4], (sims, n, spec.item_feature_dim))
    stacked = jax.tree.map(lambda x: jnp.stack([x] * sims), members)
    params = switch.SwitchParams(jnp.asarray(which, jnp.int32), stacked)
    return jax.random.split(jax.random.key(seed + 1), sims), scores, features, params


def run_vmapped(strategy, spec, args):
    def one(key, scores, features, params):
        return strategy.select(key, scores, features, spec.slate_size, params, jnp.int32(7))

    return jax.jit(jax.vmap(one))(*args)


@pytest.mark.parametrize("which", [LAYOUT, [5, 0, 1, 1, 1, 2, 3, 4, 4, 0], [2] * len(LAYOUT)],
                         ids=["the layout", "another order", "one strategy"])  # fmt: skip
def test_grouped_slates_equal_every_branchs(which):
    spec, strategies, members = built()
    args = batch(spec, members, which)
    every = run_vmapped(switch.switch(strategies), spec, args)
    grouped = run_vmapped(switch.switch(strategies, LAYOUT), spec, args)
    for a, b in zip(every, grouped, strict=True):
        np.testing.assert_array_equal(a, b)
    for slates, explored in (every, grouped):  # item ids and flags, whichever path ran
        assert slates.dtype == jnp.int32 and explored.dtype == jnp.bool_
    # and each simulation got its own strategy's slates (the one alone, same key and scores)
    for sim, index in enumerate(which):
        alone = strategies[index].select(
            args[0][sim], jax.tree.map(lambda x, s=sim: x[s], args[1]), args[2][sim],
            spec.slate_size, members[index], jnp.int32(7),
        )  # fmt: skip
        np.testing.assert_array_equal(grouped[0][sim], alone[0])


def spies(strategies, calls):
    """Each strategy, counting the simulations it selects for (a host callback of one value per
    simulation that runs it)."""

    def spy(index, strategy):
        def select(key, scores, features, k, params, step):
            def count(value):  # one call per simulation, or one for the batch: count values
                calls[index] += np.size(value)

            jax.debug.callback(count, scores.mean[0, 0])
            return strategy.select(key, scores, features, k, params, step)

        return Exploration(strategy.name, select, strategy.propensity)

    return [spy(i, s) for i, s in enumerate(strategies)]


def test_each_strategy_runs_only_on_its_own_simulations():
    spec, strategies, members = built()
    calls = collections.Counter()
    grouped = switch.switch(spies(strategies, calls), LAYOUT)
    jax.block_until_ready(run_vmapped(grouped, spec, batch(spec, members, LAYOUT)))
    jax.effects_barrier()
    assert calls == collections.Counter(LAYOUT)  # strategy i: its group's size, no more


def test_without_its_layout_every_strategy_runs_on_every_simulation():
    """A `which` other than the layout, or a batch of another size: the switch of every branch
    (the same slates, the work of all strategies)."""
    spec, strategies, members = built()
    for which in ([1, 0, 1, 1, 1, 2, 3, 4, 4, 5], LAYOUT[:4]):
        calls = collections.Counter()
        grouped = switch.switch(spies(strategies, calls), LAYOUT)
        jax.block_until_ready(run_vmapped(grouped, spec, batch(spec, members, which)))
        jax.effects_barrier()
        assert calls == collections.Counter({i: len(which) for i in range(len(NAMES))})


def test_unbatched_it_runs_the_chosen_strategy():
    spec, strategies, members = built()
    key, scores, features, params = batch(spec, members, [3])
    first = jax.tree.map(lambda x: x[0], (key, scores, features, params))
    slates, _ = switch.switch(strategies, LAYOUT).select(
        first[0], first[1], first[2], spec.slate_size, first[3], jnp.int32(7)
    )
    alone, _ = strategies[3].select(first[0], first[1], first[2], spec.slate_size, members[3],
                                    jnp.int32(7))  # fmt: skip
    np.testing.assert_array_equal(slates, alone)


def propensity_args(spec, members, which, strategies):
    """A slate each simulation's own strategy shows, and the arguments of a propensity."""
    key, scores, features, params = batch(spec, members, [which])
    one = jax.tree.map(lambda x: x[0], (key, scores, features, params))
    slates, _ = strategies[which].select(one[0], one[1], one[2], spec.slate_size,
                                         members[which], jnp.int32(7))  # fmt: skip
    return slates, one


@pytest.mark.parametrize("which", range(5))
def test_the_propensity_is_the_chosen_strategys(which):
    """Chain and marginals of the switch are those of the strategy its `which` names
    (ε-greedy, uniform random, Thompson with the ensemble members, greedy, diversity — which
    reads the item features: all in closed form)."""
    names = ["epsilon_greedy", "random", "thompson", "greedy", "diversity"]
    spec, strategies, members = built(names)
    switched = switch.switch(strategies, range(5)).propensity
    slates, (_, scores, features, params) = propensity_args(spec, members, which, strategies)
    own = strategies[which].propensity
    k, step = spec.slate_size, jnp.int32(7)
    chain = switched.chain(slates, scores, features, k, params, step)
    np.testing.assert_array_equal(chain, own.chain(slates, scores, features, k, members[which],
                                                   step))  # fmt: skip
    assert float(jnp.min(chain)) > 0  # its own slate: possible under it
    marginals = switched.marginals(scores, features, k, params, step)
    np.testing.assert_array_equal(marginals, own.marginals(scores, features, k, members[which],
                                                           step))  # fmt: skip


def test_marginals_are_left_out_when_a_listed_strategy_has_none_in_closed_form():
    spec, strategies, members = built(["epsilon_greedy", "boltzmann"])
    switched = switch.switch(strategies).propensity
    assert switched.chain is not None and switched.marginals is None
    slates, (_, scores, features, params) = propensity_args(spec, members, 1, strategies)
    k, step = spec.slate_size, jnp.int32(7)
    np.testing.assert_array_equal(
        switched.chain(slates, scores, features, k, params, step),
        strategies[1].propensity.chain(slates, scores, features, k, members[1], step),
    )


def test_no_propensity_when_a_listed_strategy_states_none():
    spec, strategies, _ = built(["greedy", "ucb"])
    silent = Exploration("silent", strategies[1].select, None)
    assert switch.switch([strategies[0], silent]).propensity is None
    assert switch.switch(strategies).propensity is not None
