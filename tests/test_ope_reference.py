"""The simulator's off-policy study against a NumPy re-implementation written from README
"Off-policy evaluation" alone (and the docstrings of `recsim.ope.simulated`, `recsim.ope.report`
and `slate.epsilon_greedy_gamma`), not from their code.

A small world built by hand: N = 8 items, k = 3, 50 users per step, 4 steps, 2 seeds; random
attractions a, logger scores and reward models q̂; clicks drawn under pbm, P(click at j) =
κ_j a_{s_j} with κ_j = 1/log2(j + 2). Two loggers: uniformly random, and ε-greedy (ε = 0.3).
Targets: the logger itself, greedy, ε-greedy (ε = 0.1), uniform and the oracle.

The reference knows every policy as a distribution over all 336 ordered 3-slates (from the
chain probabilities of README's propensity table), so marginals, Γ_μ(x) = E_μ[1_s 1_sᵀ | x]
(its own pseudo-inverse, per user, with no relabelling trick) and the exact value
V_i(π) = Σ_s π(s | x_i) Σ_j κ_j a_{s_j} come from enumeration. Compared: every moment of
`round_terms` per step (to float32 rounding; the Monte-Carlo truth of a stochastic target
within 4 of its se of the exact one), and every column of `report.estimates_frame` and
`report.errors` at 100 and 200 rounds per seed.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from agents.exploration import epsilon_greedy, greedy, uniform
from agents.exploration.base import Scores
from recsim.core.types import ActInfo, EnvSpec, Feedback, Observation, Transition, Truth
from recsim.ope import report, simulated

N_ITEMS, K, USERS, STEPS, SEEDS = 8, 3, 50, 4, 2
LOGGER_EPSILON, TARGET_EPSILON = 0.3, 0.1
# drops the weights 8 (deterministic) and 7.2 (ε-greedy's kept slot) under the uniform logger
# and 16.7 (the oracle's outside items) under the ε-greedy one; keeps those ≤ 2.1
SWITCH_TAU = 5.0
TRUTH_DRAWS = 256
EVERY = 2  # report snapshots after 2 and 4 steps
Z = 1.959963984540054  # standard normal 0.975 quantile
RTOL = 1e-4
KAPPA = 1.0 / np.log2(np.arange(K) + 2.0)  # [k]
ALL_SLATES = np.array(list(itertools.permutations(range(N_ITEMS), K)))  # [M = 336, k]
TARGETS = ("logger", "greedy", "epsilon_greedy", "uniform", "oracle")
DETERMINISTIC = ("greedy", "oracle")  # whose V_i(π) the study computes exactly
LOGGERS = ("random", "epsilon_greedy")


# ----------------------------------------------------------------- the reference, in NumPy


def chain_of(policy: str, slates, greedy_slates, best_slates) -> np.ndarray:
    """P(s_j | s_<j, x) [U, M, k] of slates [U, M, k] (README's propensity table)."""
    if policy == "random":
        return np.broadcast_to(1.0 / (N_ITEMS - np.arange(K)), slates.shape).astype(np.float64)
    if policy in ("greedy", "oracle"):
        own = greedy_slates if policy == "greedy" else best_slates
        return (slates == own[:, None, :]).astype(np.float64)
    epsilon = {"epsilon_greedy": TARGET_EPSILON, "logger_epsilon_greedy": LOGGER_EPSILON}[policy]
    kept = slates == greedy_slates[:, None, :]
    outside = ~(slates[..., :, None] == greedy_slates[:, None, None, :]).any(-1)
    rank = np.cumsum(outside, axis=-1)  # r: the r-th explored slot
    explored = epsilon / (N_ITEMS - K - rank + 1)
    return np.where(kept, 1.0 - epsilon, np.where(outside, explored, 0.0))


def slate_distribution(policy: str, greedy_slates, best_slates) -> np.ndarray:
    """π(s | x) [U, M] over every ordered k-slate: the product of its chain."""
    slates = np.broadcast_to(ALL_SLATES, (len(greedy_slates), *ALL_SLATES.shape))
    return chain_of(policy, slates, greedy_slates, best_slates).prod(-1)


INDICATOR = np.zeros((len(ALL_SLATES), K * N_ITEMS))  # 1_s [M, kN], position-major
INDICATOR[np.arange(len(ALL_SLATES))[:, None], np.arange(K) * N_ITEMS + ALL_SLATES] = 1.0


def marginals_of(distribution) -> np.ndarray:
    """θ(x) = E[1_s | x] [U, k, N]."""
    return (distribution @ INDICATOR).reshape(-1, K, N_ITEMS)


def gamma_of(distribution) -> np.ndarray:
    """Γ(x) = E[1_s 1_sᵀ | x] [U, kN, kN]."""
    return np.einsum("um,mi,mj->uij", distribution, INDICATOR, INDICATOR)


def policy_name(target: str, logger: str) -> str:
    if target == "logger":
        return "random" if logger == "random" else "logger_epsilon_greedy"
    return {"uniform": "random"}.get(target, target)


def draw_step(rng: np.random.Generator, logger: str) -> dict:
    """One step's world and log (NumPy, float64)."""
    attraction = rng.uniform(0.05, 0.95, (USERS, N_ITEMS))
    mean = rng.normal(size=(USERS, N_ITEMS))  # the logger's model: the greedy criterion
    q_hat = rng.uniform(-0.1, 1.1, (USERS, N_ITEMS))  # its click probabilities (clipped)
    greedy_slates = np.argsort(-mean, axis=1)[:, :K]
    best_slates = np.argsort(-attraction, axis=1)[:, :K]
    mu = slate_distribution(policy_name("logger", logger), greedy_slates, best_slates)
    np.testing.assert_allclose(mu.sum(1), 1.0, rtol=1e-12)
    drawn = np.array([rng.choice(len(ALL_SLATES), p=p / p.sum()) for p in mu])
    slates = ALL_SLATES[drawn]
    shown = np.take_along_axis(attraction, slates, 1)
    clicks = (rng.random((USERS, K)) < KAPPA * shown).astype(np.int32)
    return dict(attraction=attraction, mean=mean, std=rng.uniform(0, 1, (USERS, N_ITEMS)),
                q_hat=q_hat, greedy=greedy_slates, best=best_slates, slates=slates,
                clicks=clicks)  # fmt: skip


def reference_terms(step: dict, logger: str) -> dict:
    """Per-round terms of every target [T, ...] from README's definitions (float64)."""
    slates, clicks = step["slates"], step["clicks"].astype(np.float64)
    users = np.arange(USERS)[:, None]
    logger_policy = policy_name("logger", logger)
    args = (step["greedy"], step["best"])
    mu = slate_distribution(logger_policy, *args)
    mu_marginals = marginals_of(mu)
    mu_slot = mu_marginals[users, np.arange(K), slates]  # [U, k]
    mu_prefix = np.cumprod(chain_of(logger_policy, slates[:, None], *args)[:, 0], axis=1)
    gamma_pinv = np.linalg.pinv(gamma_of(mu), rcond=1e-10, hermitian=True)  # [U, kN, kN]
    q = np.clip(step["q_hat"], 0.0, 1.0)
    reward = clicks.sum(1)
    values = (KAPPA * step["attraction"][:, ALL_SLATES]).sum(-1)  # V(s) [U, M]
    out = {name: [] for name in ("psi", "w", "truth", "truth_var", "unsupported")}
    for target in TARGETS:
        policy = policy_name(target, logger)
        pi = slate_distribution(policy, *args)
        theta = marginals_of(pi)  # [U, k, N]
        w = theta[users, np.arange(K), slates] / mu_slot  # [U, k]
        dm_slot = np.einsum("ukn,un->uk", theta, q)
        residual = clicks - q[users, slates]
        prefix = np.cumprod(chain_of(policy, slates[:, None], *args)[:, 0], axis=1)
        pi_weights = np.einsum("uij,uj->ui", gamma_pinv, theta.reshape(USERS, -1))
        terms = {
            "dm": dm_slot.sum(1),
            "iips": (w * clicks).sum(1),
            "dr": (dm_slot + w * residual).sum(1),
            "switch_dr": (dm_slot + (w <= SWITCH_TAU) * w * residual).sum(1),
            "slate_ips": prefix[:, -1] / mu_prefix[:, -1] * reward,
            "rips": (prefix / mu_prefix * clicks).sum(1),
            "pi": pi_weights[users, np.arange(K) * N_ITEMS + slates].sum(1) * reward,
        }
        out["psi"].append(np.stack([terms[name] for name in simulated.ESTIMATORS]))  # [E, U]
        out["w"].append(w)
        truth = (pi * values).sum(1)
        out["truth"].append(truth)
        out["truth_var"].append((pi * values**2).sum(1) - truth**2)  # of V(s), s ~ π
        out["unsupported"].append((theta * (mu_marginals == 0)).sum((1, 2)) / K)
    out = {name: np.stack(values) for name, values in out.items()}
    out["clicks"] = clicks
    return out


# ------------------------------------------------------------------- ours, on the same log


class PositionBasedStandIn:
    """The pbm click probabilities κ_j a_{s_j}: all `round_terms` asks of an env."""

    def expected_clicks(self, truth: Truth, slates, params):
        shown = jnp.take_along_axis(truth.attraction, slates, axis=1)
        return jnp.asarray(KAPPA, jnp.float32) * shown


def transition(step: dict, logger: str, t: int) -> Transition:
    users = np.arange(USERS)[:, None]
    logger_policy = policy_name("logger", logger)
    args = (step["greedy"], step["best"])
    chain = chain_of(logger_policy, step["slates"][:, None], *args)[:, 0]
    slot = marginals_of(slate_distribution(logger_policy, *args))[
        users, np.arange(K), step["slates"]
    ]
    best_value = (KAPPA * np.take_along_axis(step["attraction"], step["best"], 1)).sum(1)
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    obs = Observation(
        user_ids=jnp.arange(USERS, dtype=jnp.int32),
        user_features=jnp.zeros((USERS, 1)),
        user_groups=jnp.zeros(USERS, jnp.int32),
        item_features=jnp.zeros((N_ITEMS, 1)),
        step=jnp.int32(t),
    )
    truth = Truth(f32(step["attraction"]), jnp.asarray(step["best"], jnp.int32), f32(best_value))
    scores = Scores(mean=f32(step["mean"]), std=f32(step["std"]), sample=f32(step["mean"]))
    info = ActInfo(
        scores=f32(step["q_hat"]),
        uncertainty=f32(step["std"]),
        explored=jnp.asarray(step["slates"] != step["greedy"]),
        propensity=f32(chain),
        slot_propensity=f32(slot),
        policy_scores=scores,
    )
    expected = KAPPA * np.take_along_axis(step["attraction"], step["slates"], 1)
    slates = jnp.asarray(step["slates"], jnp.int32)
    feedback = Feedback(jnp.asarray(step["clicks"]))
    return Transition(obs, slates, feedback, truth, info, f32(expected))


SPEC = EnvSpec(n_items=N_ITEMS, slate_size=K, users_per_step=USERS, user_feature_dim=1,
               item_feature_dim=1, n_groups=1, n_users=USERS)  # fmt: skip


def strategy(name: str, epsilon: float | None = None):
    if name == "random":
        return uniform.make(uniform.UniformConfig(), SPEC)
    if name == "greedy":
        return greedy.make(greedy.GreedyConfig(), SPEC)
    return epsilon_greedy.make(epsilon_greedy.EpsilonGreedyConfig(epsilon=epsilon), SPEC)


@functools.cache
def record_function(logger: str):
    """jit(round_terms) for `logger`, with the test's targets."""
    logger_target = simulated.Target("logger", *strategy(logger, LOGGER_EPSILON))
    targets = (
        logger_target,
        simulated.Target("greedy", *strategy("greedy")),
        simulated.Target("epsilon_greedy", *strategy("epsilon_greedy", TARGET_EPSILON)),
        simulated.Target("uniform", *strategy("random")),
        simulated.Target(simulated.ORACLE, None),
    )
    pseudo_inverse = simulated.logger_pseudo_inverse(
        logger, N_ITEMS, K, {"epsilon": LOGGER_EPSILON}
    )
    assert pseudo_inverse is not None

    def record(key, tr):
        return simulated.round_terms(key, tr, PositionBasedStandIn(), None, logger_target,
                                     targets, pseudo_inverse, SWITCH_TAU, TRUTH_DRAWS)  # fmt: skip

    return jax.jit(record)


@functools.cache
def study(logger: str):
    """(our records [S][steps] of dicts of NumPy arrays, reference terms [S][steps])."""
    ours, reference = [], []
    for seed in range(SEEDS):
        rng = np.random.default_rng([seed, LOGGERS.index(logger)])
        ours.append([])
        reference.append([])
        for t in range(STEPS):
            step = draw_step(rng, logger)
            key = jax.random.fold_in(jax.random.key(seed), t)
            record = record_function(logger)(key, transition(step, logger, t))
            ours[-1].append(jax.tree.map(np.asarray, record))
            reference[-1].append(reference_terms(step, logger))
    return ours, reference


def compare(name: str, ours, reference, rtol: float = RTOL, atol: float = 1e-6) -> float:
    """Asserts |ours − reference| ≤ atol + rtol·|reference| (NaN only where the other is
    NaN); returns the largest relative difference. The message names where they differ."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    assert ours.shape == reference.shape, f"{name}: shape {ours.shape} != {reference.shape}"
    nan = np.isnan(ours) | np.isnan(reference)
    both = np.isnan(ours) & np.isnan(reference)
    difference = np.where(nan, 0.0, np.abs(ours - reference))
    bad = (difference > atol + rtol * np.abs(np.where(nan, 0.0, reference))) | (nan & ~both)
    floor = np.maximum(np.asarray(atol) / rtol, 1e-30)  # below it, differences count as atol's
    relative = difference / np.maximum(np.abs(np.where(nan, 1.0, reference)), floor)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name}: {bad.sum()} of {bad.size} differ; first at {where}: ours "
            f"{ours[where]:.8g} vs reference {reference[where]:.8g}; largest relative "
            f"difference {relative.max():.3g}"
        )
    return float(relative.max(initial=0.0))


def stacked(records: list, steps: slice) -> dict:
    """Records [S][steps] -> leaves [S, steps, ...], as `report.Accumulator.add` takes."""
    per_seed = [jax.tree.map(lambda *leaves: np.stack(leaves), *seed[steps]) for seed in records]
    return jax.tree.map(lambda *leaves: np.stack(leaves), *per_seed)


# ----------------------------------------------------------------------------------- tests


def test_the_reference_policies_have_the_documented_marginals_and_gamma():
    """Enumerating the chains gives README's marginals, `uniform_gamma`'s entries, and
    `epsilon_greedy_gamma` relabelled by the greedy slate (its docstring's claim)."""
    from recsim.ope import slate

    rng = np.random.default_rng(7)
    greedy_slates = np.argsort(-rng.normal(size=(5, N_ITEMS)), axis=1)[:, :K]
    best = greedy_slates[:, ::-1]
    for policy, epsilon in (("epsilon_greedy", TARGET_EPSILON),
                            ("logger_epsilon_greedy", LOGGER_EPSILON)):  # fmt: skip
        distribution = slate_distribution(policy, greedy_slates, best)
        np.testing.assert_allclose(distribution.sum(1), 1.0, rtol=1e-12)
        greedy_one_hot = np.eye(N_ITEMS)[greedy_slates]  # [U, k, N]
        outside = 1.0 - greedy_one_hot.sum(1, keepdims=True)
        closed = (1 - epsilon) * greedy_one_hot + epsilon * outside / (N_ITEMS - K)
        np.testing.assert_allclose(marginals_of(distribution), closed, atol=1e-12)
        # relabel: the greedy item of slot j becomes j, the others k, k+1, … in id order
        gamma = gamma_of(distribution)
        gamma_0 = slate.epsilon_greedy_gamma(N_ITEMS, K, epsilon)
        for user, items in enumerate(greedy_slates):
            order = np.concatenate([items, np.setdiff1d(np.arange(N_ITEMS), items)])
            index = (np.arange(K)[:, None] * N_ITEMS + order).reshape(-1)
            np.testing.assert_allclose(gamma[user][np.ix_(index, index)], gamma_0, atol=1e-12)
    gamma = gamma_of(slate_distribution("random", greedy_slates, best))[0]
    np.testing.assert_allclose(gamma, np.asarray(slate.uniform_gamma(N_ITEMS, K)), atol=1e-7)
    np.testing.assert_allclose(np.diag(gamma), 1 / N_ITEMS)
    assert gamma[0, N_ITEMS + 1] == pytest.approx(1 / (N_ITEMS * (N_ITEMS - 1)))
    assert gamma[0, N_ITEMS] == 0.0 and gamma[0, 1] == 0.0


@pytest.mark.parametrize("logger", LOGGERS)
def test_round_terms_are_the_documented_sums_over_users(logger):
    """Every moment of every step: Σψ, Σψ² of each estimator, SNIPS's moments, the exact
    truth of the deterministic targets, the unsupported mass."""
    ours, reference = study(logger)
    for seed in range(SEEDS):
        for t in range(STEPS):
            record, ref = ours[seed][t], reference[seed][t]
            at = f"{logger} logger, seed {seed}, step {t}"
            assert record["rounds"] == USERS, f"{at}: rounds {record['rounds']}"
            psi = ref["psi"]  # [T, E, U]
            # float32 sums of terms of both signs: error relative to Σ|ψ|, not to Σψ
            compare(f"{at}: sum", record["sum"], psi.sum(-1), atol=RTOL * np.abs(psi).sum(-1))
            compare(f"{at}: sum_sq", record["sum_sq"], (psi**2).sum(-1), atol=1e-6)
            a, b = ref["w"] * ref["clicks"], ref["w"]  # [T, U, k]
            snips = record["snips"]
            compare(f"{at}: snips.a", snips["a"], a.sum(1))
            compare(f"{at}: snips.b", snips["b"], b.sum(1))
            compare(f"{at}: snips.aa", snips["aa"], np.einsum("tuj,tul->tjl", a, a))
            compare(f"{at}: snips.ab", snips["ab"], np.einsum("tuj,tul->tjl", a, b))
            compare(f"{at}: snips.bb", snips["bb"], np.einsum("tuj,tul->tjl", b, b))
            exact = [TARGETS.index(target) for target in DETERMINISTIC]
            compare(f"{at}: truth of {DETERMINISTIC}", record["truth"][exact],
                    ref["truth"][exact].sum(-1))  # fmt: skip
            compare(f"{at}: truth_var of {DETERMINISTIC}", record["truth_var"][exact],
                    np.zeros(len(exact)))  # fmt: skip
            compare(f"{at}: unsupported", record["unsupported"], ref["unsupported"].sum(-1))


@pytest.mark.parametrize("logger", LOGGERS)
def test_the_truth_of_a_random_target_is_a_monte_carlo_mean_of_the_exact_value(logger):
    """V_i(π) of a stochastic target is the mean of 256 drawn slates' expected clicks: over
    all steps and seeds, within 4 of its own se of the exact value, whose Monte-Carlo variance
    Σ_i Var_π(V(s))/draws it also reports (to 10%)."""
    ours, reference = study(logger)
    stochastic = [TARGETS.index(target) for target in TARGETS if target not in DETERMINISTIC]
    truth = np.sum([record["truth"] for seed in ours for record in seed], 0)[stochastic]
    variance = np.sum([record["truth_var"] for seed in ours for record in seed], 0)[stochastic]
    exact = np.sum([ref["truth"].sum(-1) for seed in reference for ref in seed], 0)[stochastic]
    exact_var = np.sum([ref["truth_var"].sum(-1) for seed in reference for ref in seed], 0)
    exact_var = exact_var[stochastic] / TRUTH_DRAWS
    z = (truth - exact) / np.sqrt(variance)
    names = [TARGETS[i] for i in stochastic]
    assert np.all(np.abs(z) < 4), f"{logger}: MC truth − exact, in se, per {names}: {z}"
    ratio = variance / exact_var
    assert np.all(np.abs(ratio - 1) < 0.1), f"{logger}: truth_var / exact per {names}: {ratio}"


def reference_frame(ours: list, reference: list) -> pd.DataFrame:
    """`estimates_frame`'s rows from the per-round terms: mean, sd/√n, SNIPS by the delta
    method. The truth of a stochastic target is our Monte-Carlo sum (its draws are ours)."""
    rows = []
    for seed in range(SEEDS):
        for steps in range(EVERY, STEPS + 1, EVERY):
            refs = reference[seed][:steps]
            psi = np.concatenate([ref["psi"] for ref in refs], axis=-1)  # [T, E, n]
            weights = np.concatenate([ref["w"] for ref in refs], axis=1)  # [T, n, k]
            clicks = np.concatenate([ref["clicks"] for ref in refs])  # [n, k]
            truths = np.concatenate([ref["truth"] for ref in refs], axis=-1)  # [T, n]
            unsupported = np.concatenate([ref["unsupported"] for ref in refs], axis=-1)
            monte_carlo = np.sum([record["truth"] for record in ours[seed][:steps]], 0)
            monte_carlo_var = np.sum([record["truth_var"] for record in ours[seed][:steps]], 0)
            n = psi.shape[-1]
            for index, target in enumerate(TARGETS):
                if target in DETERMINISTIC:
                    truth, truth_se = truths[index].mean(), 0.0
                else:
                    truth, truth_se = monte_carlo[index] / n, np.sqrt(monte_carlo_var[index]) / n
                values = {name: (psi[index, e].mean(), psi[index, e].std(ddof=1) / np.sqrt(n))
                          for e, name in enumerate(simulated.ESTIMATORS)}  # fmt: skip
                a, b = weights[index] * clicks, weights[index]  # [n, k]
                with np.errstate(invalid="ignore", divide="ignore"):
                    per_slot = a.sum(0) / b.sum(0)  # V̂_j
                    linearised = ((a - per_slot * b) / b.mean(0)).sum(1)  # ψ_i
                values["snips"] = (per_slot.sum(), linearised.std(ddof=1) / np.sqrt(n))
                for name in simulated.ALL_ESTIMATORS:
                    estimate, stderr = values[name]
                    rows.append(dict(seed=seed, target=target, estimator=name, step=steps,
                                     rounds=n, estimate=estimate, stderr=stderr,
                                     low=estimate - Z * stderr, high=estimate + Z * stderr,
                                     truth=truth, truth_stderr=truth_se,
                                     unsupported=unsupported[index].mean()))  # fmt: skip
    return pd.DataFrame(rows)


def reference_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """README's `errors.csv` columns, over seeds, from a frame of estimates."""
    frame = frame.assign(error=frame["estimate"] - frame["truth"],
                         covered=(frame["low"] <= frame["truth"])
                         & (frame["truth"] <= frame["high"]))  # fmt: skip
    grouped = frame.groupby(["target", "estimator", "step"])
    return pd.DataFrame({
        "rounds": grouped["rounds"].first(),
        "truth": grouped["truth"].mean(),
        "estimate": grouped["estimate"].mean(),
        "bias": grouped["error"].mean(),
        "bias_se": grouped["error"].std(ddof=1) / np.sqrt(SEEDS),
        "rmse": np.sqrt(grouped["error"].apply(lambda e: np.mean(e**2))),
        "coverage": grouped["covered"].mean(),
        "stderr": grouped["stderr"].mean(),
        "unsupported": grouped["unsupported"].mean(),
        "seeds": grouped["seed"].nunique(),
    }).reset_index()  # fmt: skip


FRAME_KEYS = ["seed", "target", "estimator", "step"]
FRAME_COLUMNS = ["rounds", "estimate", "stderr", "low", "high", "truth", "truth_stderr",
                 "unsupported"]  # fmt: skip
ERROR_KEYS = ["target", "estimator", "step"]
ERROR_COLUMNS = ["rounds", "truth", "estimate", "bias", "bias_se", "rmse", "coverage", "stderr",
                 "unsupported", "seeds"]  # fmt: skip


def our_report(logger: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`estimates_frame` and `errors` of our records, fed in two chunks of two steps."""
    ours, _ = study(logger)
    accumulator = report.Accumulator(EVERY)
    for chunk in (slice(0, 2), slice(2, STEPS)):
        accumulator.add(stacked(ours, chunk))
    frame = report.estimates_frame(accumulator, list(TARGETS), list(range(SEEDS)))
    return frame, report.errors(frame)


def matched(ours: pd.DataFrame, reference: pd.DataFrame, keys: list, name: str):
    assert len(ours) == len(reference), f"{name}: {len(ours)} rows, reference {len(reference)}"
    merged = reference.merge(ours, on=keys, how="left", suffixes=("_ref", ""), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"{name}: rows missing: {missing[keys].to_dict('records')[:3]}"
    return merged


def compare_columns(merged: pd.DataFrame, keys: list, columns: list, name: str) -> dict:
    largest = {}
    for column in columns:
        ours, reference = merged[column].to_numpy(float), merged[f"{column}_ref"].to_numpy(float)
        try:
            largest[column] = compare(f"{name} {column}", ours, reference)
        except AssertionError as error:
            relative = np.abs(ours - reference) / np.maximum(np.abs(reference), 1e-2)
            worst = merged.iloc[int(np.nanargmax(np.where(np.isnan(relative), 0, relative)))]
            raise AssertionError(f"{error}; worst row {worst[keys].to_dict()}") from None
    return largest


@pytest.mark.parametrize("logger", LOGGERS)
def test_the_estimates_frame_is_the_reference_at_every_log_size(logger):
    ours, reference = study(logger)
    frame, _ = our_report(logger)
    merged = matched(frame, reference_frame(ours, reference), FRAME_KEYS, "estimates_frame")
    compare_columns(merged, FRAME_KEYS, FRAME_COLUMNS, f"{logger} logger: estimates_frame")


@pytest.mark.parametrize("logger", LOGGERS)
def test_the_errors_over_seeds_are_the_reference(logger):
    ours, reference = study(logger)
    _, errors = our_report(logger)
    expected = reference_errors(reference_frame(ours, reference))
    merged = matched(errors, expected, ERROR_KEYS, "errors")
    compare_columns(merged, ERROR_KEYS, ERROR_COLUMNS, f"{logger} logger: errors")


def test_snips_is_nan_when_every_weight_is_zero():
    """README: SNIPS is NaN when no logged action has target probability (here: the greedy
    target's SNIPS moments zeroed, as if it never agreed with the log)."""
    ours, reference = study("random")
    greedy_index = TARGETS.index("greedy")
    zeroed = jax.tree.map(np.copy, ours)
    for seed in zeroed:
        for record in seed:
            for moments in record["snips"].values():
                moments[greedy_index] = 0.0
    accumulator = report.Accumulator(EVERY)
    accumulator.add(stacked(zeroed, slice(0, STEPS)))
    frame = report.estimates_frame(accumulator, list(TARGETS), list(range(SEEDS)))
    snips = frame[frame["estimator"] == "snips"]
    greedy_rows = snips["target"] == "greedy"
    assert snips.loc[greedy_rows, "estimate"].isna().all(), snips[greedy_rows]
    assert snips.loc[~greedy_rows, "estimate"].notna().all(), snips[~greedy_rows]
