"""Off-policy evaluation: estimate the value of a target policy π from the log of a logging
policy μ (Dudík et al. 2011; Swaminathan et al. 2017; McInerney et al. 2020).

Every estimator is a mean over the n logged rounds of a per-round term ψ_i (SNIPS: a ratio
of two means), so each returns an `Estimate`: the value, its standard error and a 95% normal
interval. Pure JAX: the functions jit and vmap (e.g. over replications).

- `recsim.ope.item`: one action per round (a slot or single-item recommendation): DM, IPS,
  SNIPS, DR, switch-DR.
- `recsim.ope.slate`: a slate of k ranked items per round, reward = total clicks: slate IPS,
  independent IPS (IIPS), reward-interaction IPS (RIPS), pseudo-inverse (PI).
- `recsim.ope.reward_model`: a logistic reward model q̂(x, a) fitted on the log, for DM and DR.
- `recsim.ope.simulated`: per-round terms of every estimator for target policies inside the
  simulator's loop, beside each target's exact value; `recsim.ope.report` turns them into
  estimates at growing log sizes and errors over seeds; `recsim.ope.study` runs and writes a
  study (`python -m experiments.ope`).
- `recsim.ope.obd`: the Open Bandit Dataset: loader, Bernoulli-TS target, reward model, and
  OBD's own check (`python -m experiments.ope data=obd data.path=DIR`).

The README ("Off-policy evaluation") gives every equation and the click model under which
each estimator is unbiased.
"""

from recsim.ope.estimate import Estimate

__all__ = ["Estimate"]
