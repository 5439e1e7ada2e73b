"""Simulated users. `REGISTRY` maps a config name to (config class, factory)."""

from envs import latent

REGISTRY = {
    "latent": (latent.LatentConfig, latent.make),
}
