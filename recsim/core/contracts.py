"""The environment and agent contracts (DESIGN.md §2): pure functions over pytrees.

Implementations are frozen dataclasses holding static structure only (sizes, choice of model);
every numeric knob lives in a `params` pytree so it can be traced and vmapped. The key is
always the first argument and is never reused.
"""

from typing import Any, ClassVar, Protocol

import jax

from recsim.core.types import ActInfo, EnvSpec, Feedback, Observation, Truth

PyTree = Any


class Env(Protocol):
    """A simulated user population and catalogue."""

    spec: EnvSpec

    def init(self, key: jax.Array, params: PyTree) -> PyTree:
        """Samples the hidden world (preferences, items) and returns the initial state."""

    def observe(self, key: jax.Array, state: PyTree, params: PyTree) -> Observation:
        """The users arriving this step and what the agent may see of them and the items."""

    def step(
        self, key: jax.Array, state: PyTree, obs: Observation, slates: jax.Array, params: PyTree
    ) -> tuple[PyTree, Feedback]:
        """Shows `slates` [U, k] to the arriving users; returns the new state and the clicks."""

    def truth(self, state: PyTree, obs: Observation, params: PyTree) -> Truth:
        """Attraction of every item for each arriving user, and the best slate under the
        env's own response model with its expected clicks."""

    def expected_clicks(self, truth: Truth, slates: jax.Array, params: PyTree) -> jax.Array:
        """Expected clicks of every slot of `slates` [U, k] under the response model: [U, k]."""

    def population_attraction(self, state: PyTree, params: PyTree) -> jax.Array:
        """Attraction of every item averaged over the whole population, weighted by how often
        each user arrives: [N]."""

    def user_homogeneity(self, state: PyTree, params: PyTree) -> jax.Array:
        """Mean pairwise cosine similarity of the hidden preference vectors of the whole
        population: [] (1 when every user wants the same, about 0 for spread-out tastes)."""


class Agent(Protocol):
    """A recommender. Built for one `EnvSpec` by its factory, so shapes are known statically.

    `uses_truth` is a static flag: only an agent that declares it (the privileged baselines
    `oracle` and `best_fixed`) is handed the `Truth` as a fifth argument of `act`; no learner
    can see it by accident. `uses_population` (default False) asks the loop to fill
    `Truth.population_attraction`, which costs a pass over every user.
    `predicts_clicks` declares that `ActInfo.scores` are predicted click probabilities at the
    top position (so the model metrics `metric_table.MODEL_METRICS` are defined); otherwise they
    are ranking scores only. `reports_uncertainty` declares that `ActInfo.uncertainty` is the
    agent's epistemic uncertainty (an ensemble's or a posterior's std); otherwise it is 0 by
    convention and the uncertainty metrics (`metric_table.UNCERTAINTY_METRICS`) are NaN.
    """

    uses_truth: ClassVar[bool]
    predicts_clicks: ClassVar[bool]
    reports_uncertainty: ClassVar[bool]

    def init(self, key: jax.Array, params: PyTree) -> PyTree:
        """The initial agent state."""

    def act(
        self, key: jax.Array, state: PyTree, obs: Observation, params: PyTree, *truth: Truth
    ) -> tuple[jax.Array, ActInfo]:
        """Slates [U, k] of distinct item ids for the arriving users, and what it knew."""

    def update(
        self,
        key: jax.Array,
        state: PyTree,
        obs: Observation,
        slates: jax.Array,
        feedback: Feedback,
        params: PyTree,
    ) -> PyTree:
        """Learns from the feedback to the slates it chose."""
