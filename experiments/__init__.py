"""Entry points (`python -m experiments.run`) and the Hydra side of the project."""
