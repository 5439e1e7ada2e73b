"""The Open Bandit Dataset loader and its check, on small synthetic logs in OBD's exact format.

The synthetic world is known: the click probability of item a at position p for a user whose
first feature is in category c is σ(T[a, p] + u[c]) (the form of the reward model, so DM is
right too), positions are uniform, the random log shows items uniformly (μ = 1/N) and the
"bts" log from a known π(a | p). The exact value of π is then

    V(π) = Σ_p 1/P Σ_a π(a | p) Σ_c P(c) σ(T[a, p] + u[c]),

and every unbiased estimator from the random log must fall within 3 standard errors of it
(V = 0.313 against 0.189 for the uniform policy; π with its positions reversed is worth 0.238,
about 15 standard errors away, so a mix-up of positions or propensities fails the check).
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsim.ope import obd
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
N_ITEMS, N_POSITIONS = 6, 3
RANDOM_ROWS, BTS_ROWS = 20_000, 40_000
# logit of a click on item a at position p: items 0..5 from 4% to 40%, even items best at
# position 1, odd ones at 3 (so swapping positions changes the value)
ITEM_CTR = np.linspace(0.04, 0.4, N_ITEMS)
POSITION_SHIFT = np.where(np.arange(N_ITEMS)[:, None] % 2 == 0, [0, -0.5, -1], [-1, -0.5, 0])
ITEM_POSITION = np.log(ITEM_CTR / (1 - ITEM_CTR))[:, None] + POSITION_SHIFT  # [N, P]
USER = np.array([-0.5, 0.5])  # logit shift of user_feature_0's two categories
USER_SHARE = np.array([0.3, 0.7])
BTS = np.array([[0.02, 0.02, 0.02, 0.02, 0.7, 0.22], [0.1, 0.1, 0.1, 0.1, 0.3, 0.3],
                [0.02, 0.02, 0.06, 0.1, 0.1, 0.7]]).T  # fmt: skip  # π(a | p) [N, P]
LEVELS = (2, 3, 4, 5)  # categories of user_feature_0..3


def hashed(feature: int, level: int) -> str:
    """A category as OBD stores it: a 32-character hex hash."""
    return hashlib.md5(f"user_feature_{feature}={level}".encode()).hexdigest()


def write_log(root, policy, campaign, actions, positions, clicks, propensities, users):
    """`<root>/<policy>/<campaign>/<campaign>.csv` and `item_context.csv` as OBD has them:
    an unnamed index column, 1-based positions, hashed user features, affinity columns."""
    n = len(actions)
    start = pd.Timestamp("2019-11-24", tz="UTC")
    frame = pd.DataFrame({
        "timestamp": start + pd.to_timedelta(np.arange(n) * 7_300_001, unit="us"),
        "item_id": actions, "position": np.asarray(positions) + 1, "click": clicks,
        "propensity_score": propensities,
        **{f"user_feature_{f}": [hashed(f, c) for c in users[:, f]] for f in range(4)},
        **{f"user-item_affinity_{a}": np.zeros(n) for a in range(N_ITEMS)},
    })  # fmt: skip
    directory = Path(root) / policy / campaign
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_csv(directory / f"{campaign}.csv")
    items = pd.DataFrame({"item_id": range(N_ITEMS), "item_feature_0": np.linspace(-1, 1, N_ITEMS),
                          **{f"item_feature_{k}": [hashed(9, a % 3) for a in range(N_ITEMS)]
                             for k in (1, 2, 3)}})  # fmt: skip
    items.to_csv(directory / "item_context.csv")


def simulate(rng, n, policy):
    """(actions, positions, clicks, users) of n rows; policy: π(a | p) [N, P]."""
    positions = rng.integers(N_POSITIONS, size=n)
    actions = np.array([rng.choice(N_ITEMS, n, p=policy[:, p]) for p in range(N_POSITIONS)])
    actions = actions[positions, np.arange(n)]
    users = np.stack([rng.integers(levels, size=n) for levels in LEVELS], axis=1)
    users[:, 0] = rng.choice(2, size=n, p=USER_SHARE)
    probability = 1 / (1 + np.exp(-(ITEM_POSITION[actions, positions] + USER[users[:, 0]])))
    return actions, positions, (rng.random(n) < probability).astype(int), users


def exact_value(policy):
    clicks = 1 / (1 + np.exp(-(ITEM_POSITION[:, :, None] + USER)))  # [N, P, users]
    return float(np.mean(np.sum(policy * (clicks @ USER_SHARE), axis=0)))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("obd")
    rng = np.random.default_rng(0)
    uniform = np.full((N_ITEMS, N_POSITIONS), 1 / N_ITEMS)
    written = {"random": simulate(rng, RANDOM_ROWS, uniform), "bts": simulate(rng, BTS_ROWS, BTS)}
    actions, positions, clicks, users = written["random"]
    write_log(root, "random", "men", actions, positions, clicks, 1 / N_ITEMS, users)
    actions, positions, clicks, users = written["bts"]
    write_log(root, "bts", "men", actions, positions, clicks, BTS[actions, positions], users)
    random, bts = obd.load(root, "random", "men"), obd.load(root, "bts", "men")
    return root, random, bts, obd.estimate(random, obd.target_policy(bts)), written


def test_the_loader_reads_the_format(world):
    _, random, bts, _, written = world
    assert (random.n_items, random.n_positions, random.user_levels) == (N_ITEMS, 3, LEVELS)
    assert random.actions.shape == random.clicks.shape == (RANDOM_ROWS,)
    assert random.user_codes.shape == (RANDOM_ROWS, 4) and random.positions.min() == 0
    assert str(random.timestamps[1]) == "2019-11-24T00:00:07.300001"
    np.testing.assert_allclose(random.propensities, 1 / N_ITEMS, rtol=1e-6)
    np.testing.assert_allclose(obd.target_policy(bts), BTS, atol=0.015)
    # every row as written, in order: 0-based positions, the user categories as codes (one
    # code per category of each feature, whatever codes the loader chose)
    for log, (actions, positions, clicks, users) in ((random, written["random"]),
                                                     (bts, written["bts"])):  # fmt: skip
        np.testing.assert_array_equal(log.actions, actions)
        np.testing.assert_array_equal(log.positions, positions)
        np.testing.assert_array_equal(log.clicks, clicks)
        for f, levels in enumerate(LEVELS):
            codes = log.user_codes[:, f]
            pairs = set(zip(users[:, f].tolist(), codes.tolist(), strict=True))
            assert len(pairs) == len(set(users[:, f])) == len(set(codes)) == levels, f
    np.testing.assert_allclose(bts.propensities, BTS[written["bts"][0], written["bts"][1]],
                               rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("name", ["IPS", "SNIPS", "DR", "DM"])
def test_estimates_of_bts_from_the_random_log_are_within_3_se_of_the_truth(world, name):
    found, truth = world[3][name], exact_value(BTS)
    # DM's se covers only the spread over users, not q̂'s error: judge it by DR's se.
    stderr = world[3]["DR"].stderr if name == "DM" else found.stderr
    assert abs(found.value - truth) < 3 * stderr, f"{name} {found} vs the truth {truth:.4f}"
    assert stderr < 0.01  # small enough for the check to mean something


def test_the_on_policy_ctr_is_the_bts_logs_mean_click(world):
    bts, truth = world[2], exact_value(BTS)
    found = obd.on_policy(bts)
    assert found.value == pytest.approx(bts.clicks.mean())
    assert abs(found.value - truth) < 3 * found.stderr


def test_ips_and_snips_by_hand(tmp_path):
    users = np.zeros((6, 4), int)
    # bts: position 1 shows items 0, 0, 1, 0 and position 2 items 1, 1:
    # π̂(· | 1) = (3/4, 1/4), π̂(· | 2) = (0, 1).
    write_log(tmp_path, "bts", "all", [0, 0, 1, 0, 1, 1], [0, 0, 0, 0, 1, 1],
              [0, 1, 0, 0, 0, 0], 0.5, users)  # fmt: skip
    # random (a, p, click), μ = 1/2: weights π̂(a_i | p_i) / μ = 1.5, 1.5, 2, 0;
    # IPS = (1.5·1 + 1.5·0 + 2·1 + 0·1) / 4 = 0.875, SNIPS = 3.5 / (1.5 + 1.5 + 2 + 0) = 0.7.
    write_log(tmp_path, "random", "all", [0, 0, 1, 0], [0, 0, 1, 1], [1, 0, 1, 1], 0.5,
              users[:4])  # fmt: skip
    random, bts = obd.load(tmp_path, "random", "all"), obd.load(tmp_path, "bts", "all")
    target = obd.target_policy(bts)
    np.testing.assert_allclose(target[:2], [[0.75, 0.0], [0.25, 1.0]])
    estimates = obd.estimate(random, target)
    assert estimates["IPS"].value == pytest.approx(0.875)
    assert estimates["SNIPS"].value == pytest.approx(0.7)
    assert obd.on_policy(bts).value == pytest.approx(1 / 6)


def one_line_error(call) -> str:
    with pytest.raises(obd.DataError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_missing_column_is_named_with_what_is_expected(world, tmp_path):
    frame = pd.read_csv(world[0] / "random" / "men" / "men.csv", nrows=5)
    directory = tmp_path / "random" / "all"
    directory.mkdir(parents=True)
    frame.drop(columns="propensity_score").to_csv(directory / "all.csv", index=False)
    (directory / "item_context.csv").write_text(",item_id\n0,0\n1,1\n")
    message = one_line_error(lambda: obd.load(tmp_path, "random", "all"))
    assert str(directory / "all.csv") in message and "no column propensity_score" in message
    assert "expected timestamp, item_id, position, click, propensity_score" in message


def test_missing_data_and_bad_values_say_what_is_wrong(world, tmp_path):
    message = one_line_error(lambda: obd.load(tmp_path, "bts", "all"))
    assert str(tmp_path / "bts" / "all") in message and "research.zozo.com" in message
    assert one_line_error(lambda: obd.main(None, "all", tmp_path)).startswith("data.path:")
    assert "all, men, women" in one_line_error(lambda: obd.main(str(world[0]), "kids", tmp_path))
    write_log(tmp_path, "random", "all", [0, 1], [0, -1], [0, 1], 0.5, np.zeros((2, 4), int))
    message = one_line_error(lambda: obd.load(tmp_path, "random", "all"))
    assert "position=0 in data row 2" in message
    write_log(tmp_path, "random", "men", [0, 1], [0, 0], [0, ""], 0.5, np.zeros((2, 4), int))
    assert "click is empty in 1 rows" in one_line_error(lambda: obd.load(tmp_path, "random", "men"))


def entry_point(path, run_dir) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "experiments.ope", "data=obd", f"data.path={path}",
               "data.campaign=men", f"hydra.run.dir={run_dir}"]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_the_entry_point_prints_the_table_and_writes_the_results(world, tmp_path):
    result = entry_point(world[0], tmp_path / "run")
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "run" / "obd.csv")
    assert list(table["estimator"]) == ["DM", "IPS", "SNIPS", "DR"]
    assert (tmp_path / "run" / "run.json").is_file()
    assert "20,000 rows" in result.stdout and "on-policy" in result.stdout
    # the counts of the logs as written, and bts's CTR as the mean of its clicks
    clicks = {policy: int(world[4][policy][2].sum()) for policy in ("random", "bts")}
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["rows"] == {"random": RANDOM_ROWS, "bts": BTS_ROWS} and info["clicks"] == clicks
    assert (info["campaign"], info["n_items"], info["n_positions"]) == ("men", N_ITEMS, 3)
    assert result.stdout.splitlines()[0] == (
        f"Open Bandit Dataset {world[0]}, campaign men: Bernoulli TS's CTR from the random log "
        f"(20,000 rows, {clicks['random']} clicks) against its own log (40,000 rows, "
        f"{clicks['bts']} clicks)"
    )
    ctr = clicks["bts"] / BTS_ROWS
    np.testing.assert_allclose(table["on_policy_ctr"], ctr, rtol=1e-6)
    # (the entry point divides by its float32 mean: 1e-5 allows for that rounding)
    np.testing.assert_allclose(table["relative_error"], (table["estimate"] - ctr).abs() / ctr,
                               rtol=1e-5)  # fmt: skip
    failed = entry_point(tmp_path / "nowhere", tmp_path / "bad")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: data.path=") and "nowhere" in lines[0]
