"""Reusable estimators: ELBO / IWAE bounds, AIS, adversarial losses,
score-function gradients (NVIL, VIMCO)."""

from tfdgm.inference import adversarial
from tfdgm.inference import ais
from tfdgm.inference import bounds
from tfdgm.inference import score_function

__all__ = ['adversarial', 'ais', 'bounds', 'score_function']
