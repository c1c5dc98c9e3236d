"""Where a WGAN-GP step with keras-io's players spends its time on a CPU.

`wgan_gp_vs_keras.py` trains both sides with the same two networks, so the
ratio between them can only come from what surrounds the networks. This
times the networks' own pieces, with keras-io's critic and generator (that
script's `keras_io_critic` / `keras_io_generator`) on one batch of 64 in a
`tf.function` without XLA, as both sides run them: a critic forward pass,
its parameter gradient, its input gradient (the gradient penalty's inner
gradient) and the penalty's second-order parameter gradient. Then it times
each of the critic's four 5x5 stride-2 convolutions alone: forward, gradient
with respect to the input (`Conv2DBackpropInput`) and to the kernel
(`Conv2DBackpropFilter`), in plain TensorFlow and under XLA, with the
multiply-adds each does, so that a kernel far below the machine's rate shows.

  make benchmark NAME=wgan_gp_profile [ARGS="--repeats 5 --out benchmarks/results/wgan_gp_profile.json"]

Milliseconds per call, mean of `--repeats` calls after one warm-up call.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from wgan_gp_vs_keras import NOISE_DIM, keras_io_critic, keras_io_generator  # noqa: E402

BATCH = 64


def _milliseconds(function, repeats):
    tf.nest.map_structure(lambda t: t.numpy(), function())
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    tf.nest.map_structure(lambda t: t.numpy(), result)
    return round((time.perf_counter() - start) / repeats * 1000, 1)


def network_pieces(repeats):
    keras.utils.set_random_seed(0)
    generator, critic = keras_io_generator(), keras_io_critic()
    x = tf.random.uniform((BATCH, 28, 28, 1), -1.0, 1.0)
    z = tf.random.normal((BATCH, NOISE_DIM))

    @tf.function
    def parameter_gradient():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(critic(x, training=True))
        return tape.gradient(loss, critic.trainable_variables)

    @tf.function
    def input_gradient():
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = critic(x, training=True)
        return tape.gradient(scores, x)

    @tf.function
    def penalty_gradient():
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                scores = critic(x, training=True)
            slopes = tf.norm(tf.reshape(inner.gradient(scores, x), [BATCH, -1]), axis=1)
            penalty = tf.reduce_mean(tf.square(slopes - 1.0))
        # the output layer's bias does not reach the penalty: its gradient is None
        return [g for g in outer.gradient(penalty, critic.trainable_variables) if g is not None]

    pieces = {
        "generator forward": tf.function(lambda: generator(z, training=True)),
        "critic forward": tf.function(lambda: critic(x, training=True)),
        "critic forward + parameter gradient": parameter_gradient,
        "critic forward + input gradient": input_gradient,
        "gradient penalty forward + second-order parameter gradient": penalty_gradient,
    }
    return {name: _milliseconds(function, repeats) for name, function in pieces.items()}


def convolutions(repeats):
    """keras-io's critic convolutions (5x5, stride 2, same padding) on a batch of 64."""
    rows = []
    for size, filters_in, filters_out in ((32, 1, 64), (16, 64, 128), (8, 128, 256), (4, 256, 512)):
        x = tf.random.normal((BATCH, size, size, filters_in))
        kernel = tf.random.normal((5, 5, filters_in, filters_out)) * 0.05
        out = tf.random.normal((BATCH, size // 2, size // 2, filters_out))
        multiply_adds = BATCH * (size // 2) ** 2 * 25 * filters_in * filters_out
        row = {"input": [size, size, filters_in], "output": [size // 2, size // 2, filters_out],
               "mega_multiply_adds": round(multiply_adds / 1e6, 1)}
        ops = {
            "forward": lambda: tf.nn.conv2d(x, kernel, 2, "SAME"),
            "input gradient": lambda: tf.compat.v1.nn.conv2d_backprop_input(
                tf.shape(x), kernel, out, [1, 2, 2, 1], "SAME"),
            "kernel gradient": lambda: tf.compat.v1.nn.conv2d_backprop_filter(
                x, tf.shape(kernel), out, [1, 2, 2, 1], "SAME"),
        }
        for name, op in ops.items():
            for label, jit in (("tensorflow", False), ("xla", True)):
                ms = _milliseconds(tf.function(op, jit_compile=jit), repeats)
                row[f"{name} ms ({label})"] = ms
                row[f"{name} GFLOP/s ({label})"] = round(2 * multiply_adds / ms / 1e6, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "wgan_gp_profile.json"))
    args = parser.parse_args()
    if args.repeats < 1:
        raise ValueError(f"expected --repeats >= 1, got {args.repeats}")
    results = {"batch_size": BATCH, "repeats": args.repeats, "tensorflow": tf.__version__,
               "load_average_before": os.getloadavg()[0], "network_ms": network_pieces(args.repeats)}
    print(json.dumps(results["network_ms"], indent=1), flush=True)
    results["convolutions"] = convolutions(args.repeats)
    results["load_average_after"] = os.getloadavg()[0]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
