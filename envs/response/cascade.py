"""`cascade`: the cascade model (Craswell et al., 2008): the user scans top-down and stops at
the first click, so at most one click per slate.

    P(click at j) = a_{s_j} Π_{l<j} (1 − a_{s_l}),    E[clicks] = 1 − Π_j (1 − a_{s_j})

It is the dependent click model with continuation λ = 0 (`envs.response.dcm`), and uses the
same shared uniforms, so its clicks equal `dcm` with λ = 0 exactly. Best slate: the k most
attractive items (the value depends on the set only).
"""

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from envs.response.dcm import DCMParams, DependentClick
from recsim.core.types import EnvSpec


@dataclasses.dataclass(frozen=True)
class Cascade(DependentClick):
    """Stop at the first click (module docstring)."""

    name: ClassVar[str] = "cascade"


def make(config, spec: EnvSpec) -> tuple[Cascade, DCMParams]:
    """The model and its params: λ = 0 whatever the env config says."""
    return Cascade(), DCMParams(continuation=jnp.zeros((), jnp.float32))
