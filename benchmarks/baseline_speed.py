"""Train-step speed of the factorized baselines: tfdgm `fit` (XLA on / off)
side by side with a hand-written TFP + `tf.function` loop (the peer).

Reports steps/second and ratios measured in one run, interleaved in rounds so
that noise on a shared machine hits every contender alike.

  .venv/bin/python benchmarks/baseline_speed.py [--steps 300] [--rounds 3]
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfdgm.models import IndependentBernoulli  # noqa: E402

tfd = tfp.distributions
SHAPE = (28, 28, 1)


def _batches(batch_size, steps):
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(batch_size * 8, *SHAPE)) < 0.3).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(x).repeat().batch(batch_size).take(steps).cache()


def tfdgm_fit(jit_compile, batch_size, steps, steps_per_execution=1):
    model = IndependentBernoulli(event_shape=SHAPE)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile, steps_per_execution=steps_per_execution
    )
    data = _batches(batch_size, steps)
    model.fit(data.take(5), epochs=1, verbose=0)  # trace and compile
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def raw_tfp_loop(batch_size, steps):
    """The peer: a tf.Variable, a TFP distribution and an XLA tf.function step."""
    logits = tf.Variable(tf.zeros(SHAPE))
    optimizer = keras.optimizers.Adam(1e-3)

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            distribution = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), 3)
            loss = -tf.reduce_mean(distribution.log_prob(x))
        optimizer.apply_gradients([(tape.gradient(loss, logits), logits)])
        return loss

    data = list(_batches(batch_size, steps))
    step(data[0])
    start = time.perf_counter()
    for x in data:
        loss = step(x)
    float(loss)
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "baseline_speed.json"))
    args = parser.parse_args()
    contenders = {
        "tfdgm fit, XLA": lambda: tfdgm_fit(True, args.batch_size, args.steps),
        "tfdgm fit, no XLA": lambda: tfdgm_fit(False, args.batch_size, args.steps),
        "tfdgm fit, XLA, 25 steps/call": lambda: tfdgm_fit(True, args.batch_size, args.steps, 25),
        "raw TFP loop, XLA (peer)": lambda: raw_tfp_loop(args.batch_size, args.steps),
    }
    rates = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            rates[name].append(run())
    best = {name: max(values) for name, values in rates.items()}
    peer = best["raw TFP loop, XLA (peer)"]
    print(f"IndependentBernoulli on [{args.batch_size}, 28, 28, 1], best of {args.rounds} rounds")
    for name, rate in best.items():
        print(f"  {name:28s} {rate:9.1f} steps/s   ratio to peer {rate / peer:5.2f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"steps_per_second": rates, "best": best, "args": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
