"""Distribution layers (features -> tfd.Distribution) and custom energy-based TFP distributions."""

from tfdgm.distributions import annealing
from tfdgm.distributions import conv_rbm
from tfdgm.distributions import dbm
from tfdgm.distributions import dbn
from tfdgm.distributions import discretized_logistic
from tfdgm.distributions import enumeration
from tfdgm.distributions import flow_posterior
from tfdgm.distributions import gibbs
from tfdgm.distributions import layers
from tfdgm.distributions import max_pooling
from tfdgm.distributions import pixel_outputs
from tfdgm.distributions import rbm
from tfdgm.distributions import rbm_gaussian
from tfdgm.distributions import replicated_softmax

__all__ = ['annealing', 'conv_rbm', 'dbm', 'dbn', 'discretized_logistic', 'enumeration', 'flow_posterior', 'gibbs', 'layers', 'max_pooling', 'pixel_outputs', 'rbm', 'rbm_gaussian', 'replicated_softmax']
