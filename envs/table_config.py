"""Configs of the real-data worlds `env=movielens` and `env=kuairec` (Hydra schemas) and
their validation. Ints, names and paths fix the program and the data; floats are traced."""

import dataclasses
import math

from envs.response import REGISTRY as RESPONSE_MODELS
from recsim.core.validation import ConfigError, check_int, check_real


@dataclasses.dataclass
class TableConfig:
    """What every table world shares (see `envs.table` and the README for the equations)."""

    name: str = ""
    data_dir: str = ""  # where the data files are (never shipped with recsim)
    n_items: int | None = None  # catalogue slots N (None: every item of the data)
    slate_size: int = 5
    users_per_step: int = 32
    click_model: str = "pbm"  # pbm | cascade | dcm | mnl
    continuation: float = 0.5  # dcm: λ
    outside_weight: float = 1.0  # mnl: w_0
    click_slope: float = 3.0  # α of a = σ(α (x − c))
    click_centre: float = 4.5  # c
    user_factor_features: int = 8  # Fu': noisy projection of the user profile (0: none)
    item_factor_features: int = 8  # Fi': noisy projection of the item profile (0: none)
    user_feature_noise: float = 0.5  # σ_y, in units of the projection's spread
    item_feature_noise: float = 0.5  # σ_x
    drift_rate: float = 0.0
    boredom_penalty: float = 0.1
    boredom_decay: float = 0.5
    item_churn_rate: float = 0.0  # share of the catalogue replaced per churn (0: off)
    item_churn_every: int = 100
    patience: float = 0.0  # 0: users never leave
    patience_refill: float = 2.0

    def validate(self, n_users: int, n_items: int, prefix: str = "env") -> None:
        """Raises `ConfigError` naming the first bad key; `n_users`, `n_items`: the data's."""
        key = lambda name: f"{prefix}.{name}"  # noqa: E731
        slots = n_items if self.n_items is None else self.n_items
        check_int(key("n_items"), slots, 2, n_items, f"the {n_items} items of the data")
        check_int(key("slate_size"), self.slate_size, 1, slots, key("n_items"))
        check_int(key("users_per_step"), self.users_per_step, 1, n_users,
                  f"the {n_users} users of the data")  # fmt: skip
        RESPONSE_MODELS.get(self.click_model, key("click_model"))
        check_real(key("continuation"), self.continuation, 0.0, 1.0)
        check_real(key("outside_weight"), self.outside_weight, 0.0, low_open=True)
        check_real(key("click_slope"), self.click_slope, 0.0, low_open=True)
        check_real(key("click_centre"), self.click_centre)
        check_int(key("user_factor_features"), self.user_factor_features, 0)
        check_int(key("item_factor_features"), self.item_factor_features, 0)
        for name in ("user_feature_noise", "item_feature_noise", "patience", "patience_refill"):
            check_real(key(name), getattr(self, name), 0.0)
        check_real(key("drift_rate"), self.drift_rate, 0.0, 1.0)
        check_real(key("boredom_penalty"), self.boredom_penalty, 0.0, 1.0, high_open=True)
        check_real(key("boredom_decay"), self.boredom_decay, 0.0, 1.0)
        check_real(key("item_churn_rate"), self.item_churn_rate, 0.0, 1.0)
        check_int(key("item_churn_every"), self.item_churn_every, 1)
        replaced, held_out = round(self.item_churn_rate * slots), n_items - slots
        if self.item_churn_rate > 0 and not 1 <= replaced <= held_out:
            raise ConfigError(
                f"{key('item_churn_rate')}={self.item_churn_rate} replaces {replaced} of "
                f"{key('n_items')}={slots} items per churn: allowed 0, or a rate replacing 1 to "
                f"{held_out} items (the items held out of the catalogue; lower "
                f"{key('n_items')} to hold out more)"
            )


@dataclasses.dataclass
class MovieLensConfig(TableConfig):
    """`env=movielens`: MovieLens-100K, hidden preferences from a biased MF of the ratings."""

    name: str = "movielens"
    rank: int = 32  # of the factorisation
    regularization: float = 0.15  # λ
    epochs: int = 500  # full-batch Adam steps
    learning_rate: float = 0.01
    fit_seed: int = 0  # the 80/20 split and the initial factors
    fit_cache: str = "~/.cache/recsim/movielens"  # fitted factors, keyed by data and settings

    def validate_fit(self, prefix: str = "env") -> None:
        check_int(f"{prefix}.rank", self.rank, 1)
        check_real(f"{prefix}.regularization", self.regularization, 0.0)
        check_int(f"{prefix}.epochs", self.epochs, 1)
        check_real(f"{prefix}.learning_rate", self.learning_rate, 0.0, low_open=True)
        check_int(f"{prefix}.fit_seed", self.fit_seed, 0, 2**32 - 1)


@dataclasses.dataclass
class KuaiRecConfig(TableConfig):
    """`env=kuairec`: KuaiRec's fully observed small matrix; x = ln(1 + watch ratio)."""

    name: str = "kuairec"
    click_slope: float = 5.0  # α: w = 1 clicks 12 %, w = 0.5 3 %, w = 0 0.4 %
    click_centre: float = math.log(3.0)  # c = ln(1 + 2): a watch ratio of 2 clicks half the time
    profile_rank: int = 16  # rank of the SVD profiles behind the noisy feature projections

    def validate_fit(self, prefix: str = "env") -> None:
        check_int(f"{prefix}.profile_rank", self.profile_rank, 1)
        if self.drift_rate > 0:
            raise ConfigError(
                f"{prefix}.drift_rate={self.drift_rate}: kuairec's preferences are a table of "
                "observed watch ratios with no preference vector to drift; allowed 0 "
                "(use env=movielens or env=latent for drift)"
            )
