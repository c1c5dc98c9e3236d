"""NADE and RNADE: p(x) = prod_d p(x_{o_d} | x_{o_<d}) with every conditional
computed from one shared weight matrix in O(D H), binary (Bernoulli) or
real-valued (mixture of Gaussians) conditionals, order-agnostic training and
ensembles of orderings at test time."""

import math

import keras
import numpy as np
import tensorflow as tf

from tfdgm.distributions.pixel_outputs import AutoregressiveModelDistribution, fold_in
from tfdgm.models.autoregressive.conditioning import ClassConditional, class_context, labelled_export_signatures
from tfdgm.models.base import as_seed
from tfdgm.models.density import DensityModel
from tfdgm.nn.masked import input_order

__all__ = ["NADE"]

_LIKELIHOODS = ("bernoulli", "gaussian_mixture")


def _mixture_parts(params, log_scale_bound):
    logits, loc, log_scale = tf.split(params, 3, axis=-1)
    return logits, loc, log_scale_bound * tf.tanh(log_scale / log_scale_bound)


def _mixture_log_prob(params, x, log_scale_bound):
    """log sum_m pi_m N(x; mu_m, sigma_m^2) (RNADE, Uria et al. 2013, Sec. 2)."""
    logits, loc, log_scale = _mixture_parts(params, log_scale_bound)
    z = (x[..., None] - loc) * tf.exp(-log_scale)
    log_normal = -0.5 * tf.square(z) - log_scale - 0.5 * math.log(2.0 * math.pi)
    return tf.reduce_logsumexp(tf.nn.log_softmax(logits, -1) + log_normal, -1)


def _mixture_sample(params, seed, log_scale_bound):
    logits, loc, log_scale = _mixture_parts(params, log_scale_bound)
    uniform = tf.random.stateless_uniform(tf.shape(logits), fold_in(seed, 0), 1e-7, 1.0, alg="philox")
    component = tf.one_hot(tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), -1), tf.shape(logits)[-1])
    normal = tf.random.stateless_normal(tf.shape(logits)[:-1], fold_in(seed, 1), alg="philox")
    return tf.reduce_sum(component * (loc + tf.exp(log_scale) * normal[..., None]), -1)


