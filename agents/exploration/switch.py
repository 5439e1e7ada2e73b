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
"""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from agents.exploration.base import Exploration, Propensity


@struct.dataclass
class SwitchParams:
    """`which` [] int32: the index of the strategy in use; `members`: every strategy's params,
    in the order listed."""

    which: jax.Array
    members: tuple[Any, ...]


def switch(strategies: Sequence[Exploration]) -> Exploration:
    """One strategy that runs `strategies[params.which]` (module docstring)."""
    strategies = tuple(strategies)
    name = "switch(" + ",".join(s.name for s in strategies) + ")"

    def select(key, scores, item_features, k, params: SwitchParams, step):
        def one(i, strategy):
            def branch(members):
                slates, explored = strategy.select(key, scores, item_features, k, members[i], step)
                return slates.astype(jnp.int32), explored.astype(bool)

            return branch

        return jax.lax.switch(
            params.which, [one(i, s) for i, s in enumerate(strategies)], params.members
        )

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
