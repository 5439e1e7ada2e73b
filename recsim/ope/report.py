"""From the per-step records of `recsim.ope.simulated` to estimates at growing log sizes, and
their errors against the truth over seeds (host side, NumPy and pandas).

At n rounds (the log so far), per simulation, target and estimator:

    V̂ = Σψ / n,   se = √((Σψ² − (Σψ)²/n) / (n − 1) / n)            (from the summed moments)
    SNIPS: V̂ = Σ_j A_j / B_j  (A_j = Σ_i w_ij c_ij, B_j = Σ_i w_ij), se by the delta method on
           ψ_i = Σ_j (w_ij c_ij − V̂_j w_ij) / (B_j / n), whose square needs the cross moments
    truth V = Σ_i V_i(π) / n,  truth_se = √(Σ_i Var_MC(V_i)) / n  (0 where V_i is exact)
    unsupported = Σ_i m_i / n, m_i = π's per-slot mass on pairs the logger never shows

Over seeds (each seed a replication: its own world, logger and log) at one log size:
bias = mean(V̂ − V), bias_se = sd(V̂ − V)/√S, RMSE = √mean((V̂ − V)²), and coverage = the share
of seeds whose 95% interval V̂ ± 1.96 se holds V.
"""

import numpy as np
import pandas as pd

from recsim.ope.estimate import Z95
from recsim.ope.simulated import ALL_ESTIMATORS, ESTIMATORS


class Accumulator:
    """Running sums of the records (float64), snapshotted at every `every`-th step."""

    def __init__(self, every: int):
        self.every = every
        self.totals = None
        self.snapshots: list[dict] = []  # per window end: leaves [S, ...]
        self.steps: list[int] = []
        self.done = 0

    def add(self, records: dict) -> None:
        """Folds one chunk's records (leaves [S, steps of the chunk, ...]) in."""
        flat = _flatten(records)
        steps = next(iter(flat.values())).shape[1]
        cumulative = {name: np.cumsum(values.astype(np.float64), axis=1)
                      for name, values in flat.items()}  # fmt: skip
        if self.totals is not None:
            cumulative = {name: values + self.totals[name][:, None]
                          for name, values in cumulative.items()}  # fmt: skip
        for index in range(self.every - 1 - self.done % self.every, steps, self.every):
            self.snapshots.append({name: values[:, index] for name, values in cumulative.items()})
            self.steps.append(self.done + index + 1)
        self.totals = {name: values[:, -1] for name, values in cumulative.items()}
        self.done += steps


def _flatten(records: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat = {}
    for name, value in records.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = np.asarray(value)
    return flat


def _snips(moments: dict, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V̂, se) [S, T] of per-slot SNIPS summed over slots (module docstring)."""
    a, b = moments["snips.a"], moments["snips.b"]  # [S, T, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_slot = a / b
        mean_b = b / n[:, None, None]
        scale = 1.0 / mean_b  # [S, T, k]
        v = per_slot
        aa, ab, bb = moments["snips.aa"], moments["snips.ab"], moments["snips.bb"]  # [S,T,k,k]
        # Σ_i ψ_i² = Σ_{j,j'} s_j s_j' (AA − V_j' AB_{jj'} − V_j AB_{j'j} + V_j V_j' BB)
        cross = (aa - v[..., None, :] * ab - v[..., :, None] * np.swapaxes(ab, -1, -2)
                 + v[..., :, None] * v[..., None, :] * bb)  # fmt: skip
        square = np.einsum("stj,stl,stjl->st", scale, scale, cross)
        se = np.sqrt(np.maximum(square, 0.0) / (n[:, None] - 1) / n[:, None])
    return np.sum(per_slot, axis=-1), se


def estimates_frame(accumulator: Accumulator, targets: list[str], seeds: list[int]) -> pd.DataFrame:
    """One row per seed × target × estimator × log size: `rounds`, `step`, `estimate`,
    `stderr`, `low`, `high`, `truth`, `truth_stderr`."""
    frames = []
    for step, moments in zip(accumulator.steps, accumulator.snapshots, strict=True):
        n = moments["rounds"]  # [S]
        total, squares = moments["sum"], moments["sum_sq"]  # [S, T, E]
        with np.errstate(invalid="ignore", divide="ignore"):
            value = total / n[:, None, None]
            variance = (squares - total**2 / n[:, None, None]) / (n[:, None, None] - 1)
            se = np.sqrt(np.maximum(variance, 0.0) / n[:, None, None])
        snips_value, snips_se = _snips(moments, n)
        values = dict(zip(ESTIMATORS, np.moveaxis(value, -1, 0), strict=True))
        ses = dict(zip(ESTIMATORS, np.moveaxis(se, -1, 0), strict=True))
        values["snips"], ses["snips"] = snips_value, snips_se
        truth = moments["truth"] / n[:, None]
        truth_se = np.sqrt(moments["truth_var"]) / n[:, None]
        unsupported = moments["unsupported"] / n[:, None]
        for estimator in ALL_ESTIMATORS:
            frame = pd.DataFrame({
                "seed": np.repeat(seeds, len(targets)),
                "target": np.tile(targets, len(seeds)),
                "estimator": estimator,
                "step": step,
                "rounds": np.repeat(n, len(targets)).astype(np.int64),
                "estimate": values[estimator].ravel(),
                "stderr": ses[estimator].ravel(),
                "truth": truth.ravel(),
                "truth_stderr": truth_se.ravel(),
                "unsupported": unsupported.ravel(),
            })  # fmt: skip
            frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["low"] = frame["estimate"] - Z95 * frame["stderr"]
    frame["high"] = frame["estimate"] + Z95 * frame["stderr"]
    return frame


def errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Per target × estimator × log size, over seeds: truth, estimate, bias, bias_se, rmse,
    coverage, stderr (the mean reported se), unsupported (π's per-slot mass where μ = 0),
    seeds."""
    covered = (frame["low"] <= frame["truth"]) & (frame["truth"] <= frame["high"])
    frame = frame.assign(error=frame["estimate"] - frame["truth"], covered=covered)
    grouped = frame.groupby(["target", "estimator", "step", "rounds"], sort=False)
    table = grouped.agg(
        truth=("truth", "mean"),
        estimate=("estimate", "mean"),
        bias=("error", "mean"),
        bias_sd=("error", "std"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        coverage=("covered", "mean"),
        stderr=("stderr", "mean"),
        unsupported=("unsupported", "mean"),
        seeds=("seed", "count"),
    ).reset_index()
    table["bias_se"] = table.pop("bias_sd") / np.sqrt(table["seeds"])
    return table
