"""Full float32 matrix products for the world and the metrics, on every backend."""

import functools
from collections.abc import Callable

import jax

from recsim.core.contracts import Env

WORLD_METHODS = tuple(name for name, value in vars(Env).items()
                      if callable(value) and not name.startswith("_"))  # fmt: skip
"""The `Env` contract's methods (init, observe, step, truth, expected_clicks, …)."""


def exact(function: Callable) -> Callable:
    """`function` traced with every matrix product in full float32 (`Precision.HIGHEST`).

    The world (its hidden truth, clicks and dynamics) and the metrics go through it, so they
    are the README's equations on every backend: at the default precision an NVIDIA GPU
    multiplies float32 matrices in TF32, 10-bit mantissas (seen on an H200: a float32 matmul
    ran at 366 TFLOP/s, five times its float32 arithmetic peak), so the true attractions would
    carry a relative rounding of 2⁻¹¹, and the [U, N] truth table (one matrix product) and the
    shown slate's attractions that clicks are drawn from (a batched product) would be rounded
    apart. The agents' networks keep the backend's default: how a learner multiplies is
    part of the learner. On the CPU backend the two precisions compute the same bits."""

    @functools.wraps(function)
    def at_full_precision(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return function(*args, **kwargs)

    return at_full_precision


def exact_world(cls: type) -> type:
    """Class decorator: every `Env` method of `cls` runs under `exact`, so the world is the
    README's equations wherever it is called (in a test, a notebook). The loop applies `exact`
    to its env calls as well, for an env written without this decorator."""
    for name in WORLD_METHODS:
        setattr(cls, name, exact(getattr(cls, name)))
    return cls
