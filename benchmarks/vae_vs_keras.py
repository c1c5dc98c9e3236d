"""tfdgm's VAE against the keras-io VAE recipe, side by side: training speed
as a Keras user gets it (`compile()` + `fit()`) and the test L_5000 at the
same budget.

The peer is the keras-io "Variational AutoEncoder" example (fchollet) as its
documentation describes it, with its dense layers in place of the example's
convolutions so that both sides have the same network: a `Sampling` layer
(z = mu + exp(log_var / 2) eps with a `keras.random.SeedGenerator`), a
functional encoder returning (z_mean, z_log_var, z) and decoder, and a
`keras.Model` subclass whose custom `train_step` takes the mean over the
batch of the summed `keras.losses.binary_crossentropy` of the image plus the
analytic KL, with three `keras.metrics.Mean` trackers returned by `metrics`.

Both sides (Burda et al. 2016, Sec. 5): 784-200-200-50 encoder and
50-200-200-784 decoder, tanh, a diagonal Gaussian posterior and a Bernoulli
likelihood, the same dynamically binarized Fashion-MNIST batches
(`tfdgm.data.load`, images [28, 28, 1]), Adam `--learning-rate`, `--epochs`
epochs. Each model gets `compile(optimizer=Adam(lr))` and nothing else, so
each runs what its library picks by default (Keras: a `tf.function` step,
one step per call, because `jit_compile="auto"` is off on a CPU; tfdgm: see
`GenerativeModel.compile` and `fit`).

Timing: one untimed `fit` call of `--warmup-steps` batches each (tracing and
compiling: "the clock starts after the first step"); then the epochs, each
one `fit(train, epochs=1)` call, alternating which model goes first. Speed
is examples per second from `on_epoch_begin` to `on_epoch_end` (no
batch-level callback, so each library may run several steps per call); the
JSON keeps the whole `fit` call's seconds too.

Quality: L_k (k = `--num-samples`, 5000 as Burda et al.) on the first
`--test-examples` test images, from one function for both,
`tfdgm.inference.bounds.chunked_iwae_bound` with noise from
`bounds.per_sample_noise` (sample i seeded by (seed, i)); the peer's
log p(x | z) is minus its training loss's summed binary cross-entropy (Keras
clips the probabilities to [1e-7, 1 - 1e-7]).

  nice .venv/bin/python benchmarks/vae_vs_keras.py [--epochs 2] [--batch-size 100] \\
      [--test-examples 1000] [--num-samples 5000] [--seed 0] [--out benchmarks/results/vae_vs_keras.json]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.inference import bounds  # noqa: E402
from tfdgm.models import VAE  # noqa: E402

IMAGE_SHAPE = (28, 28, 1)


# ------------------------------------------------------------ the keras-io recipe
class Sampling(layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * epsilon (keras-io's sampling layer)."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def keras_io_encoder(hidden_units, latent_dim):
    inputs = keras.Input(shape=IMAGE_SHAPE)
    x = layers.Flatten()(inputs)
    for units in hidden_units:
        x = layers.Dense(units, activation="tanh")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


def keras_io_decoder(hidden_units, latent_dim):
    inputs = keras.Input(shape=(latent_dim,))
    x = inputs
    for units in hidden_units[::-1]:
        x = layers.Dense(units, activation="tanh")(x)
    x = layers.Dense(int(np.prod(IMAGE_SHAPE)), activation="sigmoid")(x)
    return keras.Model(inputs, layers.Reshape(IMAGE_SHAPE)(x), name="decoder")


class KerasIoVAE(keras.Model):
    """keras-io's VAE model: custom `train_step`, `keras.metrics.Mean` trackers."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


def keras_io_log_weights(model, x, seed, start, num):
    """log p(x, z_i) - log q(z_i | x) of the peer for samples start..start+num-1: -> [num, batch]."""
    encoder = model.encoder
    hidden = encoder.get_layer("z_mean").input
    trunk = keras.Model(encoder.inputs, hidden)
    features = trunk(x)
    mean = encoder.get_layer("z_mean")(features)
    log_var = encoder.get_layer("z_log_var")(features)
    latent_dim = mean.shape[-1]
    (noise,) = bounds.per_sample_noise(seed, start, num, [tf.stack([tf.shape(x)[0], latent_dim])], ["normal"])
    scale = tf.exp(0.5 * log_var)
    z = mean + scale * noise  # [num, batch, d]
    log_q = tf.reduce_sum(-0.5 * tf.square(noise) - tf.math.log(scale) - 0.5 * np.log(2 * np.pi), -1)
    log_prior = tf.reduce_sum(-0.5 * tf.square(z) - 0.5 * np.log(2 * np.pi), -1)
    probs = model.decoder(tf.reshape(z, [-1, latent_dim]))
    probs = tf.reshape(tf.clip_by_value(probs, 1e-7, 1 - 1e-7), [num, -1, int(np.prod(IMAGE_SHAPE))])
    flat = tf.reshape(x, [1, -1, int(np.prod(IMAGE_SHAPE))])
    log_likelihood = tf.reduce_sum(flat * tf.math.log(probs) + (1 - flat) * tf.math.log1p(-probs), -1)
    return log_likelihood + log_prior - log_q


