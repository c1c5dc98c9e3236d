"""Energy-based models: RBMs (binary, Gaussian, replicated softmax, convolutional), DBN, DBM, convolutional DBN."""

from tfdgm.models.energy.base import EnergyModel
from tfdgm.models.energy.conv_dbn import ConvDBN
from tfdgm.models.energy.conv_rbm import ConvRBM
from tfdgm.models.energy.dbm import DBM
from tfdgm.models.energy.dbn import DBN
from tfdgm.models.energy.grbm import GaussianBernoulliRBM
from tfdgm.models.energy.rbm import BernoulliRBM
from tfdgm.models.energy.replicated_softmax import ReplicatedSoftmaxRBM

__all__ = ["EnergyModel", "BernoulliRBM", "GaussianBernoulliRBM", "ReplicatedSoftmaxRBM", "DBN", "DBM", "ConvRBM", "ConvDBN"]

REGISTRY = {
    "rbm": BernoulliRBM,
    "grbm": GaussianBernoulliRBM,
    "rsm": ReplicatedSoftmaxRBM,
    "dbn": DBN,
    "dbm": DBM,
    "conv_rbm": ConvRBM,
    "conv_dbn": ConvDBN,
}
