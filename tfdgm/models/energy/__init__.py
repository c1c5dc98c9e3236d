"""Energy-based models: RBMs (binary, Gaussian, replicated softmax), DBN, DBM."""

from tfdgm.models.energy.base import EnergyModel
from tfdgm.models.energy.dbm import DBM
from tfdgm.models.energy.dbn import DBN
from tfdgm.models.energy.grbm import GaussianBernoulliRBM
from tfdgm.models.energy.rbm import BernoulliRBM
from tfdgm.models.energy.replicated_softmax import ReplicatedSoftmaxRBM

__all__ = ["EnergyModel", "BernoulliRBM", "GaussianBernoulliRBM", "ReplicatedSoftmaxRBM", "DBN", "DBM"]

REGISTRY = {
    "rbm": BernoulliRBM,
    "grbm": GaussianBernoulliRBM,
    "rsm": ReplicatedSoftmaxRBM,
    "dbn": DBN,
    "dbm": DBM,
}
