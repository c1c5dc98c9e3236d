"""Keras 3 building blocks of the models (masked, MADE, coupling and context, convolutional, DeepSets, DCGAN nets)."""

from tfdgm.nn import causal_conv
from tfdgm.nn import context
from tfdgm.nn import conv_nets
from tfdgm.nn import coupling_nets
from tfdgm.nn import dcgan
from tfdgm.nn import deepsets
from tfdgm.nn import made
from tfdgm.nn import masked
from tfdgm.nn import masked_conv
from tfdgm.nn import mlp

__all__ = ['causal_conv', 'context', 'conv_nets', 'coupling_nets', 'dcgan', 'deepsets', 'made', 'masked', 'masked_conv',
           'mlp']
