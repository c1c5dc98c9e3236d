"""TFP bijectors that TFP lacks or ties to tf_keras, each built from a Keras 3 layer's weights."""

from tfdgm.bijectors import actnorm
from tfdgm.bijectors import autoregressive
from tfdgm.bijectors import base
from tfdgm.bijectors import batch_norm
from tfdgm.bijectors import coupling
from tfdgm.bijectors import invertible_conv
from tfdgm.bijectors import planar
from tfdgm.bijectors import scaling
from tfdgm.bijectors import split
from tfdgm.bijectors import squeeze

__all__ = ['actnorm', 'autoregressive', 'base', 'batch_norm', 'coupling', 'invertible_conv', 'planar', 'scaling', 'split', 'squeeze']
