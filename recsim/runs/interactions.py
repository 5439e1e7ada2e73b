"""The interaction log of a run (`log.interactions=true`): every visit of every simulation,
with the propensities off-policy evaluation needs, streamed to Parquet chunk by chunk.

`record` is the loop's per-step `Simulation.record` (one simulation, pure JAX); `Writer`
receives each chunk's records on the host and writes `RUN_DIR/interactions/part-CCCC.parquet`
(C: the chunk index; each part written atomically, so host memory holds one chunk). Read the
whole log with `pandas.read_parquet(RUN_DIR / "interactions")`. Columns, one row per visit:

    simulation        int   index of the simulation (grid point major, then seed)
    seed              int   its seed number; the grid axes' values follow, as in metrics.parquet
    step              int   step index t (0-based)
    user_id, user_group   int
    user_features     list<float>[Fu]  what the agent observed of the user
    slate             list<int>[k]     item ids, position 1 first
    clicks            list<int>[k]
    slot_propensity   list<float>[k]   P(item s_j at position j | x) under the logging policy
    chain_propensity  list<float>[k]   P(s_j | s_1..s_{j−1}, x)
    slate_propensity  float            Π_j chain_propensity_j = P(slate | x)

Propensities are NaN where the agent cannot state them exactly (`ActInfo`: e.g. a
Boltzmann logger's per-slot marginals, popularity's random tie-breaks); the rows are
written all the same.
"""

import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from recsim.core.types import Transition

DIR = "interactions"
COLUMNS = ("step", "user_id", "user_group", "user_features", "slate", "clicks",
           "slot_propensity", "chain_propensity", "slate_propensity")  # fmt: skip
PER_SLOT = ("user_features", "slate", "clicks", "slot_propensity", "chain_propensity")


def record(key: jax.Array, tr: Transition, params: Any) -> dict[str, jax.Array]:
    """One step of one simulation's log (`Simulation.record`): [U, ...] per column."""
    users, k = tr.slates.shape
    nan = jnp.full((users, k), jnp.nan, jnp.float32)
    chain = nan if tr.info.propensity is None else tr.info.propensity.astype(jnp.float32)
    slot = nan if tr.info.slot_propensity is None else tr.info.slot_propensity
    return {
        "step": jnp.broadcast_to(tr.obs.step, (users,)).astype(jnp.int32),
        "user_id": tr.obs.user_ids,
        "user_group": tr.obs.user_groups,
        "user_features": tr.obs.user_features,
        "slate": tr.slates.astype(jnp.int32),
        "clicks": tr.feedback.clicks.astype(jnp.int32),
        "slot_propensity": slot.astype(jnp.float32),
        "chain_propensity": chain,
        "slate_propensity": jnp.prod(chain, axis=1),
    }


class Writer:
    """Writes each chunk's records as one Parquet part (an `execute(on_records=...)` callback).

    `seeds` [S] and `grid_columns` (axis -> [S] values) label the simulations."""

    def __init__(self, run_dir: Path, seeds: list[int], grid_columns: dict[str, np.ndarray]):
        self.directory = Path(run_dir) / DIR
        self.seeds = np.asarray(seeds, np.int64)
        self.grid_columns = grid_columns

    def clear(self) -> None:
        """Removes the parts of an earlier run (a run that starts from its first step)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __call__(self, chunk: int, records: dict[str, np.ndarray]) -> None:
        import pyarrow.parquet as pq  # (here: a config error must not wait for pyarrow)

        from recsim.runs import results

        self.directory.mkdir(parents=True, exist_ok=True)
        table = self.table(records)
        path = self.directory / f"part-{chunk:04d}.parquet"
        results.write_atomic(path, lambda tmp: pq.write_table(table, tmp))

    def table(self, records: dict[str, np.ndarray]):
        """The rows of one chunk (a `pyarrow.Table`): records' leaves are [S, steps, U, ...]."""
        import pyarrow as pa

        n_sims, steps, users = records["user_id"].shape
        rows = n_sims * steps * users
        simulation = np.repeat(np.arange(n_sims), steps * users)
        columns = {
            "simulation": pa.array(simulation),
            "seed": pa.array(self.seeds[simulation]),
        }
        for axis, values in self.grid_columns.items():
            columns[axis] = pa.array(np.asarray(values)[simulation])
        for name in COLUMNS:
            flat = np.asarray(records[name]).reshape(rows, -1)
            if name not in PER_SLOT:
                columns[name] = pa.array(flat[:, 0])
            else:
                width = flat.shape[1]
                columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), width)
        return pa.table(columns)
