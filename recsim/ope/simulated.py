"""Off-policy evaluation in the simulator, against each target's exact value.

The logging policy μ is a learning agent with its exploration strategy; a target policy π is
another strategy applied to what the logger's strategy chose from at that round (its model's
`Scores`: "what would π have shown, given the logger's model then"), or the oracle (the best
slate under the true click model). Every round (one user's visit) gives, for every target,

- the per-round term ψ_i of each estimator (`ESTIMATORS`; README "Off-policy evaluation"),
  from the logged slate, its clicks and propensities (`ActInfo.propensity`,
  `ActInfo.slot_propensity`) and π's probabilities of the same events;
- π's value at this round, V_i(π) = E_{s ~ π}[Σ_j E[c_j | x_i, s]] under the environment's
  own click model (`Env.expected_clicks`): exact for the oracle and for deterministic
  strategies, else the mean over `truth_draws` slates drawn from π (a Monte-Carlo estimate
  whose variance is kept: `truth_var`).

V(π) = mean_i V_i(π) is the estimand: the clicks per visit the same visits would have had
under π. Every ψ_i has conditional mean V_i(π) given the past when its assumption holds, so
the estimators are unbiased for it although the logger learns as it goes.

The reward model q̂(x_i, a) of DM and DR is the logger's own predicted click probability
(`ActInfo.scores`, clipped to [0, 1]): fitted online on the log before round i (so never on
the round it scores), and position-blind — so DM is biased under a position-based world
while DR corrects it. Item-level estimators are applied per slot and summed over slots (with
slot j's marginal propensities; IPS per slot is IIPS).

Support: IPS-type estimators are unbiased only where μ > 0 wherever π > 0. An ε-greedy logger
never shows slot j′'s greedy item at another slot j, which the uniform target does with
probability 1/N: `unsupported` records π's mean per-slot mass on (position, item) pairs with
μ = 0 (the item-level estimators miss exactly the clicks of that mass).

`record` returns, per step, moments summed over the step's users (so host memory does not
grow with the number of users): `sum`, `sum_sq` [T, E] of ψ; the SNIPS moments of the slot
weights w_ij and weighted clicks w_ij c_ij; `truth`, `truth_var`, `unsupported` [T]; `rounds` [].
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from recsim.core.types import Transition
from recsim.ope import item, slate

ESTIMATORS = ("dm", "iips", "dr", "switch_dr", "slate_ips", "rips", "pi")
"""Estimators with per-round terms; `snips` (a ratio) is kept as moments beside them."""
ALL_ESTIMATORS = ("dm", "iips", "snips", "dr", "switch_dr", "slate_ips", "rips", "pi")
ORACLE = "oracle"


@dataclasses.dataclass(frozen=True)
class Target:
    """A target policy: a strategy with its params, or the oracle (`exploration` None)."""

    name: str
    exploration: Any  # an `agents.exploration.Exploration` with a propensity; None: the oracle
    params: Any = None


class PseudoInverse(NamedTuple):
    """Γ₀⁺ [kN, kN] of the logger (`recsim.ope.slate`) and whether rounds relabel items by
    their greedy slate (ε-greedy: Γ_μ(x) is Γ₀ up to that relabelling; uniform: Γ_μ is Γ₀)."""

    gamma_pinv: jax.Array
    relabel_by_greedy: bool


def logger_pseudo_inverse(logger: str, n_items: int, k: int, knobs: dict) -> PseudoInverse | None:
    """Γ₀⁺ of a logging strategy whose Γ_μ(x) is context-free up to relabelling: `random`, and
    `epsilon_greedy` with a constant ε (decay 1) and N ≥ 2k; None for any other (PI then
    reads NaN: its Γ would need a pseudo-inverse per round)."""
    if logger == "random":
        gamma = np.asarray(slate.uniform_gamma(n_items, k), np.float64)
        relabel = False
    elif logger == "epsilon_greedy" and knobs.get("decay", 1.0) == 1.0 and n_items >= 2 * k:
        gamma = slate.epsilon_greedy_gamma(n_items, k, float(knobs["epsilon"]))
        relabel = True
    else:
        return None
    return PseudoInverse(jnp.asarray(slate.stable_pinv(gamma), jnp.float32), relabel)


def _nan(shape) -> jax.Array:
    return jnp.full(shape, jnp.nan, jnp.float32)


def redrawn(key: jax.Array, scores: Any) -> Any:
    """`scores` with its posterior sample drawn afresh: each user's sample another ensemble
    member, uniformly (Thompson's randomness is the agent's draw, made before the strategy
    sees the scores; a target's value must average over it). Unchanged without members."""
    if scores.members is None:
        return scores
    members, users = scores.members.shape[:2]
    chosen = jax.random.randint(key, (users,), 0, members)
    return scores.replace(sample=scores.members[chosen, jnp.arange(users)])


def _target_value(key, target: Target, tr: Transition, scores, env, env_params, draws: int):
    """(V_i(π) [U], its Monte-Carlo variance [U]): the expected clicks of π's slate."""
    if target.exploration is None:
        return tr.truth.best_value, jnp.zeros_like(tr.truth.best_value)
    k = tr.slates.shape[1]

    def one(key):
        draw_key, select_key = jax.random.split(key)
        slates, _ = target.exploration.select(
            select_key, redrawn(draw_key, scores), tr.obs.item_features, k, target.params,
            tr.obs.step,
        )  # fmt: skip
        return jnp.sum(env.expected_clicks(tr.truth, slates, env_params), axis=1)

    values = jax.vmap(one)(jax.random.split(key, draws))  # [D, U]
    variance = jnp.var(values, axis=0, ddof=1) / draws if draws > 1 else jnp.zeros_like(values[0])
    return jnp.mean(values, axis=0), variance


def _target_probabilities(target: Target, tr: Transition, scores):
    """π's chain P(s_j | s_<j) [U, k] of the logged slates and its marginals [U, k, N] (None
    where the strategy has no closed form)."""
    slates, n_items = tr.slates, tr.truth.attraction.shape[1]
    if target.exploration is None:
        best = tr.truth.best_slates
        return (slates == best).astype(jnp.float32), jax.nn.one_hot(best, n_items)
    propensity = target.exploration.propensity
    inputs = (scores, tr.obs.item_features, slates.shape[1], target.params, tr.obs.step)
    marginals = None if propensity.marginals is None else propensity.marginals(*inputs)
    chain = propensity.chain(slates, *inputs)  # None: no closed form for these scores
    return (_nan(slates.shape) if chain is None else chain), marginals


def round_terms(
    key: jax.Array,
    tr: Transition,
    env,
    env_params,
    logger: Target,
    targets: tuple[Target, ...],
    pseudo_inverse: PseudoInverse | None,
    switch_tau: float,
    truth_draws: int,
) -> dict[str, jax.Array]:
    """The per-step record of one simulation (module docstring): moments over the U users."""
    info, slates = tr.info, tr.slates
    users, k = slates.shape
    n_items = tr.truth.attraction.shape[1]
    clicks = tr.feedback.clicks.astype(jnp.float32)
    scores = info.policy_scores  # `agents.exploration.Scores`
    mu_prefix = _nan((users, k)) if info.propensity is None else jnp.cumprod(info.propensity, 1)
    mu_slot = _nan((users, k)) if info.slot_propensity is None else info.slot_propensity
    q_hat = jnp.clip(info.scores, 0.0, 1.0)  # [U, N]
    relabel = None
    if pseudo_inverse is not None:
        relabel = jnp.broadcast_to(jnp.arange(n_items), (users, n_items))
        if pseudo_inverse.relabel_by_greedy:
            relabel = slate.greedy_relabelling(jax.lax.top_k(scores.mean, k)[1], n_items)
    per_slot_dr = jax.vmap(item.dr_terms, in_axes=(1, 1, 1, 1, None, None))  # -> [k, U]

    _, logger_marginals = _target_probabilities(logger, tr, scores)
    sums, squares, snips, truths, truth_vars, unsupported = [], [], [], [], [], []
    for target, target_key in zip(targets, jax.random.split(key, len(targets)), strict=True):
        chain, marginals = _target_probabilities(target, tr, scores)
        prefix = jnp.cumprod(chain, axis=1)
        terms = {
            "slate_ips": slate.slate_ips_terms(clicks, mu_prefix[:, -1], prefix[:, -1]),
            "rips": slate.rips_terms(clicks, mu_prefix, prefix),
        }
        if marginals is None:
            weights = _nan((users, k))
            terms.update({name: _nan((users,)) for name in ("dm", "iips", "dr", "switch_dr")})
        else:
            pi_slot = slate.at_slots(marginals, slates)
            weights = pi_slot / mu_slot  # w_ij [U, k]
            terms["iips"] = slate.iips_terms(clicks, mu_slot, pi_slot)
            terms["dm"] = jnp.einsum("ukn,un->u", marginals, q_hat)
            dr_args = (slates, clicks, mu_slot, marginals, q_hat)
            terms["dr"] = jnp.sum(per_slot_dr(*dr_args, jnp.inf), axis=0)
            terms["switch_dr"] = jnp.sum(per_slot_dr(*dr_args, switch_tau), axis=0)
        if pseudo_inverse is None or marginals is None:
            terms["pi"] = _nan((users,))
        else:
            pi_weights = slate.relabelled_pseudo_inverse_weights(
                slates, pseudo_inverse.gamma_pinv, marginals, relabel
            )
            terms["pi"] = pi_weights * jnp.sum(clicks, axis=1)
        psi = jnp.stack([terms[name] for name in ESTIMATORS], axis=1)  # [U, E]
        sums.append(jnp.sum(psi, axis=0))
        squares.append(jnp.sum(psi**2, axis=0))
        weighted = weights * clicks  # a_ij = w_ij c_ij; b_ij = w_ij
        snips.append({
            "a": jnp.sum(weighted, 0), "b": jnp.sum(weights, 0),
            "aa": weighted.T @ weighted, "ab": weighted.T @ weights, "bb": weights.T @ weights,
        })  # fmt: skip
        if marginals is None or logger_marginals is None:
            unsupported.append(jnp.float32(jnp.nan))
        else:  # π's mass on (position, item) pairs that μ never shows, per slot
            missing = jnp.where(logger_marginals > 0, 0.0, marginals)
            unsupported.append(jnp.sum(missing) / k)
        value, variance = _target_value(
            target_key, target, tr, scores, env, env_params, truth_draws
        )
        truths.append(jnp.sum(value))
        truth_vars.append(jnp.sum(variance))
    return {
        "rounds": jnp.float32(users),
        "sum": jnp.stack(sums),
        "sum_sq": jnp.stack(squares),
        "snips": jax.tree.map(lambda *x: jnp.stack(x), *snips),
        "truth": jnp.stack(truths),
        "truth_var": jnp.stack(truth_vars),
        "unsupported": jnp.stack(unsupported),
    }
