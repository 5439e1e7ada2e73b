"""Config of `env=latent` (the Hydra schema) and its validation."""

import dataclasses

from envs.response import REGISTRY as RESPONSE_MODELS
from recsim.core.validation import ConfigError, check_int, check_real


@dataclasses.dataclass
class LatentConfig:
    """Config of `env=latent`. Ints and names fix the program; floats are traced knobs."""

    name: str = "latent"
    n_items: int = 200
    n_users: int = 2000
    n_topics: int = 10
    latent_dim: int = 16
    item_feature_dim: int = 16
    user_feature_dim: int = 16
    slate_size: int = 5
    users_per_step: int = 32
    group_shares: list[float] = dataclasses.field(default_factory=lambda: [0.7, 0.3])
    click_model: str = "pbm"  # pbm | cascade | dcm | mnl
    continuation: float = 0.5  # dcm: λ, probability of scanning on after a click
    outside_weight: float = 1.0  # mnl: w_0, weight of the no-click option
    click_scale: float = 8.0
    bias_mean: float = -3.0
    bias_scale: float = 0.3
    bias_tail: float = 3.0
    topic_spread: float = 0.5
    group_taste_scale: float = 2.0
    user_taste_scale: float = 3.0
    user_spread: float = 0.5
    activity_skew: float = 1.0
    item_feature_noise: float = 0.5
    user_feature_noise: float = 0.5
    drift_rate: float = 0.0
    boredom_penalty: float = 0.1
    boredom_decay: float = 0.5
    item_churn_rate: float = 0.0  # share of the catalogue replaced per churn (0: off)
    item_churn_every: int = 100  # steps between churns
    patience: float = 0.0  # patience budget P of a new user (0: users never leave)
    patience_refill: float = 2.0  # R: budget regained by a visit with a click

    def validate(self, prefix: str = "env") -> None:
        """Raises `ConfigError` naming the first out-of-range or inconsistent key."""
        key = lambda name: f"{prefix}.{name}"  # noqa: E731
        check_int(key("n_items"), self.n_items, 2)
        check_int(key("n_users"), self.n_users, 1)
        for name in ("n_topics", "latent_dim", "item_feature_dim", "user_feature_dim"):
            check_int(key(name), getattr(self, name), 1)
        check_int(key("slate_size"), self.slate_size, 1, self.n_items, key("n_items"))
        check_int(key("users_per_step"), self.users_per_step, 1, self.n_users, key("n_users"))
        shares = list(self.group_shares)
        if not shares:
            raise ConfigError(f"{key('group_shares')}=[] must list at least one group share")
        for i, share in enumerate(shares):
            check_real(f"{key('group_shares')}[{i}]", share, 0.0, 1.0, low_open=True)
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ConfigError(
                f"{key('group_shares')}={shares} must sum to 1 (sums to {sum(shares)})"
            )
        RESPONSE_MODELS.get(self.click_model, key("click_model"))
        check_real(key("continuation"), self.continuation, 0.0, 1.0)
        check_real(key("outside_weight"), self.outside_weight, 0.0, low_open=True)
        for name in ("click_scale", "bias_scale", "topic_spread", "group_taste_scale",
                     "user_taste_scale", "user_spread", "activity_skew",
                     "item_feature_noise", "user_feature_noise", "patience",
                     "patience_refill"):  # fmt: skip
            check_real(key(name), getattr(self, name), 0.0)
        check_real(key("bias_mean"), self.bias_mean)
        check_real(key("bias_tail"), self.bias_tail, 0.0, low_open=True)
        check_real(key("drift_rate"), self.drift_rate, 0.0, 1.0)
        check_real(key("boredom_penalty"), self.boredom_penalty, 0.0, 1.0, high_open=True)
        check_real(key("boredom_decay"), self.boredom_decay, 0.0, 1.0)
        check_real(key("item_churn_rate"), self.item_churn_rate, 0.0, 1.0)
        if self.item_churn_rate > 0 and round(self.item_churn_rate * self.n_items) == 0:
            raise ConfigError(
                f"{key('item_churn_rate')}={self.item_churn_rate} replaces no item of "
                f"{key('n_items')}={self.n_items}: allowed 0 or a rate with "
                f"round(rate * n_items) >= 1"
            )
        check_int(key("item_churn_every"), self.item_churn_every, 1)
