"""The latent variable protocol: a cascade of stochastic layers h^1..h^L with a
generative model p(h^L) p(h^{L-1}|h^L) ... p(x|h^1) and an inference model
q(h^1|x) q(h^2|h^1) ... q(h^L|h^{L-1}), every factor a distribution layer.

`LatentVariableModel` computes everything the families share from these
factors: log importance weights, the ELBO, the k-sample bound L_k (chunked,
for any k), ancestral samples, reconstructions, interpolations, attribute
arithmetic, a latent scatter picture, and the export signatures. VAE, IWAE and
the Helmholtz machine differ only in their layers and their `train_step`.

References:
  Rezende, Mohamed & Wierstra, ICML 2014, Sec. 2 (the cascade of stochastic layers).
  Burda, Grosse & Salakhutdinov, ICLR 2016, eq. 8 (L_k; Sec. 5 for the
  two-stochastic-layer architecture and L_5000 evaluation).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfdgm.inference import bounds
from tfdgm.models.base import GenerativeModel, as_seed
from tfdgm.models.latent_tools import apply_attribute, attribute_vector, interpolate
from tfdgm.replicas import replica_seed, step_seed

__all__ = ["LatentVariableModel"]


def _unflatten(t, leading):
    """[c*B, ...] -> [c, B, ...]."""
    return tf.reshape(t, tf.concat([leading, tf.shape(t)[1:]], 0))


def _flatten(t):
    """[c, B, ...] -> [c*B, ...]."""
    return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))


class _FunctionCache:
    """Compiled per-chunk-size functions, hidden from variable tracking."""

    def __init__(self):
        self.functions = {}


class LatentVariableModel(GenerativeModel):
    """Base of VAE, IWAE and HelmholtzMachine.

    Subclasses create, in `build(input_shape)` and from shapes alone:
      `self.inference_nets[l]`, `self.posterior_layers[l]`: q(h^{l+1} | h^l)
        with h^0 = x (net: trunk; layer: a `tfdgm.distributions.layers`
        layer with `sample_from_noise`);
      `self.generative_nets[l]`, `self.generative_layers[l]`: p(h^l | h^{l+1})
        with h^0 = x (index 0 is the likelihood p(x | h^1));
    and implement `prior()` (p(h^L)) and `train_step`.

    Arguments:
      event_shape: shape of one example.
      latent_dim: size of h (int), or a list [d_1, ..., d_L] for L stochastic layers.
      data_transform: preprocessing spec (see `GenerativeModel`).
    """

    family = "latent"
    data_kind = "binary"
    #: Default k of `log_prob` / `evaluate_nll` (`tfdgm evaluate --num-samples`).
    default_num_eval_samples = 500
    #: Names of the extra training metrics (besides nll and bits_per_dim).
    extra_metrics = ()

    def __init__(self, event_shape=(2,), latent_dim=16, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, data_transform=data_transform, name=name, **kwargs)
        dims = [latent_dim] if isinstance(latent_dim, (int, np.integer)) else list(latent_dim)
        if not dims or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
            raise ValueError(f"expected latent_dim as a positive int or a list of them, got {latent_dim!r}")
        self.latent_dims = [int(d) for d in dims]
        self.num_stochastic_layers = len(self.latent_dims)
        self._trackers = {
            name: keras.metrics.Mean(name=name) for name in ("nll", "bits_per_dim", *self.extra_metrics)
        }
        # A plain object, not a dict: TF's tracking would wrap a dict of
        # tf.functions with int keys, and SavedModel export refuses that.
        self._compiled_log_weights = _FunctionCache()
        self._seed_generator = keras.random.SeedGenerator(name="training_seed")

    def training_seed(self):
        """A fresh stateless seed per training step, reproducible after
        `keras.utils.set_random_seed` (a Keras `SeedGenerator`); under several
        replicas, the step's seed (`tfdgm.replicas.step_seed`) with the
        replica's id folded in: each replica, on every worker, draws its own
        posterior samples, reproducibly."""
        return replica_seed(step_seed(self._seed_generator, self.optimizer.iterations))

    @property
    def latent_dim(self):
        return self.latent_dims[0] if self.num_stochastic_layers == 1 else list(self.latent_dims)

    # ------------------------------------------------------------ the factors
    def prior(self):
        """p(h^L) over [latent_dims[-1]] (override)."""
        raise NotImplementedError

    def _input_features(self, x):
        """Trunk features of x for q(h^1 | x): MLPs see x flattened."""
        if getattr(self, "architecture", "mlp") == "mlp":
            x = tf.reshape(x, [-1, self.num_dims])
        return self.inference_nets[0](x)

    def encoder_distribution(self, x):
        """q(h^1 | x) as a `tfd.Distribution` with batch shape [batch].

        x: [batch, *event_shape]. For stacked layers, the tools (reconstruct,
        interpolate, attributes) work in h^1, the layer next to x.
        """
        self._ensure_built()
        x = self.validate_input(x)
        return self.posterior_layers[0].distribution(self._input_features(x))

    def _decoder_params(self, h):
        """Likelihood parameters for h^1 of shape [N, d_1] -> [N, *event_shape, P]."""
        return self.generative_layers[0](self.generative_nets[0](h))

    def decoder_distribution(self, z):
        """p(x | h^1 = z) as a `tfd.Distribution`. z: [batch, latent_dims[0]]."""
        self._ensure_built()
        return self.generative_layers[0].make_distribution(self._decoder_params(self._check_latent(z)))

    def decode(self, z):
        """E[x | h^1 = z]: [batch, latent_dims[0]] -> [batch, *event_shape]."""
        self._ensure_built()
        return self.generative_layers[0].mean(self._decoder_params(self._check_latent(z)))

    def _check_latent(self, z):
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape.rank is not None and (z.shape.rank != 2 or z.shape[-1] not in (None, self.latent_dims[0])):
            raise ValueError(
                f"{type(self).__name__}: expected z of shape [batch, {self.latent_dims[0]}], got shape {list(z.shape)}"
            )
        return z

    # ---------------------------------------------------- importance weights
    def _noise(self, x, seed, start, num):
        batch = tf.shape(x)[0]
        shapes = [tf.stack([batch, d]) for d in self.latent_dims]
        kinds = [layer.noise_kind for layer in self.posterior_layers]
        return bounds.per_sample_noise(seed, start, num, shapes, kinds)

    def posterior_samples(self, x, noise):
        """Ancestral samples of q(h | x) from noise ([c, batch, d_l] per layer).

        Returns:
          (hs: list of [c, batch, d_l], log_q: [c, batch], q1: q(h^1|x)).
        """
        q1_params = self.posterior_layers[0](self._input_features(x))
        h, log_q = self.posterior_layers[0].sample_and_log_prob(q1_params, noise[0])
        hs = [h]
        leading = tf.shape(h)[:2]
        for level in range(1, self.num_stochastic_layers):
            params = _unflatten(self.posterior_layers[level](self.inference_nets[level](_flatten(h))), leading)
            h, log_q_level = self.posterior_layers[level].sample_and_log_prob(params, noise[level])
            hs.append(h)
            log_q = log_q + log_q_level
        q1 = self.posterior_layers[0].make_distribution(q1_params)
        return hs, log_q, q1

    def generative_log_probs(self, x, hs):
        """(log p(x | h^1), log p(h^1, ..., h^L)) for hs [c, batch, d_l]: [c, batch] each."""
        leading = tf.shape(hs[0])[:2]
        log_p_latents = self.prior().log_prob(hs[-1])
        for level in range(self.num_stochastic_layers - 1, 0, -1):
            params = _unflatten(self.generative_layers[level](self.generative_nets[level](_flatten(hs[level]))), leading)
            log_p_latents = log_p_latents + self.generative_layers[level].make_distribution(params).log_prob(hs[level - 1])
        params = _unflatten(self._decoder_params(_flatten(hs[0])), leading)
        log_likelihood = self.generative_layers[0].make_distribution(params).log_prob(x)
        return log_likelihood, log_p_latents

    def bound_terms(self, x, seed, start=0, num_samples=1):
        """Everything a bound needs for samples start..start+num_samples-1.

        Returns dict of [num_samples, batch] tensors `log_likelihood`
        (log p(x|h^1)), `log_prior` (log p(h)), `log_posterior` (log q(h|x)),
        `log_weights` (their combination), plus `hs` and `q1`.
        """
        hs, log_q, q1 = self.posterior_samples(x, self._noise(x, seed, start, num_samples))
        log_likelihood, log_prior = self.generative_log_probs(x, hs)
        return {
            "log_likelihood": log_likelihood,
            "log_prior": log_prior,
            "log_posterior": log_q,
            "log_weights": log_likelihood + log_prior - log_q,
            "hs": hs,
            "q1": q1,
        }

    def log_importance_weights(self, x, seed=None, start=0, num_samples=1):
        """log w_i = log p(x, h_i) - log q(h_i | x): [batch, *event] -> [num_samples, batch]."""
        return self.bound_terms(x, as_seed(seed), start, num_samples)["log_weights"]

    # ---------------------------------------------------------------- bounds
    def elbo(self, x, num_samples=1, seed=None):
        """Monte Carlo ELBO E_q[log p(x, h) - log q(h | x)] averaged over
        `num_samples` draws (Kingma & Welling 2014, eq. 3). -> [batch] nats."""
        self._ensure_built()
        x = self.validate_input(x)
        return bounds.elbo(self.log_importance_weights(x, seed, 0, num_samples))

    def log_prob(self, x, num_samples=None, seed=None, chunk_size=None, verbose=0):
        """The importance-sampled estimate L_k of log p(x) (Burda et al. 2016, eq. 8).

        Samples are drawn `chunk_size` at a time with an exact running
        log-sum-exp, so k = 5000 on 784-dimensional data fits in memory; sample
        i is seeded by (seed, i) alone, so the chunk size does not change the
        value. A lower bound on log p(x) whose expectation rises to it with k.

        Arguments:
          x: [batch, *event_shape].
          num_samples: k (default `default_num_eval_samples`).
          seed: int (None: random).
          chunk_size: samples per chunk (default: ~64 MB per tensor).
          verbose: 1 shows a progress bar over chunks (eager calls).
        Returns:
          [batch] nats.
        """
        self._ensure_built()
        x = self.validate_input(x)
        k = self.default_num_eval_samples if num_samples is None else num_samples
        if isinstance(k, (int, np.integer)) and k < 1:
            raise ValueError(f"expected num_samples >= 1, got {k}")
        seed = as_seed(seed)
        if chunk_size is None:
            static_k = int(k) if isinstance(k, (int, np.integer)) else 1000
            chunk_size = bounds.default_chunk_size(static_k, x.shape[0], self._widest_tensor())
        chunk_size = int(chunk_size)
        if tf.executing_eagerly():
            compiled = self._compiled_chunk(chunk_size)
            fn = lambda start: compiled(x, seed, start)  # noqa: E731
        else:
            fn = lambda start: self.bound_terms(x, seed, start, chunk_size)["log_weights"]  # noqa: E731
        return bounds.chunked_iwae_bound(fn, k, chunk_size, verbose=verbose)

    def _compiled_chunk(self, chunk_size):
        functions = self._compiled_log_weights.functions
        if chunk_size not in functions:
            functions[chunk_size] = tf.function(
                lambda x, seed, start: self.bound_terms(x, seed, start, chunk_size)["log_weights"],
                reduce_retracing=True,
            )
        return functions[chunk_size]

    def _widest_tensor(self):
        layer = self.generative_layers[0]
        per_example = getattr(layer, "num_params", None) or self.num_dims * layer.params_per_dim
        widths = [per_example, *self.latent_dims]
        for net in (*self.inference_nets, *self.generative_nets):
            widths.extend(getattr(net, "hidden_units", []) or [])
        return max(widths)

    def evaluate_nll(self, dataset, verbose=1, num_samples=None, chunk_size=None, seed=0):
        """Test NLL by the L_k estimate, -1/N sum_n L_k(x_n) (Burda et al. 2016, Sec. 5).

        Arguments:
          dataset: batches of model-space x (or (x, y)).
          verbose: 1 shows a progress bar over batches.
          num_samples: k (default `default_num_eval_samples`; 5000 in the paper).
          chunk_size: samples per chunk (see `log_prob`).
          seed: int; batch b uses seed + b, so the estimate is reproducible.
        Returns:
          dict with `nll_nats`, `bits_per_dim` (data space),
          `model_space_nll_nats` and `num_samples`.
        """
        self._ensure_built()
        k = int(self.default_num_eval_samples if num_samples is None else num_samples)
        if k < 1:
            raise ValueError(f"expected num_samples >= 1, got {k}")
        cardinality = int(dataset.cardinality()) if hasattr(dataset, "cardinality") else -1
        progress = keras.utils.Progbar(cardinality if cardinality > 0 else None) if verbose else None
        total_model, total_data, count = 0.0, 0.0, 0
        for index, batch in enumerate(dataset):
            x, _ = self.unpack(batch)
            x = self.validate_input(x)
            log_prob = self.log_prob(x, num_samples=k, seed=seed + index, chunk_size=chunk_size)
            data_log_prob = self.data_transform.data_space_log_prob(log_prob, x)
            total_model += float(tf.reduce_sum(log_prob))
            total_data += float(tf.reduce_sum(data_log_prob))
            count += int(x.shape[0])
            if progress is not None:
                progress.update(index + 1, [("nll", -total_model / count)])
        if count == 0:
            raise ValueError("expected a dataset with at least one example, got none")
        nll = -total_data / count
        return {
            "nll_nats": nll,
            "bits_per_dim": nll / (self.num_dims * math.log(2.0)),
            "model_space_nll_nats": -total_model / count,
            "num_samples": k,
        }

    # --------------------------------------------------------------- sampling
    def sample(self, n, *, seed=None, mean=False):
        """Ancestral samples h^L ~ p(h^L), ..., h^1 ~ p(h^1 | h^2), then x.

        Arguments:
          n: number of samples.
          seed: int for reproducibility (stateless).
          mean: False draws x ~ p(x | h^1); True returns E[x | h^1] (the
            usual picture: Bernoulli probabilities, Gaussian means; what
            `sample_grid_options` asks for).
        Returns:
          [n, *event_shape].
        """
        self._ensure_built()
        seeds = tf.unstack(tf.random.experimental.stateless_split(as_seed(seed), self.num_stochastic_layers + 1))
        h = self.prior().sample(n, seed=seeds[0])
        for level in range(self.num_stochastic_layers - 1, 0, -1):
            params = self.generative_layers[level](self.generative_nets[level](h))
            h = self.generative_layers[level].make_distribution(params).sample(seed=seeds[level])
        params = self._decoder_params(h)
        if mean:
            return self.generative_layers[0].mean(params)
        return self.generative_layers[0].make_distribution(params).sample(seed=seeds[-1])

    # ------------------------------------------------------------ latent tools
    def encode(self, x):
        """The code of x, E_q[h^1 | x] (for a flow posterior: the flowed mean of its base):
        [batch, *event_shape] -> [batch, latent_dims[0]]."""
        self._ensure_built()
        x = self.validate_input(x)
        return self.posterior_layers[0].mean(self.posterior_layers[0](self._input_features(x)))

    def reconstruct(self, x):
        """E[x | h^1 = E_q[h^1 | x]]: [batch, *event_shape] -> same shape."""
        return self.decode(self.encode(x))

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None):
        """Decoded means between the posterior means of two inputs (see
        `GenerativeModel.interpolate`); an end that is None is drawn from p(h^1)
        (one stochastic layer) with `seed`.

        start, end: [1, *event_shape] or [*event_shape], or None. -> [num_steps, *event_shape].
        """
        ends = []
        if start is None or end is None:
            if self.num_stochastic_layers > 1:
                raise ValueError(f"{type(self).__name__}: interpolation ends drawn from the prior need one "
                                 f"stochastic layer, got {self.num_stochastic_layers}; pass both ends")
            drawn = self.prior().sample(2, seed=as_seed(seed))
        for index, x in enumerate((start, end)):
            if x is None:
                ends.append(drawn[index])
            else:
                ends.append(self.encode(tf.reshape(tf.cast(x, tf.float32), [1, *self.event_shape]))[0])
        return self.decode(interpolate(ends[0], ends[1], num_steps, method))

    def attribute_vector(self, x_with, x_without):
        """Mean posterior mean with an attribute minus without it: -> [latent_dims[0]]."""
        return attribute_vector(self.encode(x_with), self.encode(x_without))

    def apply_attribute(self, x, vector, strength=1.0):
        """decode(encode(x) + strength * vector): -> [batch, *event_shape]."""
        return self.decode(apply_attribute(self.encode(x), vector, strength))

    def sample_grid_options(self, n):
        """Pictures of samples show E[x | h^1]."""
        return {"mean": True}

    def figures(self, examples=None, *, seed=0, num_steps=8):
        """Model-space pictures for a run directory (data space: apply
        `data_transform.inverse`), each a batch of examples to tile:

          "reconstructions": rows of (x, reconstruction) pairs, [2n, *event_shape];
          "interpolations": for consecutive pairs of x, `num_steps` decoded
            points between their posterior means, [(n // 2) * num_steps, *event_shape].
        examples: [n, *event_shape], n >= 2 (None: no figures).
        """
        if examples is None:
            return {}
        x = self.validate_input(examples)
        pairs = tf.reshape(tf.stack([x, self.reconstruct(x)], 1), [-1, *self.event_shape])
        paths = [self.interpolate(x[i], x[i + 1], num_steps=num_steps) for i in range(0, int(x.shape[0]) - 1, 2)]
        return {"reconstructions": pairs, "interpolations": tf.concat(paths, 0)}

    def dataset_figures(self, load_examples, num_examples=2000):
        """`latent_scatter` of `num_examples` test examples, for a 2-D latent."""
        if self.latent_dims[0] != 2:
            return {}
        return {"latent_scatter": self.latent_scatter(*load_examples(num_examples))}

    def latent_scatter(self, x, labels=None, size=256):
        """A picture of the posterior means of a 2-D latent, coloured by label.

        Arguments:
          x: [n, *event_shape]; labels: [n] ints (None: one colour).
        Returns:
          uint8 [size, size, 3] (write it with `tfdgm.visualize.write_png`).
        """
        if self.latent_dims[0] != 2:
            raise ValueError(f"latent_scatter needs latent_dim 2, got {self.latent_dims[0]}")
        z = self.encode(x).numpy()
        labels = np.zeros(len(z), np.int64) if labels is None else np.asarray(labels).astype(np.int64)
        low, high = np.percentile(z, 1, axis=0), np.percentile(z, 99, axis=0)
        margin = 0.1 * (high - low) + 1e-6
        low, high = low - margin, high + margin
        pixels = ((z - low) / (high - low) * (size - 1)).round().astype(np.int64)
        inside = np.all((pixels >= 0) & (pixels < size), axis=1)
        palette = (np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                             [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]]))
        picture = np.full((size, size, 3), 255, np.uint8)
        for (column, row), label in zip(pixels[inside], labels[inside]):
            top, left = max(0, size - 1 - row - 1), max(0, column - 1)
            picture[top : top + 3, left : left + 3] = palette[label % len(palette)]
        return picture

    # ---------------------------------------------------------------- metrics
    @property
    def metrics(self):
        return list(self._trackers.values())

    def _update_metrics(self, bound, x, **extra):
        """bound: [batch] the training estimate of log p(x) (nats, model space)."""
        data_log_prob = self.data_transform.data_space_log_prob(bound, x)
        self._trackers["nll"].update_state(-bound)
        self._trackers["bits_per_dim"].update_state(-data_log_prob / (self.num_dims * math.log(2.0)))
        for name, value in extra.items():
            self._trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def training_bound(self, x, seed):
        """The family's training estimate of log p(x) with its extra metrics:
        -> (bound [batch], dict of [batch] metrics). Used by `test_step`."""
        raise NotImplementedError

    def test_step(self, data):
        x, _ = self.unpack(data)
        x = self.validate_input(x)
        bound, extra = self.training_bound(x, self.training_seed())
        return self._update_metrics(bound, x, **extra)

    def call(self, x, training=False):
        return self.elbo(x)

    # ----------------------------------------------------------------- export
    def export_signatures(self):
        event = [None, *self.event_shape]
        latent = [None, self.latent_dims[0]]
        int_scalar = lambda name: tf.TensorSpec([], tf.int32, name=name)  # noqa: E731

        return {
            "encode": (lambda x: {"z": self.encode(x)}, [tf.TensorSpec(event, tf.float32, name="x")]),
            "encode_sample": (
                lambda x, seed: {"z": self.encoder_distribution(x).sample(seed=as_seed(seed))},
                [tf.TensorSpec(event, tf.float32, name="x"), int_scalar("seed")],
            ),
            "decode": (lambda z: {"x": self.decode(z)}, [tf.TensorSpec(latent, tf.float32, name="z")]),
            "sample": (
                lambda n, seed: {"samples": self.sample(n, seed=seed)},
                [int_scalar("n"), int_scalar("seed")],
            ),
            "log_prob": (
                lambda x, num_samples, seed: {
                    "log_prob": self.log_prob(x, num_samples=num_samples, seed=seed, chunk_size=self._export_chunk_size())
                },
                [tf.TensorSpec(event, tf.float32, name="x"), int_scalar("num_samples"), int_scalar("seed")],
            ),
        }

    def _export_chunk_size(self):
        return bounds.default_chunk_size(1000, 128, self._widest_tensor())
