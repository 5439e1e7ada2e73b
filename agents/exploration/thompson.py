"""`thompson`: Thompson sampling — the greedy slate of one posterior draw.

Thompson (1933); for ensembles, the bootstrapped-DQN form of Osband et al. (2016): each user's
slate is the top-k of one ensemble member drawn uniformly at random (for the linear agent, of
one draw of the Gaussian posterior). The draw is made by the agent (`Scores.sample`).
"""

import dataclasses

from agents.exploration.base import Exploration, NoParams, explored_vs_greedy, top_k
from recsim.core.types import EnvSpec


@dataclasses.dataclass
class ThompsonConfig:
    name: str = "thompson"

    def validate(self, prefix: str = "exploration", slate_size: int | None = None) -> None:
        """Nothing to check."""


def select(key, scores, item_features, k, params, step):
    slates = top_k(scores.sample, k)
    return slates, explored_vs_greedy(slates, scores)


def make(config: ThompsonConfig, spec: EnvSpec):
    """The strategy (no knobs)."""
    config.validate(slate_size=spec.slate_size)
    return Exploration(config.name, select), NoParams()
