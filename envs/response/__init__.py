"""Response models: `REGISTRY` maps `env.click_model` to the model's `Entry`, whose
`make(env_config, spec) -> (model, params)` reads the model's knobs from the environment's
config (so `config_class` is None). The contract is `base.ResponseModel`."""

from envs.response import cascade, dcm, mnl, pbm
from recsim.core.registry import Entry, Registry

REGISTRY = Registry(
    "response model",
    [
        Entry(pbm.PositionBased.name, None, pbm.make),
        Entry(cascade.Cascade.name, None, cascade.make),
        Entry(dcm.DependentClick.name, None, dcm.make),
        Entry(mnl.MultinomialLogit.name, None, mnl.make),
    ],
)
