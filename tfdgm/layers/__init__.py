"""Distribution heads for users' own Keras 3 models: `head(features)` returns
the parameters as a tensor, `head.distribution(outputs)` the
`tfd.Distribution`, and `tfdgm.losses.NegativeLogLikelihood(head)` trains it
with `model.fit(x, y)` (the Keras 3 successor of `tfp.layers`' heads).
Unlike `tfp.layers`, a head owns the `Dense` projection from the features to
the parameters, so no `Dense(params_size)` goes before it.

Example:
  >>> head = tfdgm.layers.IndependentNormal(event_shape=(1,))
  >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(64, activation="relu"), head])
  >>> model.compile(optimizer="adam", loss=tfdgm.losses.NegativeLogLikelihood(head))
  >>> model.fit(x, y)
  >>> dist = head.distribution(model(x_test))   # log_prob, sample, mean, stddev
"""

from tfdgm.layers.base import DistributionHead
from tfdgm.layers.categorical import Categorical
from tfdgm.layers.export import head_signatures
from tfdgm.layers.flows import ConditionalMAF, ConditionalRealNVP
from tfdgm.layers.independent import IndependentBernoulli, IndependentLogistic, IndependentNormal
from tfdgm.layers.mixture import MixtureNormal
from tfdgm.layers.multivariate import MultivariateNormalTriL

__all__ = [
    "DistributionHead",
    "IndependentNormal",
    "IndependentBernoulli",
    "IndependentLogistic",
    "Categorical",
    "MixtureNormal",
    "MultivariateNormalTriL",
    "ConditionalMAF",
    "ConditionalRealNVP",
    "head_signatures",
]
