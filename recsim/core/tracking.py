"""Metric counters carried through the compiled loop, and the reduction to one logged row.

Per step, `accumulate` adds the step's sums into `WindowSums` and updates the cumulative
`Totals` (exposure, cumulative regret, departures, the consumed-item sets of the tracked
users). Every `log_every` steps, `row` reduces them to one scalar per metric of
`recsim.core.metrics.METRIC_NAMES`, and the window sums restart. Nothing per user leaves the
device. The engine knows no click model: expected
clicks come from the environment (`Transition.expected`, `Truth.best_value`).

Exposure is counted as integers per (item, position), so the counters are exact and
order-independent on every backend (float scatter-adds are not, on GPU); the
position-discounted exposure is formed at log time.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

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
    clicks: jax.Array  # [] int32
    expected_clicks: jax.Array  # [] float32: Σ expected clicks of the shown slates
    regret: jax.Array  # [] float32: Σ over visits of best − shown expected clicks
    precision: jax.Array  # [] float32
    ndcg: jax.Array  # [] float32
    ild: jax.Array  # [] float32
    novelty: jax.Array  # [] float32: Σ over shown slots of self-information (bits)
    group_visits: jax.Array  # [G] int32
    group_regret: jax.Array  # [G] float32
    group_best: jax.Array  # [G] float32: Σ over the group's visits of the best slate's value
    explored: jax.Array  # [] int32: slots chosen by exploration
    model_visits: jax.Array  # [] int32: visits at which the model metrics were evaluated
    prediction_mae: jax.Array  # [] float32: Σ over visits of mean |predicted − true| over items
    preference_spearman: jax.Array  # [] float32: Σ over visits of rank corr(predicted, true)
    greedy_ndcg: jax.Array  # [] float32: Σ over visits of NDCG@k of the predicted top-k
    new_impressions: jax.Array  # [] int32: shown slots holding a new item
    departures: jax.Array  # [] int32: visits after which the user left


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
    zero_i, zero_f = jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32)
    return WindowSums(
        visits=zero_i,
        clicks=zero_i,
        expected_clicks=zero_f,
        regret=zero_f,
        precision=zero_f,
        ndcg=zero_f,
        ild=zero_f,
        novelty=zero_f,
        group_visits=jnp.zeros((n_groups,), jnp.int32),
        group_regret=jnp.zeros((n_groups,), jnp.float32),
        group_best=jnp.zeros((n_groups,), jnp.float32),
        explored=zero_i,
        model_visits=zero_i,
        prediction_mae=zero_f,
        preference_spearman=zero_f,
        greedy_ndcg=zero_f,
        new_impressions=zero_i,
        departures=zero_i,
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
    window) and it arrived after step 0. The model metrics (`metrics.MODEL_METRICS`) compare
    `info.scores` (the agent's predicted click probability at the top position) with the true
    attraction over the whole catalogue; they are meaningful only for agents that predict
    clicks. They cost sorts of [U, N], so they are evaluated only at the steps where
    `evaluate_model` (a bool, or a traced [] bool) holds; the loop evaluates them at the last
    step of each window.
    """
    obs, slates, truth = tr.obs, tr.slates, tr.truth
    users, k = slates.shape
    n_groups = window.group_visits.shape[0]
    shown_value = jnp.sum(tr.expected, axis=1)  # [U]
    regret = truth.best_value - shown_value  # [U]
    clicks = tr.feedback.clicks.astype(jnp.int32)  # [U, k]
    user_clicks = jnp.sum(clicks, axis=1)  # [U]
    group_one_hot = jax.nn.one_hot(obs.user_groups, n_groups, dtype=jnp.int32)  # [U, G]
    left = _zeros_if_none(tr.feedback.left, (users,), bool).astype(jnp.int32)
    age = _zeros_if_none(obs.item_age, truth.attraction.shape[1:], jnp.int32)
    is_new = age < new_item_age  # [N]
    if obs.step is not None:  # the catalogue of step 0 is not new: it did not arrive
        is_new = is_new & (age < obs.step)
    new_shown = is_new[slates]  # [U, k]
    new_best = is_new[truth.best_slates]  # [U, k]
    best_shown = metrics.shown_in(truth.best_slates, slates)  # [U, k]
    shown_attraction = jnp.take_along_axis(truth.attraction, slates, axis=1)  # [U, k]
    ideal = jax.lax.top_k(truth.attraction, k)[0]  # [U, k] true top-k attraction
    # The k-th best attraction, from the best slate (the top-k by attraction under every
    # response model): reusing `ideal` here made XLA:CPU 2.5x slower per step at N = 1000.
    best_attraction = jnp.take_along_axis(truth.attraction, truth.best_slates, axis=1)
    kth_best = jnp.min(best_attraction, axis=1, keepdims=True)  # [U, 1]

    window = window._replace(
        visits=window.visits + users,
        clicks=window.clicks + jnp.sum(user_clicks),
        expected_clicks=window.expected_clicks + jnp.sum(shown_value),
        regret=window.regret + jnp.sum(regret),
        precision=window.precision
        + jnp.sum(metrics.precision_from_ideal(shown_attraction, kth_best)),
        ndcg=window.ndcg + jnp.sum(metrics.ndcg_from_ideal(shown_attraction, ideal)),
        ild=window.ild + jnp.sum(metrics.intra_list_diversity(obs.item_features[slates])),
        novelty=window.novelty + jnp.sum(metrics.self_information(novelty_reference, slates)),
        group_visits=window.group_visits + jnp.sum(group_one_hot, axis=0),
        group_regret=window.group_regret + regret @ group_one_hot.astype(jnp.float32),
        group_best=window.group_best + truth.best_value @ group_one_hot.astype(jnp.float32),
        explored=window.explored + jnp.sum(tr.info.explored.astype(jnp.int32)),
        new_impressions=window.new_impressions + jnp.sum(new_shown.astype(jnp.int32)),
        departures=window.departures + jnp.sum(left),
    )
    if evaluate_model is not False:
        window = jax.lax.cond(
            evaluate_model,
            lambda w: w._replace(**_model_sums(w, tr.info.scores, truth.attraction, k)),
            lambda w: w,
            window,
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


def _model_sums(window: WindowSums, predicted, attraction, slate_size: int) -> dict[str, jax.Array]:
    """The window sums of `metrics.MODEL_METRICS` after one step ([U, N] inputs)."""
    return dict(
        model_visits=window.model_visits + predicted.shape[0],
        prediction_mae=window.prediction_mae
        + jnp.sum(jnp.mean(jnp.abs(predicted - attraction), axis=1)),
        preference_spearman=window.preference_spearman
        + jnp.sum(metrics.spearman(predicted, attraction)),
        greedy_ndcg=window.greedy_ndcg
        + jnp.sum(metrics.ranking_ndcg(predicted, attraction, slate_size)),
    )


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
    """One logged row: every metric of the window, plus the integer counts.

    Exposure of item i is `Σ_j n_ij / log2(j + 2)`, n_ij the times it was shown at position j.
    `n_users` is the population size M (users who ever existed = M + departures);
    `user_homogeneity` is the env's `user_homogeneity` at the end of the window.
    """
    k = totals.exposure.shape[1]
    visits = window.visits.astype(jnp.float32)
    model_visits = jnp.maximum(window.model_visits, 1).astype(jnp.float32)  # 0 sums: 0
    impressions = window.visits * k
    exposure = totals.exposure.astype(jnp.float32) @ metrics.position_discount(k)  # [N]
    group_visits = window.group_visits.astype(jnp.float32)
    has_group = window.group_visits > 0
    safe_group_visits = jnp.where(has_group, group_visits, 1.0)
    group_regret = window.group_regret / safe_group_visits
    new_best = totals.new_best.astype(jnp.float32)
    values = {
        "ctr": window.clicks / impressions.astype(jnp.float32),
        "expected_ctr": window.expected_clicks / (visits * k),
        "regret": window.regret / visits,
        "cum_regret": totals.cum_regret,
        "precision_at_k": window.precision / visits,
        "ndcg_at_k": window.ndcg / visits,
        "ild": window.ild / visits,
        "coverage": jnp.mean(jnp.any(totals.exposure > 0, axis=1).astype(jnp.float32)),
        "novelty": window.novelty / (visits * k),
        "exposure_gini": metrics.gini(exposure),
        "exposure_entropy": metrics.entropy_bits(exposure),
        "excess_group_gap": metrics.excess_gap(
            window.group_best / (safe_group_visits * k), group_regret / k, has_group
        ),
        "group_regret_gap": metrics.spread(group_regret, has_group),
        "new_item_exposure": window.new_impressions / impressions.astype(jnp.float32),
        "new_item_recall": totals.new_best_shown / jnp.where(new_best > 0, new_best, 1.0),
        "churn_rate": window.departures / visits,
        "user_lifetime": totals.visits / (n_users + totals.departures).astype(jnp.float32),
        "user_homogeneity": user_homogeneity,
        "consumption_overlap": metrics.mean_pairwise_jaccard(totals.consumed),
        "explore_fraction": window.explored / impressions.astype(jnp.float32),
        "prediction_mae": window.prediction_mae / model_visits,
        "preference_spearman": window.preference_spearman / model_visits,
        "greedy_ndcg": window.greedy_ndcg / model_visits,
    }
    values = {name: values[name].astype(jnp.float32) for name in metrics.METRIC_NAMES}
    values["clicks"] = window.clicks
    values["impressions"] = impressions
    return values
