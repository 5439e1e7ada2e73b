"""The metric table: every metric's facts in one place (DESIGN.md §5).

Each `Metric` entry states its name, family, axis label (with unit), which direction is
better, whether it needs an agent that predicts clicks, how it is formed, and its definition
as written in the README. Tracking (`recsim.core.tracking`), the logged rows, the result
columns, the summaries, the figures and the README's metric table are all derived from
`TABLE`; adding a metric is one entry here (plus its function in `recsim.core.metrics` if
it is new, and a `Totals` counter if it needs a new running count).

A metric is formed in one of two ways:

- a **window mean** (`per` set): every step adds `step_sum(step)` (a scalar: the sum of the
  step's per-visit or per-slot values) to the window's sum of that metric, and the logged
  value is the window sum / the window's `per` count (visits, impressions = visits × k, or
  the visits at which the model was evaluated);
- a **running or end-of-window value** (`final` set): computed when the row is logged from
  the run's running totals and the window's group sums (`RowInputs`).
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from recsim.core import metrics
from recsim.core.types import Transition

Better = Literal["higher", "lower", "zero", "none"]
"""Which value is better: higher, lower, closest to zero (signed gaps), or none (descriptive
metrics, e.g. how homogeneous the users are)."""
Per = Literal["visits", "impressions", "model_visits"]


class StepInputs(NamedTuple):
    """What one step offers the window-mean metrics (U users, slate size k, N items)."""

    tr: Transition
    novelty_reference: jax.Array  # [N] population attraction at the start of the window
    shown_value: jax.Array  # [U] expected clicks of the shown slate
    regret: jax.Array  # [U] best − shown expected clicks
    clicks: jax.Array  # [U, k] int32
    shown_attraction: jax.Array  # [U, k] true attraction of the shown items
    ideal: jax.Array  # [U, k] true top-k attraction, best first
    kth_best: jax.Array  # [U, 1] k-th best attraction
    new_shown: jax.Array  # [U, k] bool: the shown item is new
    left: jax.Array  # [U] int32: the user left after the visit


class RowInputs(NamedTuple):
    """What a logged row's running and end-of-window metrics are formed from."""

    totals: "object"  # tracking.Totals (running counts over the run so far)
    window: "object"  # tracking.WindowSums (this window's sums)
    exposure: jax.Array  # [N] position-discounted cumulative exposure Σ_j n_ij κ_j
    group_regret: jax.Array  # [G] mean regret per visit of each group in the window
    group_best: jax.Array  # [G] mean best-slate expected clicks per slot of each group
    has_group: jax.Array  # [G] bool: the group visited in the window
    n_users: int  # population size M
    user_homogeneity: jax.Array  # [] the env's user homogeneity at the end of the window


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric: its facts, and how it is formed (exactly one of `step_sum` / `final`)."""

    name: str
    family: str
    label: str  # axis label, with unit
    better: Better
    definition: str  # README text (markdown)
    per: Per | None = None  # window mean: Σ_steps step_sum / this count
    step_sum: Callable[[StepInputs], jax.Array] | None = None  # [] this step's numerator
    integer: bool = False  # the window sum is an exact int32 count
    final: Callable[[RowInputs], jax.Array] | None = None  # running / end-of-window value
    needs_model: bool = False  # needs predicted click probabilities (NaN otherwise)
    # needs an epistemic uncertainty (`Agent.reports_uncertainty`; NaN otherwise)
    needs_uncertainty: bool = False
    headline: bool = False  # drawn in its family's figure
    bounds: tuple[float, float] = (0.0, math.inf)  # the values it can take (bands are clipped)

    def __post_init__(self):
        window_mean = self.per is not None and self.step_sum is not None
        if window_mean == (self.final is not None) or (self.per is None) != (self.step_sum is None):
            raise ValueError(f"metric {self.name}: set per and step_sum, or final alone")


def _sum(values: jax.Array) -> jax.Array:
    return jnp.sum(values)


TABLE: tuple[Metric, ...] = (
    Metric(
        "ctr", "accuracy", "CTR (clicks / impression)", "higher",
        definition=(
            'clicks / impressions in the window (impressions = visits × k)'
        ),
        per="impressions", integer=True,
        step_sum=lambda s: jnp.sum(jnp.sum(s.clicks, axis=1)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "expected_ctr", "accuracy", "expected CTR (click prob. / impression)", "higher",
        definition=(
            "mean expected clicks per shown slot under the environment's response model, `(1/k)"
            ' Σ_j P(click at j)` (the expectation of `ctr`, with less variance; `κ_j a_{u,s_j}`'
            ' under `pbm`)'
        ),
        per="impressions", step_sum=lambda s: jnp.sum(s.shown_value), headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "regret", "accuracy", "regret (expected clicks / visit)", "lower",
        definition=(
            "per-visit regret against the myopic oracle, on the agent's own trajectory: best "
            "slate's expected clicks − shown slate's expected clicks, both under the env's "
            'response model (≥ 0; under `pbm` `Σ_j κ_j (a_{u,(j)} − a_{u,s_j})`); mean over the'
            " window's visits. The best slate is the best for *this visit*: where the world "
            'reacts to what is shown (boredom, drift, leaving users) a policy can beat the '
            'myopic oracle over the horizon, so regret is then not an upper bound on what a '
            'policy loses'
        ),
        per="visits", step_sum=lambda s: jnp.sum(s.regret),
    ),
    Metric(
        "cum_regret", "accuracy", "cumulative regret (expected clicks)", "lower",
        definition=(
            "running sum over steps of the step's mean regret per visit"
        ),
        final=lambda r: r.totals.cum_regret, headline=True,
    ),
    Metric(
        "precision_at_k", "accuracy", "precision@k", "higher",
        definition=(
            '`(1/k) Σ_j [a_{u,s_j} ≥ a_{u,(k)}]`, a_{u,(k)} the k-th largest attraction: the '
            'share of shown items in the true top-k (the best slate of every response model), '
            'an item tied with the k-th best counting as relevant so every optimal slate scores'
            ' 1'
        ),
        per="visits",
        step_sum=lambda s: jnp.sum(metrics.precision_from_ideal(s.shown_attraction, s.kth_best)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "ndcg_at_k", "accuracy", "NDCG@k", "higher",
        definition=(
            '`Σ_j a_{u,s_j} κ_j / Σ_j a_{u,(j)} κ_j` (true attraction as gain; 0 if the ideal '
            'is 0)'
        ),
        per="visits",
        step_sum=lambda s: jnp.sum(metrics.ndcg_from_ideal(s.shown_attraction, s.ideal)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "ild", "diversity", "intra-list diversity (cosine distance)", "higher",
        definition=(
            'mean over pairs a < b of the slate of the cosine distance `1 − cos(x_a, x_b)` of '
            'observable item features, in [0, 2]; 0 for a one-item slate'
        ),
        per="visits", headline=True,
        step_sum=lambda s: jnp.sum(
            metrics.intra_list_diversity(s.tr.obs.item_features[s.tr.slates])
        ),
        bounds=(0.0, 2.0),
    ),
    Metric(
        "coverage", "diversity", "catalogue coverage (share of items)", "higher",
        definition=(
            'distinct items shown so far / N'
        ),
        final=lambda r: jnp.mean(jnp.any(r.totals.exposure > 0, axis=1).astype(jnp.float32)),
        headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "novelty", "novelty", "novelty (bits)", "higher",
        definition=(
            "mean over shown slots of `−log2(ā_i / Σ_j ā_j)` (bits), ā the population's "
            'attraction at the start of the window (`ā_i = Σ_u π_u a_{u,i}` over all M users, π'
            ' = softmax(σ_a α) their arrival weights, as for `best_fixed`): how unexpected the '
            'shown items are under what the population likes, a reference shared by every agent'
            ' of a comparison (same world, common random numbers); log2 N if all items were '
            'equally liked'
        ),
        per="impressions", headline=True,
        step_sum=lambda s: jnp.sum(metrics.self_information(s.novelty_reference, s.tr.slates)),
    ),
    Metric(
        "exposure_gini", "fairness", "exposure Gini (0 = equal)", "lower",
        definition=(
            'Gini index of cumulative exposure `E_i = Σ_j n_ij κ_j` over all N items, n_ij the '
            'times item i was shown at position j: `Σ_i (2i − N − 1) E_(i) / (N Σ E)`, sorted '
            'ascending (0 equal, (N−1)/N all on one item, 0 when nothing shown)'
        ),
        final=lambda r: metrics.gini(r.exposure), headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "exposure_entropy", "fairness", "exposure entropy (bits)", "higher",
        definition=(
            '`−Σ_i p_i log2 p_i`, `p_i = E_i / Σ E` (bits; log2 N for equal exposure)'
        ),
        final=lambda r: metrics.entropy_bits(r.exposure),
    ),
    Metric(
        "excess_group_gap", "fairness", "group CTR gap beyond the oracle's (+ widens)", "zero",
        definition=(
            "signed gap between user groups beyond the oracle's: with b_g and e_g the best-"
            "slate and shown-slate expected clicks / k, averaged over the group's visits in the"
            ' window, h the group the oracle serves best and l the one it serves worst (ties: '
            'the lower group index), `(e_h − e_l) − (b_h − b_l)`. 0 = as fair as the best '
            'possible recommender (the oracle scores exactly 0); > 0 the agent widens the gap '
            "the groups' tastes already make, < 0 it narrows it (groups without visits left "
            'out; 0 with fewer than two)'
        ),
        final=lambda r: metrics.excess_gap(
            r.group_best, r.group_regret / r.totals.exposure.shape[1], r.has_group
        ),
        headline=True,
        bounds=(-math.inf, math.inf),
    ),
    Metric(
        "group_regret_gap", "fairness", "group regret gap (max − min)", "lower",
        definition=(
            "max − min over user groups of the window's mean regret per visit"
        ),
        final=lambda r: metrics.spread(r.group_regret, r.has_group),
    ),
    Metric(
        "new_item_exposure", "cold_start", "new-item share of impressions", "higher",
        definition=(
            "share of the window's impressions on new items: items that arrived after step 0 "
            'and whose age is below one window (`log_every` steps); not applicable (NaN in the '
            'results) in a world without item churn (`env.item_churn_rate` 0)'
        ),
        per="impressions", integer=True, headline=True,
        step_sum=lambda s: jnp.sum(s.new_shown.astype(jnp.int32)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "new_item_recall", "cold_start", "new items of the best slates shown (so far)", "higher",
        definition=(
            "so far: Σ over visits of the new items of the visit's best slate that the agent "
            'showed, / Σ over visits of the new items of the best slate — how well good new '
            'items are found (0 while no best slate has held a new item; not applicable without '
            'item churn)'
        ),
        final=lambda r: r.totals.new_best_shown / jnp.where(
            r.totals.new_best > 0, r.totals.new_best.astype(jnp.float32), 1.0
        ),
        headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "churn_rate", "engagement", "users leaving per visit", "lower",
        definition=(
            'users (not items) who left after their visit / visits, in the window (not '
            'applicable unless `env.patience` > 0)'
        ),
        per="visits", integer=True, step_sum=lambda s: jnp.sum(s.left), headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "user_lifetime", "engagement", "visits per user (so far)", "higher",
        definition=(
            'visits so far / (M + departures so far): mean visits per user who has existed, '
            'users still active counted with their visits so far (a censored lifetime; it grows'
            ' with time in every world, more slowly where users leave)'
        ),
        final=lambda r: r.totals.visits
        / (r.n_users + r.totals.departures).astype(jnp.float32),
        headline=True,
    ),
    Metric(
        "user_homogeneity", "homogenisation", "user homogeneity (mean pairwise cos u·u')",
        "none",
        definition=(
            'mean pairwise cosine similarity of the M hidden (unit) user vectors at the end of '
            'the window, `(‖Σ_m u_m‖² − M) / (M(M − 1))`: rises when drift pulls users toward '
            'the same items (Chaney, Stewart & Engelhardt, 2018); constant without drift'
        ),
        final=lambda r: r.user_homogeneity, headline=True,
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "consumption_overlap", "homogenisation",
        "consumption overlap (mean pairwise Jaccard)", "none",
        definition=(
            'mean Jaccard similarity `|C_a ∩ C_b| / |C_a ∪ C_b|` of the sets of items different'
            ' users have clicked so far, over pairs with a non-empty union, on the P = min(M, '
            '256) user slots 0…P−1 (slots are exchangeable, so a fixed random sample); a user '
            'who leaves empties the slot, clicks of the leaving visit included (the replacement'
            ' has consumed nothing); 0 while no pair has clicked anything'
        ),
        final=lambda r: metrics.mean_pairwise_jaccard(r.totals.consumed), headline=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "explore_fraction", "agent", "explored share of slots", "none",
        definition=(
            "share of the window's slots chosen by exploration rather than greedily (see the "
            'strategies)'
        ),
        per="impressions", integer=True,
        step_sum=lambda s: jnp.sum(s.tr.info.explored.astype(jnp.int32)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "prediction_mae", "model", "prediction MAE (mean |p̂ − a| over items)", "lower",
        definition=(
            "`(1/N) Σ_i |p̂_{u,i} − a_{u,i}|`: the agent's predicted top-position click "
            'probability against the true attraction, over the whole catalogue. Calibration '
            'plus accuracy on items the agent never shows: it can grow while decisions improve,'
            ' so read it with the two rank metrics below'
        ),
        per="model_visits", needs_model=True,
        step_sum=lambda s: jnp.sum(
            jnp.mean(jnp.abs(s.tr.info.scores - s.tr.truth.attraction), axis=1)
        ),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "preference_spearman", "model", "preference recovery (Spearman ρ)", "higher",
        definition=(
            'per user, the Spearman rank correlation over the catalogue between p̂_{u,·} and '
            'a_{u,·} (Pearson correlation of the average ranks, ties sharing their mean rank; 0'
            ' when the prediction is constant): how well the agent has recovered *who likes '
            'what*, whatever its calibration'
        ),
        per="model_visits", needs_model=True, headline=True,
        step_sum=lambda s: jnp.sum(metrics.spearman(s.tr.info.scores, s.tr.truth.attraction)),
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "greedy_ndcg", "model", "NDCG@k of the model's own greedy top-k", "higher",
        definition=(
            "per user, the NDCG@k of the k items the agent's model ranks highest (its greedy "
            'slate, ties by lower index; whatever it actually showed), with the true attraction'
            ' as gain: `Σ_j a_{u,π(j)} κ_j / Σ_j a_{u,(j)} κ_j`. What the model has learned '
            'that matters for decisions — "would exploiting now be good?" — so an explorer\'s '
            'learning shows here even while its shown slates pay for exploring'
        ),
        per="model_visits", needs_model=True, headline=True,
        step_sum=lambda s: jnp.sum(
            metrics.ranking_ndcg(s.tr.info.scores, s.tr.truth.attraction, s.tr.slates.shape[1])
        ),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "calibration_error", "model", "calibration error (ECE, 10 bins)", "lower",
        definition=(
            'expected calibration error of the predicted top-position click probability p̂ '
            '(clipped to [0, 1]) against the true attraction a, pooled over the arriving users '
            '× the whole catalogue: `Σ_b (n_b/n) |mean_b(p̂) − mean_b(a)|` over 10 equal-width '
            'bins of p̂ (b = [b/10, (b+1)/10), the last closed). Does a predicted 0.3 mean a '
            '30% click rate?'
        ),
        per="model_visits", needs_model=True, headline=True,
        step_sum=lambda s: s.tr.slates.shape[0]
        * metrics.calibration_error(s.tr.info.scores, s.tr.truth.attraction),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "uncertainty_coverage", "model", "share of a within p̂ ± 2σ", "none",
        definition=(
            'share of (arriving user, item) pairs whose true attraction lies within p̂ ± 2σ, σ '
            "the agent's reported uncertainty (`ActInfo.uncertainty`: the ensemble's or the "
            "posterior's std): about 0.95 for a calibrated Gaussian belief, lower when the agent"
            ' is overconfident (0 with σ = 0 unless it is exact), higher when it is too unsure;'
            ' not applicable to agents that report no uncertainty (`oracle`, `best_fixed`)'
        ),
        per="model_visits", needs_model=True, needs_uncertainty=True, headline=True,
        step_sum=lambda s: s.tr.slates.shape[0] * metrics.interval_coverage(
            s.tr.info.scores, s.tr.info.uncertainty, s.tr.truth.attraction
        ),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "uncertainty_error_corr", "model", "corr(σ, |p̂ − a|)", "higher",
        definition=(
            'Pearson correlation, pooled over the arriving users × the catalogue, between the '
            "agent's uncertainty σ and its absolute error |p̂ − a| (0 when either is constant): "
            'does the uncertainty point where the errors are, as UCB, Thompson and '
            'uncertainty-query assume? Not applicable to agents that report no uncertainty'
        ),
        per="model_visits", needs_model=True, needs_uncertainty=True,
        step_sum=lambda s: s.tr.slates.shape[0] * metrics.pearson(
            s.tr.info.uncertainty, jnp.abs(s.tr.info.scores - s.tr.truth.attraction)
        ),
        bounds=(-1.0, 1.0),
    ),
)  # fmt: skip
"""Every metric, in the column order of `metrics.parquet`."""

BY_NAME: dict[str, Metric] = {metric.name: metric for metric in TABLE}
METRIC_NAMES: tuple[str, ...] = tuple(BY_NAME)
"""Every metric column of `metrics.parquet`, in table order."""
MODEL_METRICS: tuple[str, ...] = tuple(m.name for m in TABLE if m.needs_model)
"""Metrics of the agent's model of the users: they need predicted click probabilities
(`Agent.predicts_clicks`), NaN for agents without any."""
UNCERTAINTY_METRICS: tuple[str, ...] = tuple(m.name for m in TABLE if m.needs_uncertainty)
"""Model metrics of the agent's uncertainty: NaN for agents that report none
(`Agent.reports_uncertainty` False: their `ActInfo.uncertainty` is 0 by convention, and a
coverage or correlation of a zero σ would describe the convention, not the agent)."""
COLD_START_METRICS: tuple[str, ...] = tuple(m.name for m in TABLE if m.family == "cold_start")
"""Metrics only a world where items are replaced (`env.item_churn_rate` > 0) can give: NaN in
one where none ever is (`recsim.runs.experiment.world_not_applicable`)."""
LEAVING_METRICS: tuple[str, ...] = ("churn_rate",)
"""Metrics only a world where users leave (`env.patience` > 0) can give (`user_lifetime` is
defined in every world)."""
WINDOW_MEANS: tuple[Metric, ...] = tuple(m for m in TABLE if m.per is not None)
COUNT_NAMES = ("clicks", "impressions")
"""Integer columns logged beside the metrics (exact, for determinism checks)."""

FAMILIES: dict[str, tuple[str, ...]] = {}
for _metric in TABLE:
    if _metric.headline:
        FAMILIES.setdefault(_metric.family, ())
        FAMILIES[_metric.family] += (_metric.name,)
"""Family -> its headline metrics (the panels of the family's figure), in table order."""

SWEEP_FAMILIES = ("accuracy", "diversity", "novelty", "fairness")
"""The families of a sweep's comparison figure (`curves.png` of a sweep)."""
SWEEP_METRICS: tuple[str, ...] = sum((FAMILIES[f] for f in SWEEP_FAMILIES), ())
TRADEOFF_X: tuple[str, ...] = tuple(FAMILIES[f][0] for f in ("diversity", "novelty", "fairness"))
"""What accuracy is traded against: the first headline metric of these families."""


def label(name: str) -> str:
    """The axis label of a metric (the name itself for other columns)."""
    return BY_NAME[name].label if name in BY_NAME else name


def readme_table() -> str:
    """The README's metric table (markdown), generated from `TABLE`."""
    lines = ["| family | metric | better | range | definition |", "|---|---|---|---|---|"]
    for metric in TABLE:
        definition = metric.definition.replace("|", "\\|")
        family = metric.family.replace("_", " ")
        row = f"| {family} | `{metric.name}` | {metric.better} | {_range(metric.bounds)} |"
        lines.append(f"{row} {definition} |")
    return "\n".join(lines)


def _range(bounds: tuple[float, float]) -> str:
    """`[0, 1]`, `[0, ∞)`, `(−∞, ∞)`."""
    low, high = bounds
    left = "(−∞" if low == -math.inf else f"[{low:g}"
    right = "∞)" if high == math.inf else f"{high:g}]"
    return f"{left}, {right}"


if __name__ == "__main__":
    print(readme_table())
