"""Metric counters carried through the compiled loop, and the reduction to one logged row.

Per step, `accumulate` adds the step's sums into `WindowSums` and updates the cumulative
`Totals` (exposure, cumulative regret, departures, the consumed-item sets of the tracked
users). Every `log_every` steps, `row` reduces them to one scalar per metric of
`recsim.core.metric_table.TABLE`, and the window sums restart. Nothing per user leaves the
device. The engine knows no click model: expected
clicks come from the environment (`Transition.expected`, `Truth.best_value`).

Exposure is counted as integers per (item, position), so the counters are exact and
order-independent on every backend (float scatter-adds are not, on GPU); the
position-discounted exposure is formed at log time.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from recsim.core import metric_table as table
from recsim.core import metrics
from recsim.core.types import Transition


class Totals(NamedTuple):
    """Running counters over the whole run so far."""

    exposure: jax.Array  # [N, k] int32: times item i was shown at position j
    cum_regret: jax.Array  # [] float32: Σ over steps of the step's mean regret per user
    visits: jax.Array  # [] int32: user visits
    departures: jax.Array  # [] int32: visits after which the user left
    new_best: jax.Array  # [] int32: best-slate slots holding a new item
    new_best_shown: jax.Array  # [] int32: of those, the ones the agent showed too
    consumed: jax.Array  # [P, N] bool: tracked user slot p has clicked item i


class WindowSums(NamedTuple):
    """Sums over the steps of the current logging window."""

    visits: jax.Array  # [] int32: user visits (one slate each)
    model_visits: jax.Array  # [] int32: visits at which the model metrics were evaluated
    group_visits: jax.Array  # [G] int32
    group_regret: jax.Array  # [G] float32: Σ over the group's visits of the regret
    group_best: jax.Array  # [G] float32: Σ over the group's visits of the best slate's value
    sums: dict[str, jax.Array]  # window mean metric -> [] Σ of its step sums (int32 or float32)


TRACKED_USERS = 256
"""User slots whose consumed-item sets are kept for `consumption_overlap` (ids 0..P−1, P =
min(M, TRACKED_USERS); slots are exchangeable, so this is a fixed random sample)."""


def init_totals(n_items: int, slate_size: int, n_users: int) -> Totals:
    zero_i = jnp.zeros((), jnp.int32)
    return Totals(
        exposure=jnp.zeros((n_items, slate_size), jnp.int32),
        cum_regret=jnp.zeros((), jnp.float32),
        visits=zero_i,
        departures=zero_i,
        new_best=zero_i,
        new_best_shown=zero_i,
        consumed=jnp.zeros((min(n_users, TRACKED_USERS), n_items), bool),
    )


def init_window(n_groups: int, n_sims: int | None = None) -> WindowSums:
    """Zero sums; with `n_sims`, batched along a leading simulation axis."""
    if n_sims is not None:
        window = init_window(n_groups)
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (n_sims, *x.shape)), window)
    zero_i = jnp.zeros((), jnp.int32)
    return WindowSums(
        visits=zero_i,
        model_visits=zero_i,
        group_visits=jnp.zeros((n_groups,), jnp.int32),
        group_regret=jnp.zeros((n_groups,), jnp.float32),
        group_best=jnp.zeros((n_groups,), jnp.float32),
        sums={
            metric.name: jnp.zeros((), jnp.int32 if metric.integer else jnp.float32)
            for metric in table.WINDOW_MEANS
        },
    )


def accumulate(
    totals: Totals,
    window: WindowSums,
    tr: Transition,
    new_item_age: int,
    novelty_reference: jax.Array,
    evaluate_model: bool | jax.Array = True,
) -> tuple[Totals, WindowSums]:
    """Adds one step to the counters.

    Novelty is the self-information of the shown items under `novelty_reference` [N] (the
    population's attraction at the start of the window: the same for every agent of a
    comparison, by common random numbers).

    An item is new while its age (`obs.item_age`) is below `new_item_age` steps (the logging
    window) and it arrived after step 0; an env that reports no ages has no new items. The
    model metrics (`table.MODEL_METRICS`) compare `info.scores` (the agent's predicted click
    probability at the top position) with the true attraction over the whole catalogue; they
    are meaningful only for agents that predict clicks. They cost sorts of [U, N], so they are
    evaluated only at the steps where `evaluate_model` (a bool, or a traced [] bool) holds; the
    loop evaluates them at the last step of each window.
    """
    obs, slates, truth = tr.obs, tr.slates, tr.truth
    users, k = slates.shape
    n_groups = window.group_visits.shape[0]
    shown_value = jnp.sum(tr.expected, axis=1)  # [U]
    regret = truth.best_value - shown_value  # [U]
    clicks = tr.feedback.clicks.astype(jnp.int32)  # [U, k]
    group_one_hot = jax.nn.one_hot(obs.user_groups, n_groups, dtype=jnp.int32)  # [U, G]
    left = _zeros_if_none(tr.feedback.left, (users,), bool).astype(jnp.int32)
    if obs.item_age is None:  # an env without item ages has no arrivals: nothing is new
        is_new = jnp.zeros(truth.attraction.shape[1:], bool)  # [N]
    else:
        is_new = obs.item_age < new_item_age  # [N]
        if obs.step is not None:  # the catalogue of step 0 is not new: it did not arrive
            is_new = is_new & (obs.item_age < obs.step)
    new_best = is_new[truth.best_slates]  # [U, k]
    best_shown = metrics.shown_in(truth.best_slates, slates)  # [U, k]
    shown_attraction = jnp.take_along_axis(truth.attraction, slates, axis=1)  # [U, k]
    # The k-th best attraction, from the best slate (the top-k by attraction under every
    # response model): reusing `ideal` here made XLA:CPU 2.5x slower per step at N = 1000.
    best_attraction = jnp.take_along_axis(truth.attraction, truth.best_slates, axis=1)
    step = table.StepInputs(
        tr=tr,
        novelty_reference=novelty_reference,
        shown_value=shown_value,
        regret=regret,
        clicks=clicks,
        shown_attraction=shown_attraction,
        ideal=jax.lax.top_k(truth.attraction, k)[0],  # [U, k] true top-k attraction
        kth_best=jnp.min(best_attraction, axis=1, keepdims=True),  # [U, 1]
        new_shown=is_new[slates],  # [U, k]
        left=left,
    )
    sums = dict(window.sums)
    for metric in table.WINDOW_MEANS:
        if not metric.needs_model:
            sums[metric.name] = sums[metric.name] + metric.step_sum(step)
    window = window._replace(
        visits=window.visits + users,
        group_visits=window.group_visits + jnp.sum(group_one_hot, axis=0),
        group_regret=window.group_regret + regret @ group_one_hot.astype(jnp.float32),
        group_best=window.group_best + truth.best_value @ group_one_hot.astype(jnp.float32),
        sums=sums,
    )
    if evaluate_model is not False:
        window = jax.lax.cond(
            evaluate_model, lambda w: _add_model_sums(w, step), lambda w: w, window
        )
    positions = jnp.broadcast_to(jnp.arange(k), slates.shape)
    totals = Totals(
        exposure=totals.exposure.at[slates, positions].add(1),
        cum_regret=totals.cum_regret + jnp.mean(regret),
        visits=totals.visits + users,
        departures=totals.departures + jnp.sum(left),
        new_best=totals.new_best + jnp.sum(new_best.astype(jnp.int32)),
        new_best_shown=totals.new_best_shown + jnp.sum((new_best & best_shown).astype(jnp.int32)),
        consumed=_consume(totals.consumed, obs.user_ids, slates, clicks > 0, left > 0),
    )
    return totals, window


def _add_model_sums(window: WindowSums, step: table.StepInputs) -> WindowSums:
    """Adds one step to the sums of the model metrics (`table.MODEL_METRICS`)."""
    sums = dict(window.sums)
    for metric in table.WINDOW_MEANS:
        if metric.needs_model:
            sums[metric.name] = sums[metric.name] + metric.step_sum(step)
    visits = step.tr.slates.shape[0]
    return window._replace(model_visits=window.model_visits + visits, sums=sums)


def _consume(consumed, user_ids, slates, clicked, left) -> jax.Array:
    """Adds the clicked items of tracked users [P, N]; a user who left empties the slot (its
    replacement has consumed nothing). Untracked users (id ≥ P) are dropped."""
    tracked = consumed.shape[0]
    rows = jnp.where(user_ids < tracked, user_ids, tracked)  # tracked: out of range, dropped
    before = consumed.at[rows].get(mode="fill", fill_value=False)  # [U, N]
    added = before.at[jnp.arange(slates.shape[0])[:, None], slates].max(clicked)
    after = jnp.where(left[:, None], False, added)
    return consumed.at[rows].set(after, mode="drop")


def _zeros_if_none(value, shape, dtype):
    """`value`, or zeros of `shape` for an env that does not report it."""
    return jnp.zeros(shape, dtype) if value is None else value


def row(
    totals: Totals, window: WindowSums, n_users: int, user_homogeneity: jax.Array
) -> dict[str, jax.Array]:
    """One logged row: every metric of `table.TABLE`, plus the integer counts.

    A window mean is its window sum / its `per` count; the other metrics are formed from the
    running totals (exposure of item i is `Σ_j n_ij / log2(j + 2)`, n_ij the times it was
    shown at position j). `n_users` is the population size M (users who ever existed = M +
    departures); `user_homogeneity` is the env's `user_homogeneity` at the end of the window.
    """
    k = totals.exposure.shape[1]
    visits = window.visits.astype(jnp.float32)
    impressions = window.visits * k
    per = {
        "visits": visits,
        "impressions": impressions.astype(jnp.float32),
        "model_visits": jnp.maximum(window.model_visits, 1).astype(jnp.float32),  # 0 sums: 0
    }
    group_visits = window.group_visits.astype(jnp.float32)
    has_group = window.group_visits > 0
    safe_group_visits = jnp.where(has_group, group_visits, 1.0)
    inputs = table.RowInputs(
        totals=totals,
        window=window,
        exposure=totals.exposure.astype(jnp.float32) @ metrics.position_discount(k),  # [N]
        group_regret=window.group_regret / safe_group_visits,
        group_best=window.group_best / (safe_group_visits * k),
        has_group=has_group,
        n_users=n_users,
        user_homogeneity=user_homogeneity,
    )
    values = {}
    for metric in table.TABLE:
        if metric.per is not None:
            value = window.sums[metric.name] / per[metric.per]
        else:
            value = metric.final(inputs)
        values[metric.name] = value.astype(jnp.float32)
    values["clicks"] = window.sums["ctr"]
    values["impressions"] = impressions
    return values
