"""Latent variable models: VAE, IWAE and the Helmholtz machine (docs/architecture.md)."""

from tfdgm.models.latent.base import LatentVariableModel
from tfdgm.models.latent.helmholtz import HelmholtzMachine
from tfdgm.models.latent.iwae import IWAE
from tfdgm.models.latent.vae import VAE

__all__ = ["VAE", "IWAE", "HelmholtzMachine", "LatentVariableModel"]

REGISTRY = {"vae": VAE, "iwae": IWAE, "helmholtz": HelmholtzMachine}
