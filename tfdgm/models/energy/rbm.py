"""The binary restricted Boltzmann machine, trained by CD-k or PCD."""

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.gibbs import bernoulli, run_chain, split_seed
from tfdgm.distributions.rbm import BernoulliRBMDistribution, rbm_free_energy
from tfdgm.models.energy.base import EnergyModel

__all__ = ["BernoulliRBM", "DenseFilters", "bernoulli_rbm_cd_gradients", "filters_picture"]


class DenseFilters:
    """What RBMs with one dense visible-hidden matrix `weights_vh` [V, H]
    share: hidden features, the coupling weights, and the filters."""

    def features(self, v):
        return self.distribution().hidden_probs(self.validate_input(v, "v"))

    def _coupling_weights(self):
        return [self.weights_vh]

    def filters(self):
        """The weights of each hidden unit shaped as an example: [H, *event_shape]."""
        return tf.reshape(tf.transpose(self.weights_vh), [self.num_hidden, *self.event_shape])

    def pictures(self):
        """`{"filters": uint8 grid}` of the first 100 hidden units' weights
        for image data (event shape [H, W] or [H, W, 1 or 3]), else `{}`."""
        shape = tuple(self.event_shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3))):
            return {}
        return {"filters": filters_picture(self.weights_vh.numpy(), shape)}


