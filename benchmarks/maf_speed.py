"""Training speed of tfdgm's MAF side by side with TFP's own
`tfb.MaskedAutoregressiveFlow(tfb.AutoregressiveNetwork(...))` (the peer,
tf_keras-based), at the same architecture, data and batches, in one run.

Data: Fashion-MNIST from Debian's `dataset-fashion-mnist` IDX files, flattened
to 784 dims, uniformly dequantized, scaled to [0, 1] and logit-transformed
(lambda = 1e-6, MAF's MNIST setting and tfdgm's default for MAF on images).
Both flows: `num_layers` MADE layers with `hidden_units`, ReLU, equal hidden
degrees, order reversed between layers, no batch norm, log-scale bounded by
3 tanh(a / 3) (TFP's default unbounded log-scale gives non-finite losses on
this data; see docs/architecture.md), Adam(lr). tfdgm trains by `model.fit` (XLA, its
default); the peer by a `tf.function` step (TFP's documented usage) and, if it
compiles, also by an XLA `tf.function(jit_compile=True)` step. Timed rounds are
interleaved so that noise on the shared machine hits every contender alike;
every contender sees the same batches in the same order. The first round
(tracing / XLA compilation) is not timed. Finally every contender's test NLL
(nats in logit space, and bits/dim in pixel space) after the same steps.

  .venv/bin/python benchmarks/maf_speed.py \
      [--num-layers 5] [--hidden 512] [--batch-size 128] [--rounds 4] [--steps 50] [--num-blocks 4]
"""

import argparse
import gzip
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfdgm.models import MAF  # noqa: E402

tfb = tfp.bijectors
tfd = tfp.distributions

FASHION = "/usr/share/datasets/fashion-mnist"
ALPHA = 1e-6
BOUND = 3.0


def _images(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(os.path.join(FASHION, f"{prefix}-images-idx3-ubyte.gz")) as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 784)


def _logit_space(pixels, seed):
    """y = logit(alpha + (1 - 2 alpha)(x + u) / 256) and log|dy/dx| per example."""
    rng = np.random.default_rng(seed)
    s = ALPHA + (1 - 2 * ALPHA) * (pixels + rng.uniform(size=pixels.shape)) / 256.0
    y = np.log(s) - np.log1p(-s)
    log_det = np.sum(math.log((1 - 2 * ALPHA) / 256.0) - np.log(s) - np.log1p(-s), axis=1)
    return y.astype(np.float32), log_det


def _bits_per_dim(model_log_prob, log_det):
    return float(-np.mean(model_log_prob + log_det) / (784 * math.log(2.0)))


