"""Several strategies in one compiled program: the strategy is a traced index.

`switch(strategies)` is a strategy whose params hold an index `which` and the params of every
listed strategy; `select` runs the `which`-th one (`lax.switch`). Under `vmap` over
simulations with different indices every branch is computed and the chosen one kept, so one
program serves a whole strategy comparison (`grid.exploration.name=[greedy,ucb,…]`) with one
compile, at the cost of computing every listed strategy at every step.

Given the same key, scores and params, the chosen branch computes exactly what the strategy
computes alone, so a simulation of the switch shows the same slates as the same seed run with
that strategy alone (tested against separate runs); floating-point metrics may differ from
the separate program's in the last bits, as any two differently compiled programs may.

Propensity: the chosen strategy's; None if any listed strategy has none for these scores
(e.g. Boltzmann's marginals), since which one is chosen is known only at run time.

With a `layout` (the strategy index of every simulation, in the loop's order: known when the
grid is built), a `vmap` over exactly those simulations runs each strategy only on its own
contiguous group of simulations (`jax.custom_batching.custom_vmap`) instead of every strategy
on all of them. Which path runs is decided in the program, from the batched `which` itself:
the grouped one when `which` equals the layout, else every branch as above (a real `cond`: the
same slates either way, the grouped path only skips work).
"""

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from jax import custom_batching

from agents.exploration.base import Exploration, Propensity


@struct.dataclass
class SwitchParams:
    """`which` [] int32: the index of the strategy in use; `members`: every strategy's params,
    in the order listed."""

    which: jax.Array
    members: tuple[Any, ...]


def switch(strategies: Sequence[Exploration], layout: Sequence[int] | None = None) -> Exploration:
    """One strategy that runs `strategies[params.which]`; `layout`: the index of each
    simulation's strategy, to run each strategy on its own simulations only under `vmap`
    (module docstring)."""
    strategies = tuple(strategies)
    name = "switch(" + ",".join(s.name for s in strategies) + ")"
    layout = None if layout is None else tuple(int(i) for i in layout)

    def select(key, scores, item_features, k, params: SwitchParams, step):
        def one_strategy(i):
            def run(key, scores, item_features, members, step):
                slates, explored = strategies[i].select(
                    key, scores, item_features, k, members[i], step
                )
                return slates.astype(jnp.int32), explored.astype(bool)

            return run

        def switched(key, scores, item_features, params, step):
            branches = [one_strategy(i) for i in range(len(strategies))]
            return jax.lax.switch(
                params.which, branches, key, scores, item_features, params.members, step
            )

        if layout is None:
            return switched(key, scores, item_features, params, step)
        grouped = custom_batching.custom_vmap(switched)

        @grouped.def_vmap
        def by_group(axis_size, in_batched, *args):
            in_batched = tuple(in_batched)
            axes = jax.tree.map(lambda batched: 0 if batched else None, in_batched)
            every_branch = functools.partial(jax.vmap(switched, in_axes=axes), *args)
            if axis_size != len(layout) or not in_batched[3].which:
                return every_branch(), (True, True)

            def by_strategy():
                outputs = []
                for i, run in _runs(layout):
                    cut = lambda x, batched, run=run: x[run] if batched else x  # noqa: E731
                    sliced = jax.tree.map(cut, args, in_batched)
                    outputs.append(jax.vmap(one_strategy(i), in_axes=_member_axes(axes))(
                        *sliced[:3], sliced[3].members, sliced[4]))  # fmt: skip
                return jax.tree.map(lambda *parts: jnp.concatenate(parts), *outputs)

            matches = jnp.all(args[3].which == jnp.asarray(layout, jnp.int32))
            return jax.lax.cond(matches, by_strategy, every_branch), (True, True)

        return grouped(key, scores, item_features, params, step)

    propensity = None
    if all(s.propensity is not None for s in strategies):
        propensity = Propensity(
            chain=_switched(strategies, "chain"),
            marginals=(
                _switched(strategies, "marginals")
                if all(s.propensity.marginals is not None for s in strategies)
                else None
            ),
        )
    return Exploration(name, select, propensity)


def _runs(layout: tuple[int, ...]) -> list[tuple[int, slice]]:
    """(strategy index, slice of simulations) of each contiguous run of `layout`."""
    runs, start = [], 0
    for i, group in itertools.groupby(layout):
        stop = start + len(list(group))
        runs.append((i, slice(start, stop)))
        start = stop
    return runs


def _member_axes(axes):
    """The vmap axes of (key, scores, item_features, members, step) from those of
    (key, scores, item_features, params, step)."""
    return (*axes[:3], axes[3].members, axes[4])


def _switched(strategies, field: str):
    """The `which`-th strategy's `Propensity.<field>` (chain or marginals: both end with
    `item_features, k, params, step`); None when any strategy returns None."""

    def function(*args):
        *head, item_features, k, params, step = args
        outputs = [
            getattr(s.propensity, field)(*head, item_features, k, member, step)
            for s, member in zip(strategies, params.members, strict=True)
        ]
        if any(out is None for out in outputs):
            return None
        return jnp.stack([out.astype(jnp.float32) for out in outputs])[params.which]

    return function
