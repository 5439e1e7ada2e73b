"""Range and cross-field checks of configs, run before anything is compiled or written.

Each failure is one `ConfigError` whose message names the key, the bad value and what is
allowed, e.g. `env.slate_size=300 is out of range: allowed 1..200 (env.n_items)`.
"""

import math
from numbers import Real


class ConfigError(ValueError):
    """A config value is out of range or inconsistent with another."""


def check_int(key: str, value, low: int | None = None, high: int | None = None, high_name=None):
    """`value` is an int (not a bool) in [low, high]; `high_name` says where `high` comes from."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}={value!r} must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f">= {low}"
        else:
            allowed = f"{low}..{high}" + (f" ({high_name})" if high_name else "")
        raise ConfigError(f"{key}={value} is out of range: allowed {allowed}")


def check_real(
    key: str,
    value,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
):
    """`value` is a finite real number in the interval given by low/high (open or closed)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} must be a finite number")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{key}={value} is out of range: allowed {interval}")