class TfpPeer:
    """TFP's MAF with its tf_keras AutoregressiveNetwork conditioners."""

    def __init__(self, num_layers, hidden_units, learning_rate, jit_compile):
        import tf_keras

        self.networks = [
            tfb.AutoregressiveNetwork(
                params=2, event_shape=[784], hidden_units=hidden_units, activation="relu",
                input_order="left-to-right" if k % 2 == 0 else "right-to-left",
            )
            for k in range(num_layers)
        ]

        def shift_and_bounded_log_scale(network):
            def fn(y):
                shift, log_scale = tf.unstack(network(y), num=2, axis=-1)
                return shift, BOUND * tf.tanh(log_scale / BOUND)
            return fn

        self.bijector = tfb.Chain(
            [tfb.MaskedAutoregressiveFlow(shift_and_bounded_log_scale(n)) for n in self.networks]
        )
        self.distribution = tfd.TransformedDistribution(
            tfd.Independent(tfd.Normal(tf.zeros(784), 1.0), 1), self.bijector
        )
        self.distribution.log_prob(tf.zeros([1, 784]))  # creates the variables
        self.variables = [v for n in self.networks for v in n.trainable_variables]
        self.optimizer = tf_keras.optimizers.Adam(learning_rate)

        @tf.function(jit_compile=jit_compile)
        def step(x):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(self.distribution.log_prob(x))
            self.optimizer.apply_gradients(zip(tape.gradient(loss, self.variables), self.variables))
            return loss

        self.step = step
        self.log_prob = tf.function(self.distribution.log_prob)

    def train(self, iterator, steps):
        for _ in range(steps):
            loss = self.step(next(iterator))
        return float(loss)  # waits for the last step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-layers", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds (after one untimed warm-up round)")
    parser.add_argument("--steps", type=int, default=50, help="steps per contender per round")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-test", type=int, default=2000)
    parser.add_argument("--num-blocks", type=int, default=4,
                        help="tfdgm MAF's block-sparse masked products (4: what its default 'auto' picks at 784 x 512; "
                             "1: dense; same function either way)")
    parser.add_argument("--no-peer-xla", action="store_true", help="skip the XLA-compiled peer")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "maf_speed.json"),
                        help="where to write the results as JSON")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    train, _ = _logit_space(_images("train")[: args.num_train], seed=0)
    test, test_log_det = _logit_space(_images("test")[: args.num_test], seed=1)
    dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=0).repeat().batch(
        args.batch_size, drop_remainder=True
    ).prefetch(2)

    # tfdgm: model.fit, one epoch per round; the callback times each epoch and
    # runs the peers' rounds in between (outside the timed span).
    model = MAF(event_shape=(784,), num_layers=args.num_layers, hidden_units=args.hidden,
                log_scale_bound=BOUND, batch_norm=False, num_blocks=args.num_blocks)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))

    peers = {"tfp": TfpPeer(args.num_layers, args.hidden, args.learning_rate, jit_compile=False)}
    if not args.no_peer_xla:
        try:
            candidate = TfpPeer(args.num_layers, args.hidden, args.learning_rate, jit_compile=True)
            candidate.step(next(iter(dataset)))
            peers["tfp_xla"] = TfpPeer(args.num_layers, args.hidden, args.learning_rate, jit_compile=True)
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            print(f"peer with XLA does not compile: {type(error).__name__}: {str(error)[:200]}")
    iterators = {name: iter(dataset) for name in peers}
    seconds = {name: [] for name in ["tfdgm", *peers]}

    class Interleave(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            if epoch > 0:
                seconds["tfdgm"].append(elapsed)
            for name, peer in peers.items():
                start = time.perf_counter()
                peer.train(iterators[name], args.steps)
                if epoch > 0:
                    seconds[name].append(time.perf_counter() - start)
            print(f"round {epoch}: " + ", ".join(
                f"{name} {args.steps * args.batch_size / s[-1]:.0f} ex/s" for name, s in seconds.items() if s
            ), flush=True)

    model.fit(dataset, epochs=args.rounds + 1, steps_per_epoch=args.steps, callbacks=[Interleave()], verbose=0)

    examples = args.rounds * args.steps * args.batch_size
    results = {"config": vars(args), "steps_per_contender": (args.rounds + 1) * args.steps, "contenders": {}}
    log_probs = {"tfdgm": model.log_prob(test).numpy()}
    for name, peer in peers.items():
        log_probs[name] = peer.log_prob(test).numpy()
    for name in seconds:
        lp = log_probs[name]
        results["contenders"][name] = {
            "examples_per_second": examples / sum(seconds[name]),
            "round_examples_per_second": [args.steps * args.batch_size / s for s in seconds[name]],
            "test_nll_nats": float(-np.mean(lp)),
            "test_bits_per_dim": _bits_per_dim(lp, test_log_det),
            "finite_fraction": float(np.mean(np.isfinite(lp))),
        }
    for name in peers:
        results[f"speed_ratio_tfdgm_over_{name}"] = (
            results["contenders"]["tfdgm"]["examples_per_second"] / results["contenders"][name]["examples_per_second"]
        )
    print(json.dumps(results, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
