"""Reusable estimators: ELBO / IWAE bounds, AIS, exact log Z, Gibbs chains, adversarial losses,
score-function gradients (NVIL, VIMCO)."""

from tfdgm.inference import adversarial
from tfdgm.inference import ais
from tfdgm.inference import bounds
from tfdgm.inference import exact
from tfdgm.inference import gibbs
from tfdgm.inference import score_function

__all__ = ['adversarial', 'ais', 'bounds', 'exact', 'gibbs', 'score_function']
