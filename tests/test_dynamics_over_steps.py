"""The dynamics of `env=latent` over several consecutive steps, against NumPy.

Each test drives the environment for 10–150 steps (the arrival test: 100,000 observations) with
slates it chooses itself (random valid slates, or one fixed slate) and recomputes one mechanism
from the README's equations ("The user model: `env=latent`", "Dynamics"), in float64 NumPy
written here, never with the environment's own functions for the quantity under test. The
environment's random draws (its clicks, its arriving users, the world it samples at `init`) are
inputs to the recomputation: they are read from the feedback, the observation and the initial
state.

- drift: u ← normalize(u + η (v̄ − u)) after a visit with a click, unchanged without one;
  every user's u tracked over 10 steps, several visits each.
- boredom: m_u ← ρ m_u + n_u / k tracked over 10 steps, and the attraction
  a_{u,i} = σ(α⟨u, v_i⟩ + b_i)·(1 − β)^{m_{u,t_i}} of `truth` for the arriving users at every
  step, after the last one included.
- arrivals: the log arrival weights are σ_a α_u with α_u ~ N(0, 1) (20,000 users), and the
  frequency with which each user of a population of 8 arrives over 100,000 steps matches the
  exact inclusion probability of sampling 3 without replacement with weights exp(σ_a α_u).
- item churn: schedule (end of step t with (t + 1) mod P = 0), count round(r N) (a half,
  rounded to even), the ids replaced, and the ages of the observation over four churn periods,
  through both of the environment's paths (the loop's step index and its own clock); and the
  uniformity of the replaced ids over 150 churns.
- leaving: B ← min(P_u, B − 1 + R·1[click]) tracked from the observed clicks over 15 steps;
  who leaves when (B ≤ 0), and that a fresh user with full budget and no boredom takes the
  slot, which keeps its arrival weight.

Tolerances: float32 against float64. One float32 operation errs by at most 2⁻²⁴ ≈ 6e-8
relative; the quantities here go through a few tens of them (a dot product of dimension 8, a
sigmoid of a logit scaled by α = 8, a handful of compounded updates), so rtol 1e-5 with atol
1e-6 (for entries near 0) leaves several times the round-off measured here (at most 1.7e-7
absolute and 1.2e-6 relative, the latter on an attraction of 3e-4), while a planted change of
10 % in any coefficient moves the results by 1e-3 or more. Integer states (ids,
ages, counts, who leaves) and the budgets (multiples of 0.5: exact in float32) are compared
exactly.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from tests.conftest import small_env

RTOL, ATOL = 1e-5, 1e-6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def random_slates(rng, users, n_items, k):
    """[users, k] slates of k distinct items each, uniformly at random."""
    return np.argsort(rng.random((users, n_items)), axis=1)[:, :k].astype(np.int32)


def as_numpy(tree):
    return jax.tree.map(lambda x: None if x is None else np.asarray(x), tree)


def run(env, params, steps, seed=0, slates=None, loop_step=False, truth=False):
    """Steps `env` for `steps` steps (jitted: each function compiles once). `slates`: one fixed
    [U, k] slate array, or None for fresh random slates each step. `loop_step`: set `obs.step`
    as the loop does. Returns one record per step (NumPy), with the state before and after."""
    observe, step, get_truth = jax.jit(env.observe), jax.jit(env.step), jax.jit(env.truth)
    rng = np.random.default_rng(seed)
    state = env.init(jax.random.key(seed), params)
    records = []
    for t in range(steps):
        obs = observe(jax.random.fold_in(jax.random.key(seed + 1), t), state, params)
        if loop_step:
            obs = obs.replace(step=jnp.int32(t))
        shown = slates
        if shown is None:
            spec = env.spec
            shown = random_slates(rng, spec.users_per_step, spec.n_items, spec.slate_size)
        record = dict(t=t, before=as_numpy(state), obs=as_numpy(obs), slates=np.asarray(shown))
        if truth:
            record["truth"] = as_numpy(get_truth(state, obs, params))
        key = jax.random.fold_in(jax.random.key(seed + 2), t)
        state, feedback = step(key, state, obs, jnp.asarray(shown), params)
        record.update(after=as_numpy(state), feedback=as_numpy(feedback))
        records.append(record)
    final_obs = observe(jax.random.fold_in(jax.random.key(seed + 1), steps), state, params)
    final = dict(state=as_numpy(state), obs=as_numpy(final_obs))
    if truth:
        final["truth"] = as_numpy(get_truth(state, final_obs, params))
    return records, final


def test_drift_over_ten_steps_follows_the_readme():
    """u ← normalize(u + η (v̄ − u)), v̄ the mean hidden vector of the clicked items; no change
    without a click. 40 users, 20 arriving per step, 10 steps: each user drifts ~5 times, so the
    updates compound."""
    eta = 0.3
    env, params = small_env(n_users=40, users_per_step=20, drift_rate=eta, bias_mean=0.0)
    records, final = run(env, params, steps=10)
    u = records[0]["before"].user_vecs.astype(np.float64)
    v = records[0]["before"].item_vecs.astype(np.float64)  # no churn: fixed items
    visits = np.zeros(40, int)
    clicked_visits = unclicked_visits = 0
    for r in records:
        ids, slates, clicks = r["obs"].user_ids, r["slates"], r["feedback"].clicks
        for user, slate, click in zip(ids, slates, clicks, strict=True):
            visits[user] += 1
            if click.sum() == 0:
                unclicked_visits += 1
                continue
            clicked_visits += 1
            v_bar = (click[:, None] * v[slate]).sum(0) / click.sum()
            moved = u[user] + eta * (v_bar - u[user])
            u[user] = moved / np.linalg.norm(moved)
        np.testing.assert_allclose(r["after"].user_vecs, u, rtol=RTOL, atol=ATOL)
    assert clicked_visits >= 50 and unclicked_visits >= 10  # both branches exercised
    assert visits.max() >= 7
    # The users moved a lot: the comparison is not between two unchanged arrays.
    assert np.abs(u - records[0]["before"].user_vecs).max() > 0.3
    np.testing.assert_allclose(final["state"].user_vecs, u, rtol=RTOL, atol=ATOL)


def test_boredom_and_attraction_over_ten_steps_follow_the_readme():
    """m_u ← ρ m_u + n_u / k (n_{u,t}: topic-t items in the slate) after every visit, and the
    truth's attraction σ(α⟨u, v_i⟩ + b_i)·(1 − β)^{m_{u,t_i}} for every arriving user at every
    step (after the last step included). ρ = 0.7, β = 0.25, k = 5 over 4 topics."""
    alpha, beta, rho, k = 8.0, 0.25, 0.7, 5
    env, params = small_env(
        n_users=40, users_per_step=20, slate_size=k, click_scale=alpha, boredom_penalty=beta,
        boredom_decay=rho, bias_mean=-1.0,
    )  # fmt: skip
    records, final = run(env, params, steps=10, truth=True)
    start = records[0]["before"]
    u = start.user_vecs.astype(np.float64)  # drift is off: u stays
    v, b = start.item_vecs.astype(np.float64), start.item_bias.astype(np.float64)
    topics = start.item_topics  # no churn: fixed items
    m = np.zeros((40, 4))

    def attraction(ids):
        return sigmoid(alpha * u[ids] @ v.T + b) * (1.0 - beta) ** m[ids][:, topics]

    for r in records:
        ids = r["obs"].user_ids
        np.testing.assert_allclose(r["truth"].attraction, attraction(ids), rtol=RTOL, atol=ATOL)
        for user, slate in zip(ids, r["slates"], strict=True):
            n = np.bincount(topics[slate], minlength=4)
            m[user] = rho * m[user] + n / k
        np.testing.assert_allclose(r["after"].boredom, m, rtol=RTOL, atol=ATOL)
    assert m.max() > 1.0  # repeated topics over several visits accumulate past one visit's 1
    final_ids = final["obs"].user_ids
    expected = attraction(final_ids)
    np.testing.assert_allclose(final["truth"].attraction, expected, rtol=RTOL, atol=ATOL)
    # Boredom matters in that truth: without it the attraction would differ by far more.
    fresh = sigmoid(alpha * u[final_ids] @ v.T + b)
    assert np.abs(fresh - expected).max() > 0.01


def inclusion_probabilities(weights, draws):
    """Exact P(user i is among `draws` users sampled one by one without replacement, each with
    probability proportional to its weight among those left): sum over ordered sequences."""
    weights = np.asarray(weights, np.float64)
    total = weights.sum()
    p = np.zeros(len(weights))
    for sequence in itertools.permutations(range(len(weights)), draws):
        chosen = weights[list(sequence)]
        left = total - np.concatenate([[0.0], np.cumsum(chosen)[:-1]])
        p[list(sequence)] += np.prod(chosen / left)
    return p


def test_arrivals_are_weighted_by_activity():
    """Arrivals: U distinct users sampled without replacement with weights exp(σ_a α_u),
    α_u ~ N(0, 1), σ_a = 1.5.

    1. The law of the weights: over 20,000 users the log weights divided by σ_a have mean 0
       and standard deviation 1 (standard errors 0.007 and 0.005; tolerance 0.03: a 10 % error
       in σ_a shows as a standard deviation of 1.1 or 0.91) and pass a Kolmogorov–Smirnov test
       against N(0, 1).
    2. The sampling: 8 users, 3 arriving per step, 100,000 steps (keys). Each user's count of
       arrivals is Binomial(n, p_i) with p_i its exact inclusion probability under sequential
       sampling without replacement (`inclusion_probabilities`, not the Gumbel trick); every
       |z_i| must be below 4.5 (all 8 together wrongly fail with probability < 6e-5). Power: with
       weights from 1.1·σ_a the expected |z| of the most affected user is asserted above 8.5
       (it is 28 for this population), so that error is detected with probability > 0.9999,
       and the observed counts are asserted to fail that comparison.
    """
    sigma_a = 1.5
    env, params = small_env(n_users=20_000, users_per_step=8, activity_skew=sigma_a)
    alpha = np.asarray(env.init(jax.random.key(3), params).user_activity, np.float64) / sigma_a
    assert abs(alpha.mean()) < 0.03 and abs(alpha.std() - 1.0) < 0.03
    assert stats.kstest(alpha, "norm").pvalue > 1e-3

    users, arriving, n = 8, 3, 100_000
    env, params = small_env(n_users=users, users_per_step=arriving, activity_skew=sigma_a)
    state = env.init(jax.random.key(4), params)
    alpha = np.asarray(state.user_activity, np.float64) / sigma_a  # the α_u of this population

    @jax.jit
    def arrivals(steps):
        key = jax.random.key(5)
        return jax.vmap(lambda t: env.observe(jax.random.fold_in(key, t), state, params).user_ids)(
            steps
        )

    ids = np.asarray(arrivals(jnp.arange(n)))
    assert all(len(set(row)) == arriving for row in ids[:1000])  # distinct within a step
    counts = np.bincount(ids.ravel(), minlength=users)

    def z_scores(scale):
        p = inclusion_probabilities(np.exp(scale * alpha), arriving)
        return (counts - n * p) / np.sqrt(n * p * (1 - p)), p

    z, p = z_scores(sigma_a)
    assert np.abs(z).max() < 4.5, (z, p)
    # Power against a 10 % error in σ_a.
    p_wrong = inclusion_probabilities(np.exp(1.1 * sigma_a * alpha), arriving)
    shift = np.sqrt(n) * (p_wrong - p) / np.sqrt(p * (1 - p))
    assert np.abs(shift).max() > 8.5, shift
    z_wrong, _ = z_scores(1.1 * sigma_a)
    assert np.abs(z_wrong).max() > 4.5


def check_churn(loop_step):
    n_items, rate, period, steps = 36, 0.125, 3, 12
    count = 4  # round(0.125 · 36) = round(4.5) = 4: halves to even
    env, params = small_env(n_items=n_items, item_churn_rate=rate, item_churn_every=period)
    fixed = np.tile(np.arange(3, dtype=np.int32), (8, 1))
    records, final = run(env, params, steps, slates=fixed, loop_step=loop_step)
    born = np.zeros(n_items, int)
    churns = 0
    for r in records:
        t, before, after = r["t"], r["before"], r["after"]
        np.testing.assert_array_equal(r["obs"].item_age, t - born)
        changed = np.any(after.item_vecs != before.item_vecs, axis=1)
        due = (t + 1) % period == 0
        assert changed.sum() == (count if due else 0), (t, changed.sum())
        # Everything of a replaced id is fresh (bias, noisy features); nothing else changes.
        np.testing.assert_array_equal(after.item_bias != before.item_bias, changed)
        features = after.item_features[:, 4:] != before.item_features[:, 4:]
        np.testing.assert_array_equal(np.any(features, axis=1), changed)
        np.testing.assert_allclose(np.linalg.norm(after.item_vecs[changed], axis=1), 1, RTOL)
        born[changed] = t + 1
        churns += due
        np.testing.assert_array_equal(after.item_born, born)
    assert churns == 4
    np.testing.assert_array_equal(final["obs"].item_age, steps - born)
    assert np.sum(born == 0) >= n_items - 4 * count  # ids may be replaced twice
    assert set(np.unique(born)) <= {0, 3, 6, 9, 12}


def test_item_churn_schedule_count_and_ages_over_four_periods():
    """At the end of step t with (t + 1) mod P = 0, round(r N) ids get fresh items and their
    age restarts at 0 (the next step's observation reports age 0, then 1, 2, …); nothing
    changes at the other steps. P = 3, r = 0.125, N = 36 (r N = 4.5: 4 ids), 12 steps, through
    the environment's own clock (`obs.step` unset)."""
    check_churn(loop_step=False)


def test_item_churn_schedule_through_the_loops_step_index():
    """The same, with `obs.step = t` set as the loop sets it (the `lax.cond` path)."""
    check_churn(loop_step=True)


def test_item_churn_picks_ids_uniformly():
    """150 churns (P = 1) of 4 of 36 ids: each id is replaced Binomial(150, 1/9) times
    (mean 16.7, sd 3.85); every id within 4.5 sd; at least 30 distinct sets."""
    env, params = small_env(n_items=36, item_churn_rate=0.125, item_churn_every=1)
    fixed = np.tile(np.arange(3, dtype=np.int32), (8, 1))
    records, _ = run(env, params, 150, slates=fixed)
    replaced = np.array(
        [np.any(r["after"].item_vecs != r["before"].item_vecs, axis=1) for r in records]
    )
    assert np.all(replaced.sum(1) == 4)
    counts, mean = replaced.sum(0), 150 / 9
    assert np.all(np.abs(counts - mean) < 4.5 * np.sqrt(150 * (1 / 9) * (8 / 9))), counts
    assert len({tuple(np.flatnonzero(row)) for row in replaced}) >= 30


def test_leaving_users_follow_the_budget_over_fifteen_steps():
    """B ← min(P_u, B − 1 + R·1[the visit had a click]), from B = P_u; the user leaves when
    B ≤ 0 and a fresh user (new u, no boredom, full budget) takes the slot, which keeps its
    arrival weight. P_u = 2, R = 1.5 (budgets are multiples of 0.5: exact), 20 users, 8 arriving
    per step, 15 steps; the budgets are tracked from the observed clicks alone."""
    patience, refill = 2.0, 1.5
    env, params = small_env(n_users=20, users_per_step=8, patience=patience, patience_refill=refill)
    records, final = run(env, params, steps=15)
    budget = np.full(20, patience)
    left_total = refills = capped = 0  # visits that left, refilled below the cap, capped
    for r in records:
        ids, clicks, before, after = (
            r["obs"].user_ids,
            r["feedback"].clicks,
            r["before"],
            r["after"],
        )
        satisfied = np.any(clicks > 0, axis=1)
        spent = budget[ids] - 1.0 + refill * satisfied
        new = np.minimum(patience, spent)
        left = new <= 0
        np.testing.assert_array_equal(r["feedback"].left, left, err_msg=f"step {r['t']}")
        budget[ids] = np.where(left, patience, new)
        np.testing.assert_array_equal(after.budget, budget, err_msg=f"step {r['t']}")
        gone, stayed = ids[left], ids[~left]
        # Fresh users in the slots of those who left; the others keep their u (drift is off:
        # u is only renormalised after a click, a float32 round-off).
        assert np.all(np.abs(after.user_vecs[gone] - before.user_vecs[gone]).max(1) > 1e-3)
        np.testing.assert_allclose(after.user_vecs[stayed], before.user_vecs[stayed], RTOL, ATOL)
        np.testing.assert_array_equal(after.boredom[gone], 0.0)
        assert np.all(after.boredom[stayed].sum(1) > 0)
        np.testing.assert_array_equal(after.user_activity, before.user_activity)
        left_total += left.sum()
        refills += np.sum(satisfied & (spent <= patience))
        capped += np.sum(spent > patience)
    # Every branch was taken, several times.
    assert min(left_total, refills, capped) >= 10, (left_total, refills, capped)
    np.testing.assert_array_equal(final["state"].budget, budget)