def keras_io_bound(model, test, num_samples, seed, chunk_size=250):
    totals, count = 0.0, 0
    for index, x in enumerate(test):
        batch_seed = tf.constant([seed + index, 0], tf.int32)
        fn = tf.function(lambda start, x=x, s=batch_seed: keras_io_log_weights(model, x, s, start, chunk_size))
        totals += float(tf.reduce_sum(bounds.chunked_iwae_bound(fn, num_samples, chunk_size)))
        count += int(x.shape[0])
    return totals / count


# ------------------------------------------------------------------- timing
class _EpochClock(keras.callbacks.Callback):
    """Seconds from `on_epoch_begin` to `on_epoch_end` (epoch-level hooks only)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.logs = dict(logs or {})


def timed_epoch(model, train):
    clock = _EpochClock()
    start = time.perf_counter()
    model.fit(train, epochs=1, verbose=0, callbacks=[clock])
    return clock.seconds, time.perf_counter() - start, clock.logs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[200, 200])
    parser.add_argument("--latent-dim", type=int, default=50)
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=5000, help="k of the test L_k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/vae_vs_keras.json")
    args = parser.parse_args()

    def train_data():
        return tfdgm_data.load("fashion_mnist", "train", preprocess="binarize:dynamic", batch_size=args.batch_size,
                               shuffle=True, seed=args.seed, num_examples=args.train_examples, drop_remainder=True)

    load_before = os.getloadavg()  # other processes on the machine (the ratio is interleaved; the rates are not)
    keras.utils.set_random_seed(args.seed)
    peer = KerasIoVAE(keras_io_encoder(args.hidden_units, args.latent_dim),
                      keras_io_decoder(args.hidden_units, args.latent_dim))
    peer.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    keras.utils.set_random_seed(args.seed)
    ours = VAE(event_shape=IMAGE_SHAPE, hidden_units=args.hidden_units, latent_dim=args.latent_dim)
    ours.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    contenders = {"keras_io": peer, "tfdgm": ours}
    data = {name: train_data() for name in contenders}  # the same batches, one pipeline each
    steps_per_epoch = int(data["tfdgm"].cardinality())

    warmup = {}
    for name, model in contenders.items():
        start = time.perf_counter()
        model.fit(data[name].take(args.warmup_steps), epochs=1, verbose=0)
        warmup[name] = time.perf_counter() - start
    epochs = {name: [] for name in contenders}
    for epoch in range(args.epochs):
        order = list(contenders) if epoch % 2 == 0 else list(contenders)[::-1]
        for name in order:
            seconds, call_seconds, logs = timed_epoch(contenders[name], data[name])
            epochs[name].append({"epoch_seconds": seconds, "fit_call_seconds": call_seconds,
                                 "examples_per_second": steps_per_epoch * args.batch_size / seconds,
                                 "logs": {k: float(v) for k, v in logs.items()}})
            print(name, json.dumps(epochs[name][-1]), flush=True)

    test = tfdgm_data.load("fashion_mnist", "test", preprocess="binarize:dynamic", batch_size=100, seed=args.seed,
                           num_examples=args.test_examples)
    quality = {}
    start = time.perf_counter()
    quality["tfdgm"] = -ours.evaluate_nll(test, verbose=0, num_samples=args.num_samples, seed=args.seed)["nll_nats"]
    quality["keras_io"] = keras_io_bound(peer, test, args.num_samples, args.seed)
    eval_seconds = time.perf_counter() - start

    rate = {name: statistics.mean(e["examples_per_second"] for e in runs) for name, runs in epochs.items()}
    total = {name: sum(e["epoch_seconds"] for e in runs) for name, runs in epochs.items()}
    result = {
        "args": vars(args),
        "steps_per_epoch": steps_per_epoch,
        "tfdgm_steps_per_execution": int(ours.steps_per_execution),
        "tfdgm_jit_compile": bool(ours.jit_compile),
        "keras_io_jit_compile": bool(peer.jit_compile),
        "warmup_seconds": warmup,
        "epochs": epochs,
        "examples_per_second": rate,
        "speedup": rate["tfdgm"] / rate["keras_io"],
        "speedup_total_epoch_seconds": total["keras_io"] / total["tfdgm"],
        "test_log_likelihood": quality,
        "eval_seconds": eval_seconds,
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
    }
    print(json.dumps({k: result[k] for k in ("examples_per_second", "speedup", "test_log_likelihood")}))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
