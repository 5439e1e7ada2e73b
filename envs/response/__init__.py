"""Response models: `REGISTRY` maps `env.click_model` to the model (see `base.ResponseModel`)."""

from envs.response import cascade, dcm, mnl, pbm

REGISTRY = {
    model.name: model
    for model in (
        pbm.PositionBased(),
        cascade.Cascade(),
        dcm.DependentClick(),
        mnl.MultinomialLogit(),
    )
}
