"""`kuairec`: KuaiRec's fully observed small matrix as the hidden truth (no model fit).

x_{r,j} = ln(1 + w_rj), w the observed watch ratio (play time / video length; a pair the
matrix lacks gets the user's mean x); a = σ(α (x − c)) with default c = ln 3, so a video the
user would watch twice through is clicked half the time when examined (KuaiRec's authors
take a watch ratio ≥ 2 as a sign of interest), and α = 5 (w = 1: 12 %, w = 0.5: 3.0 %,
w = 0: 0.4 %).
Features: users have no descriptors in the small matrix; videos their categories
(multi-hot); both plus a noisy projection of a rank-`profile_rank` SVD of the centred table
(`envs.table`). One user group. Topics (boredom): a video's first category. Arrivals ∝ 1 +
the user's observed pairs (nearly uniform). Catalogue order: video id.
"""

import functools

import numpy as np

from envs.data import file_stamp, kuairec_files
from envs.response import REGISTRY as RESPONSE_MODELS
from envs.table import TableData, build
from envs.table_config import KuaiRecConfig


def table_data(data: kuairec_files.KuaiRec, profile_rank: int) -> TableData:
    x = np.log1p(data.watch_ratio.astype(np.float64))
    row_mean = np.nanmean(x, axis=1, keepdims=True)
    x = np.where(np.isnan(x), row_mean, x)
    centred = x - x.mean(axis=0, keepdims=True) - row_mean + x.mean()
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    rank = min(profile_rank, len(s))
    n_users, n_items = x.shape
    return TableData(
        user_bias=np.zeros(n_users, np.float32),
        item_bias=np.zeros(n_items, np.float32),
        user_profile=(u[:, :rank] * np.sqrt(s[:rank])).astype(np.float32),
        item_profile=(vt[:rank].T * np.sqrt(s[:rank])).astype(np.float32),
        table=x.astype(np.float32),
        user_descriptors=np.zeros((n_users, 0), np.float32),
        item_descriptors=data.categories,
        user_group=np.zeros(n_users, np.int32),
        item_topic=data.first_category,
        activity=np.log1p(data.counts).astype(np.float32),
        release_order=np.arange(n_items, dtype=np.int32),
    )


@functools.lru_cache(maxsize=2)
def _world(data_dir: str, stamp: tuple, profile_rank: int):
    data = kuairec_files.load(data_dir)
    return table_data(data, profile_rank), f"{data.digest}:svd{profile_rank}"


def make(config: KuaiRecConfig):
    """Validated static env and its traced params (the data held once) from a config."""
    config.validate_fit()
    if not config.data_dir:
        raise kuairec_files.ConfigError(kuairec_files.missing_message("env.data_dir", ""))
    data, digest = _world(config.data_dir, file_stamp(config.data_dir, kuairec_files.FILES),
                          config.profile_rank)  # fmt: skip
    config.validate(len(data.user_bias), len(data.item_bias))
    return build(config, data, digest, n_groups=1, response_registry=RESPONSE_MODELS)