class NADE(ClassConditional, DensityModel):
    """Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011)
    and its real-valued version RNADE (Uria et al. 2013).

    For an ordering o of the D inputs, with shared weights W [D, H]:

      a_1 = c,  a_{d+1} = a_d + W_{o_d} x_{o_d}       (the O(D H) recursion)
      h_d = sigmoid(rho_{o_d} a_d)
      Bernoulli:  p(x_{o_d} = 1 | x_{o_<d}) = sigmoid(b_{o_d} + V_{o_d} . h_d)
      RNADE:      p(x_{o_d} | x_{o_<d}) = sum_m pi_m N(mu_m, sigma_m^2),
                  (logit pi, mu, log sigma) = b_{o_d} + V_{o_d} h_d

    (Larochelle & Murray 2011, Sec. 3, with rho = 1; Uria et al. 2013,
    Sec. 2). `log_prob` computes all D conditionals of an ordering in one
    pass (an exclusive cumulative sum); sampling takes D steps of O(H).

    Order-agnostic training (Uria et al. 2014, Sec. 3; Uria et al. 2016): every
    training example gets a fresh random ordering, and the loss is
    E_o[-log p(x | o)]; with one hidden layer the whole log p(x | o) of a
    random ordering costs one pass, so no rescaled partial orderings are
    needed. At test time the model is the ensemble of `num_orderings` fixed
    orderings, p(x) = 1/K sum_k p(x | o_k), a normalized mixture (the
    ensembles of orderings of Uria et al. 2014); samples pick an ordering
    uniformly, then sample in that order.

    A class label y adds U y to the hidden pre-activations (conditional NADE).

    References:
      Larochelle & Murray, "The Neural Autoregressive Distribution
      Estimator", AISTATS 2011, http://proceedings.mlr.press/v15/larochelle11a.html
      Uria, Murray & Larochelle, "RNADE: The real-valued neural
      autoregressive density-estimator", NeurIPS 2013, https://arxiv.org/abs/1306.0186
      Uria, Murray & Larochelle, "A Deep and Tractable Density Estimator",
      ICML 2014, https://arxiv.org/abs/1310.1757
      Uria, Cote, Gregor, Murray & Larochelle, "Neural Autoregressive
      Distribution Estimation", JMLR 2016, https://arxiv.org/abs/1605.02226

    Arguments:
      event_shape: shape of one example; images are flattened row-major.
      hidden_units: H, the hidden units (an int; a one-element list is accepted).
      likelihood: "bernoulli" (binary data) or "gaussian_mixture" (RNADE).
      num_mixtures: Gaussian components per conditional (RNADE).
      order: the first ordering: "natural", "reversed", "random" or a
        permutation of range(D) (see `tfdgm.nn.masked.input_order`).
      order_agnostic: train on random orderings.
      num_orderings: K orderings of the test-time ensemble (the first is
        `order`, the others random); default 8 when order-agnostic, else 1.
      num_classes: class-conditional p(x | y) when set (int labels context).
      log_scale_bound: b of log sigma = b tanh(a / b) (RNADE).
      seed: seed of the random orderings.
      data_transform, name: see `GenerativeModel`.

    Shapes:
      x: [batch, *event_shape] -> log_prob [batch]; sample(n) -> [n, *event_shape].

    Example:
      >>> model = NADE(event_shape=(8,), hidden_units=16)
      >>> model.log_prob(np.zeros([2, 8], np.float32)).shape
      TensorShape([2])
    """

    data_kind = "binary"

    def __init__(self, event_shape=(2,), hidden_units=500, likelihood="bernoulli", num_mixtures=5,
                 order="natural", order_agnostic=False, num_orderings=None, num_classes=None, log_scale_bound=7.0,
                 seed=0, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        if isinstance(hidden_units, (list, tuple)) and len(hidden_units) == 1:
            hidden_units = hidden_units[0]
        if isinstance(hidden_units, bool) or not isinstance(hidden_units, (int, np.integer)) or hidden_units < 1:
            raise ValueError(f"NADE: expected hidden_units a positive int (one hidden layer), got {hidden_units!r}")
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"NADE: expected likelihood in {_LIKELIHOODS}, got {likelihood!r}")
        if int(num_mixtures) != num_mixtures or num_mixtures < 1:
            raise ValueError(f"NADE: expected num_mixtures a positive int, got {num_mixtures!r}")
        num_orderings = (8 if order_agnostic else 1) if num_orderings is None else num_orderings
        if int(num_orderings) != num_orderings or num_orderings < 1:
            raise ValueError(f"NADE: expected num_orderings a positive int, got {num_orderings!r}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"NADE: expected num_classes a positive int or None, got {num_classes!r}")
        self.hidden_units = int(hidden_units)
        self.likelihood = likelihood
        self.num_mixtures = int(num_mixtures)
        self.order_spec = order
        self.order_agnostic = bool(order_agnostic)
        self.num_orderings = int(num_orderings)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.log_scale_bound = float(log_scale_bound)
        self.seed = int(seed)
        self.num_params = 1 if likelihood == "bernoulli" else 3 * self.num_mixtures
        rng = np.random.RandomState(self.seed)
        first = input_order(self.num_dims, order, self.seed)
        self.orderings = np.stack([first] + [rng.permutation(self.num_dims) for _ in range(self.num_orderings - 1)])
        self._compiled_sampler = None

    # ------------------------------------------------------------------ config
    @classmethod
    def default_hyperparameters(cls, info):
        """Bernoulli NADE for discrete data (binarized), RNADE for continuous."""
        return {"likelihood": "bernoulli" if info.num_levels is not None else "gaussian_mixture"}

    @classmethod
    def default_preprocess(cls, info, params=None):
        """Binarize discrete data for the Bernoulli NADE; RNADE dequantizes
        and scales discrete data to [0, 1] and leaves continuous data as is."""
        likelihood = (params or {}).get("likelihood", cls.default_hyperparameters(info)["likelihood"])
        if info.num_levels is None:
            if likelihood == "bernoulli":
                raise ValueError(f"NADE(likelihood='bernoulli') models binary data, but dataset {info.name!r} "
                                 "is continuous; use likelihood='gaussian_mixture' (RNADE)")
            return None
        return "binarize:static" if likelihood == "bernoulli" else "dequantize,scale"

    def hyperparameters(self):
        order = self.order_spec if isinstance(self.order_spec, str) else [int(i) for i in self.order_spec]
        return {"hidden_units": self.hidden_units, "likelihood": self.likelihood, "num_mixtures": self.num_mixtures,
                "order": order, "order_agnostic": self.order_agnostic, "num_orderings": self.num_orderings,
                "num_classes": self.num_classes, "log_scale_bound": self.log_scale_bound, "seed": self.seed}

    def build(self, input_shape=None):
        d, h, p = self.num_dims, self.hidden_units, self.num_params
        self.input_weights = self.add_weight(name="W", shape=(d, h), initializer="glorot_uniform")
        self.hidden_bias = self.add_weight(name="c", shape=(h,), initializer="zeros")
        self.output_weights = self.add_weight(name="V", shape=(d, h, p), initializer=keras.initializers.RandomNormal(
            stddev=1.0 / math.sqrt(h)))
        self.output_bias = self.add_weight(name="b", shape=(d, p), initializer="zeros")
        self.activation_scale = None
        if self.likelihood == "gaussian_mixture":
            self.activation_scale = self.add_weight(name="rho", shape=(d,), initializer="ones")
        if self.num_classes is not None:
            self.class_weights = self.add_weight(name="U", shape=(self.num_classes, h), initializer="zeros")
        self.built = True

    # ----------------------------------------------------------- log-density
    def _hidden_bias(self, one_hot):
        bias = self.hidden_bias
        if one_hot is not None:
            bias = bias + tf.matmul(one_hot, self.class_weights)
            return bias[:, None, :]
        return bias

    def conditional_params(self, x, orderings, context=None):
        """Parameters of every conditional p(x_{o_d} | x_{o_<d}) in one pass.

        Arguments:
          x: [batch, D] (flattened).
          orderings: int [batch, D], one permutation per example (o_d = orderings[:, d]).
          context: None or one-hot [batch, num_classes].
        Returns:
          [batch, D, P] in the natural order of the inputs (P = 1 logit, or
          3 * num_mixtures mixture logits, means, log-scales).
        """
        x = tf.convert_to_tensor(x, tf.float32)
        orderings = tf.convert_to_tensor(orderings, tf.int32)
        contributions = tf.gather(x[..., None] * self.input_weights, orderings, batch_dims=1)  # [B, D, H]
        pre_activation = self._hidden_bias(context) + tf.cumsum(contributions, axis=1, exclusive=True)
        inverse = tf.argsort(orderings, axis=-1)
        pre_activation = tf.gather(pre_activation, inverse, batch_dims=1)  # back to the natural order
        if self.activation_scale is not None:
            pre_activation = pre_activation * self.activation_scale[:, None]
        hidden = tf.sigmoid(pre_activation)
        return tf.einsum("bdh,dhp->bdp", hidden, self.output_weights) + self.output_bias

    def _element_log_prob(self, params, x):
        if self.likelihood == "bernoulli":
            return -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=params[..., 0])
        return _mixture_log_prob(params, x, self.log_scale_bound)

    def log_prob_given_ordering(self, x, orderings, context=None):
        """log p(x | o) for one ordering per example. x: [batch, *event_shape],
        orderings: int [batch, D] or [D] -> [batch]."""
        self._ensure_built()
        x = tf.reshape(self.validate_input(x), [-1, self.num_dims])
        orderings = tf.broadcast_to(tf.cast(orderings, tf.int32), tf.shape(x))
        one_hot = class_context(context, self.num_classes, "NADE", batch_size=1)  # one label: [1, C], broadcast
        return tf.reduce_sum(self._element_log_prob(self.conditional_params(x, orderings, one_hot), x), -1)

    def _ensemble_log_prob(self, x, one_hot):
        x = tf.reshape(x, [-1, self.num_dims])
        per_ordering = []
        for ordering in self.orderings:
            orderings = tf.broadcast_to(tf.constant(ordering, tf.int32), tf.shape(x))
            per_ordering.append(tf.reduce_sum(self._element_log_prob(
                self.conditional_params(x, orderings, one_hot), x), -1))
        if len(per_ordering) == 1:
            return per_ordering[0]
        return tf.reduce_logsumexp(tf.stack(per_ordering, 0), 0) - math.log(self.num_orderings)

    def distribution(self, context=None):
        """An `AutoregressiveModelDistribution`: the ensemble's log-density
        1/K sum_k p(x | o_k) (one pass per ordering) and the compiled sampler."""
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, "NADE", batch_size=1)  # one label: [1, C], broadcast
        return AutoregressiveModelDistribution(
            lambda x: self._ensemble_log_prob(x, one_hot),
            lambda n, seed: self._sample(n, seed, class_context(context, self.num_classes, "NADE", batch_size=n))[0],
            self.event_shape, name="NADE")

    # --------------------------------------------------------------- training
    def train_step(self, data):
        """Minimizes -log p(x) (one ordering) or, order-agnostic, the
        expectation over orderings E_o[-log p(x | o)] with one random ordering
        per example (Uria et al. 2014)."""
        if not self.order_agnostic:
            return super().train_step(data)
        x, context = self.unpack(data)
        x = self.validate_input(x)
        flat = tf.reshape(x, [-1, self.num_dims])
        seed = tf.stack([tf.constant(self.seed, tf.int32), tf.cast(self.optimizer.iterations, tf.int32)])
        orderings = tf.argsort(tf.random.stateless_uniform(tf.shape(flat), seed, alg="philox"), axis=-1)
        one_hot = class_context(context, self.num_classes, "NADE", batch_size=1)  # one label: [1, C], broadcast
        with tf.GradientTape() as tape:
            params = self.conditional_params(flat, orderings, one_hot)
            log_prob = tf.reduce_sum(self._element_log_prob(params, flat), -1)
            loss = -tf.reduce_mean(log_prob)
        self.apply_gradients(tape, loss)
        return self._update_metrics(log_prob, x)

    # --------------------------------------------------------------- sampling
    def _sample_loop(self, n, seed, one_hot):
        pick = tf.random.stateless_uniform([n], fold_in(seed, -1), 0, self.num_orderings, dtype=tf.int32,
                                           alg="philox")
        orderings = tf.gather(tf.constant(self.orderings, tf.int32), pick)  # [n, D]
        bias = self.hidden_bias if one_hot is None else self.hidden_bias + tf.matmul(one_hot, self.class_weights)
        pre_activation = tf.broadcast_to(bias, [n, self.hidden_units])

        def step(d, pre_activation, x, log_prob):
            position = orderings[:, d]
            scaled = pre_activation
            if self.activation_scale is not None:
                scaled = scaled * tf.gather(self.activation_scale, position)[:, None]
            hidden = tf.sigmoid(scaled)
            params = tf.einsum("nh,nhp->np", hidden, tf.gather(self.output_weights, position))
            params = params + tf.gather(self.output_bias, position)
            step_seed = fold_in(seed, d)
            if self.likelihood == "bernoulli":
                uniform = tf.random.stateless_uniform([n], step_seed, alg="philox")
                value = tf.cast(uniform < tf.sigmoid(params[:, 0]), tf.float32)
            else:
                value = _mixture_sample(params, step_seed, self.log_scale_bound)
            log_prob = log_prob + self._element_log_prob(params, value)
            pre_activation = pre_activation + value[:, None] * tf.gather(self.input_weights, position)
            x = tf.where(tf.one_hot(position, self.num_dims) > 0, value[:, None], x)
            return d + 1, pre_activation, x, log_prob

        state = (tf.constant(0), pre_activation, tf.zeros([n, self.num_dims]), tf.zeros([n]))
        _, _, x, log_prob = tf.while_loop(lambda d, *_: d < self.num_dims, step, state,
                                          maximum_iterations=self.num_dims)
        return tf.reshape(x, tf.concat([[n], self.event_shape], 0)), log_prob, orderings

    def _sample(self, n, seed, one_hot):
        if not tf.executing_eagerly():  # traced into a caller's graph (export): demand no XLA there
            return self._sample_loop(tf.convert_to_tensor(n, tf.int32), as_seed(seed), one_hot)
        if self._compiled_sampler is None:
            object.__setattr__(self, "_compiled_sampler", tf.function(self._sample_loop, jit_compile=True))
        return self._compiled_sampler(tf.convert_to_tensor(n, tf.int32), as_seed(seed), one_hot)

    def sample_with_log_prob(self, n, seed=None, context=None):
        """Ancestral samples, the log p(x | o) the sampler drew them with, and
        the ordering o of each sample (drawn uniformly from the ensemble).
        -> (samples [n, *event_shape], log_prob [n], orderings [n, D])."""
        self._ensure_built()
        one_hot = class_context(context, self.num_classes, "NADE", batch_size=n)
        return self._sample(n, seed, one_hot)

    def sample(self, n, *, seed=None, context=None):
        """Draws `n` samples: D steps of O(H) inside one compiled
        `tf.while_loop`. -> [n, *event_shape]."""
        return self.sample_with_log_prob(n, seed, context)[0]

    def export_signatures(self):
        return labelled_export_signatures(self)
