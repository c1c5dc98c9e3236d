"""Reusable estimators: ELBO / IWAE bounds, AIS, exact log Z, Gibbs chains, adversarial losses."""

from tfdgm.inference import adversarial
from tfdgm.inference import ais
from tfdgm.inference import bounds
from tfdgm.inference import exact
from tfdgm.inference import gibbs

__all__ = ['adversarial', 'ais', 'bounds', 'exact', 'gibbs']
