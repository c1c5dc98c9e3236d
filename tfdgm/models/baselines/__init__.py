"""Factorized baselines: the first row of every NLL table."""
from tfdgm.models.baselines.factorized import (
    IndependentBernoulli,
    IndependentGaussian,
    IndependentLogistic,
)

__all__ = ["IndependentBernoulli", "IndependentGaussian", "IndependentLogistic"]

REGISTRY = {
    "independent_bernoulli": IndependentBernoulli,
    "independent_gaussian": IndependentGaussian,
    "independent_logistic": IndependentLogistic,
}
