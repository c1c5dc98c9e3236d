"""Distribution layers (features -> tfd.Distribution) and custom energy-based TFP distributions."""

from tfdgm.distributions import conv_rbm
from tfdgm.distributions import dbm
from tfdgm.distributions import dbn
from tfdgm.distributions import discretized_logistic
from tfdgm.distributions import flow_posterior
from tfdgm.distributions import layers
from tfdgm.distributions import pixel_outputs
from tfdgm.distributions import rbm
from tfdgm.distributions import rbm_gaussian
from tfdgm.distributions import replicated_softmax

__all__ = ['conv_rbm', 'dbm', 'dbn', 'discretized_logistic', 'flow_posterior', 'layers', 'pixel_outputs', 'rbm', 'rbm_gaussian', 'replicated_softmax']