class BernoulliRBM(DenseFilters, EnergyModel):
    """Binary visibles, binary hiddens: E(v, h) = -v.b - h.c - v W h.

    `distribution()` is a `BernoulliRBMDistribution` built from the weights
    (W ~ Normal(0, 0.01^2), zero biases: Hinton 2010, Sec. 8; the visible
    biases move to the data's base rates in the first steps). Training: see
    `EnergyModel` (CD-k surrogate loss, PCD, momentum, weight decay, sparsity).

    References:
      Hinton, "Training products of experts by minimizing contrastive
      divergence", Neural Computation 2002.
      Hinton, "A practical guide to training restricted Boltzmann machines",
      UTML TR 2010-003.
      Tieleman, "Training restricted Boltzmann machines using approximations
      to the likelihood gradient", ICML 2008.

    Arguments:
      event_shape: shape of one binary example, e.g. `(28, 28, 1)`.
      num_hidden: H (default 16); other arguments: see `EnergyModel`.

    Example:
      >>> rbm = BernoulliRBM(event_shape=(6,), num_hidden=4, cd_steps=1)
      >>> rbm.compile(); rbm.fit(x, epochs=10, batch_size=32)
      >>> rbm.log_partition("exact"); rbm.log_prob(x), rbm.sample(10, seed=0)
    """

    data_kind = "binary"

    @classmethod
    def default_hyperparameters(cls, info):
        return {"num_hidden": 500 if int(np.prod(info.event_shape)) > 100 else 64}

    def build(self, input_shape=None):
        self.weights_vh = self.add_weight(
            name="weights", shape=(self.num_dims, self.num_hidden),
            initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.visible_bias = self.add_weight(name="visible_bias", shape=(self.num_dims,), initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(self.num_hidden,), initializer="zeros")
        self._build_energy_state()
        self.built = True

    def distribution(self, log_normalizer=None, num_steps=None):
        return BernoulliRBMDistribution(
            self.weights_vh, self.visible_bias, self.hidden_bias, event_shape=self.event_shape,
            log_normalizer=log_normalizer, num_steps=self.sampling_steps if num_steps is None else num_steps,
            initial_logits=self.base_logits(),
        )

    def reconstruction(self, flat):
        distribution = self.distribution()
        return distribution.visible_probs(distribution.hidden_probs(flat))

    def _hidden_input(self, flat):
        return self.hidden_bias + flat @ self.weights_vh

    def contrastive_gradients(self, flat, seed):
        """CD-k / PCD with the statistics in closed form (`bernoulli_rbm_cd_gradients`).

        Same gradient as the autodiff of the surrogate loss, in the five
        [batch, V] x [V, H] products of Hinton's recipe instead of seven: the
        data's hidden probabilities serve both the positive statistics and the
        first Gibbs sweep, and both statistics share one stacked product. The
        metric's reconstruction is that sweep's p(v | h ~ p(h | data)), as in
        Hinton's own CD-1 code (guide Sec. 5), not a mean-field pass.
        """
        distribution = self.distribution()
        hidden_seed, visible_seed, chain_seed = tf.unstack(split_seed(seed, 3))
        positive_input = self._hidden_input(flat)
        positive_hidden = tf.sigmoid(positive_input)
        reconstruction = distribution.visible_probs(bernoulli(positive_hidden, hidden_seed))
        if self.persistent:
            negative = self.negative_phase(flat, chain_seed)
        else:
            negative = bernoulli(reconstruction, visible_seed)
            if self.cd_steps > 1:
                negative = run_chain(distribution.gibbs_step, negative, self.cd_steps - 1, chain_seed)
        by_variable = dict(zip(
            (id(w) for w in (self.weights_vh, self.visible_bias, self.hidden_bias)),
            bernoulli_rbm_cd_gradients(flat, positive_hidden, negative, distribution.hidden_probs(negative)),
        ))
        gradients = [by_variable[id(v)] for v in self.trainable_variables]
        if self.weight_decay or self.hidden_activity is not None:
            with tf.GradientTape() as tape:
                penalty = self.penalties(flat)
            extra = tape.gradient(penalty, self.trainable_variables)
            gradients = [g if p is None else g + p for g, p in zip(gradients, extra)]
        positive_energy = rbm_free_energy(flat, self.weights_vh, self.visible_bias, self.hidden_bias,
                                          hidden_input=positive_input)
        return gradients, positive_energy, reconstruction


def bernoulli_rbm_cd_gradients(data, data_hidden, negative, negative_hidden):
    """d/d(W, b, c) of mean_data F - mean_negatives F for a binary RBM:
    -(<v h>_data - <v h>_neg), -(<v>_data - <v>_neg), -(<h>_data - <h>_neg)
    with h replaced by p(h | v) (Hinton 2010, Sec. 3, eqs. 7-9; Hinton 2002,
    eq. 5). Data and negatives may differ in number (PCD's chains).

    Both outer-product statistics go through one product of the stacked
    [data; negatives] (200 rows at batch 100) instead of two.
    -> (dW [V, H], db [V], dc [H]).
    """
    data_count = tf.cast(tf.shape(data)[0], data.dtype)
    negative_count = tf.cast(tf.shape(negative)[0], data.dtype)
    weights = -tf.matmul(tf.concat([data, negative], 0),
                         tf.concat([data_hidden / data_count, -negative_hidden / negative_count], 0),
                         transpose_a=True)
    visible = tf.reduce_mean(negative, 0) - tf.reduce_mean(data, 0)
    hidden = tf.reduce_mean(negative_hidden, 0) - tf.reduce_mean(data_hidden, 0)
    return weights, visible, hidden


def filters_picture(weights, image_shape, num_filters=100, padding=1):
    """A grid picture of learned filters (one column of W per tile).

    Each filter is scaled to [0, 1] by its own largest absolute value, grey = 0.
    Arguments:
      weights: [V, H] with V = prod(image_shape).
      image_shape: (height, width) or (height, width, channels).
      num_filters: the first so many hidden units.
    Returns:
      uint8 picture [rows, cols, channels]; write it with `tfdgm.visualize.write_png`.
    """
    from tfdgm.visualize import image_grid

    weights = np.asarray(weights, np.float32)
    shape = tuple(image_shape) if len(image_shape) == 3 else (*image_shape, 1)
    if weights.shape[0] != int(np.prod(shape)):
        raise ValueError(f"expected weights of shape [{int(np.prod(shape))}, H], got {list(weights.shape)}")
    filters = weights[:, :num_filters].T
    scale = np.maximum(np.abs(filters).max(axis=1, keepdims=True), 1e-12)
    images = 0.5 + 0.5 * filters / scale
    return image_grid(images.reshape(-1, *shape), padding=padding)
