"""One CD-1-sized matrix product on CPU, under XLA and in plain TensorFlow,
with 1 and 2 intra-op threads: where the RBM's CD-1 step loses to 2 cores.

A CD-1 step of RBM-500 on batches of 100 makes five [100, 784] x [784, 500]
products (tfdgm's train step six, with its reconstruction metric). This times
one product alone, and the bare CD-1 update (five products, two Bernoulli
draws, no Keras), each in its own process because the thread count is fixed
when TensorFlow starts.

  .venv/bin/python benchmarks/xla_dot_threads.py [--rounds 3]

Also times the product with 200 and 400 rows: XLA's CPU dot uses the second
core only from some size on.

Prints milliseconds per call, best of 3 timing loops per process, for each
round of the four configurations run one after another (interleaved, so that
the shared machine's drift hits them alike).
"""

import argparse
import json
import subprocess
import sys
import time

BATCH, VISIBLE, HIDDEN = 100, 784, 500


def _measure(threads, jit, repeats=300):
    """In this process: ms per product and per bare CD-1 update."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    v = tf.constant((np.random.default_rng(0).uniform(size=(BATCH, VISIBLE)) < 0.3).astype(np.float32))
    weights = tf.Variable(tf.random.normal([VISIBLE, HIDDEN], stddev=0.01))
    visible_bias, hidden_bias = tf.Variable(tf.zeros([VISIBLE])), tf.Variable(tf.zeros([HIDDEN]))

    @tf.function(jit_compile=jit)
    def product(x):
        return tf.reduce_sum(x @ weights)

    taller = {rows: tf.constant(np.random.default_rng(rows).uniform(size=(rows, VISIBLE)).astype(np.float32))
              for rows in (200, 400)}

    @tf.function(jit_compile=jit)
    def cd1(x, seed):
        seeds = tf.random.experimental.stateless_split(seed, 2)
        hidden = tf.sigmoid(x @ weights + hidden_bias)
        h = tf.cast(tf.random.stateless_uniform(hidden.shape, seeds[0], alg="philox") < hidden, tf.float32)
        visible = tf.sigmoid(tf.matmul(h, weights, transpose_b=True) + visible_bias)
        negative = tf.cast(tf.random.stateless_uniform(visible.shape, seeds[1], alg="philox") < visible, tf.float32)
        hidden_negative = tf.sigmoid(negative @ weights + hidden_bias)
        gradient = tf.matmul(x, hidden, transpose_a=True) - tf.matmul(negative, hidden_negative, transpose_a=True)
        weights.assign_add(0.1 / BATCH * gradient)
        visible_bias.assign_add(0.1 * tf.reduce_mean(x - negative, 0))
        hidden_bias.assign_add(0.1 * tf.reduce_mean(hidden - hidden_negative, 0))
        return 0

    # Loops inside one graph, so that Python dispatch is not what is timed.
    def products_of(x):
        @tf.function
        def products(n):
            total = 0.0
            for _ in tf.range(n):
                total += product(x)
            return total
        return products

    @tf.function
    def updates(n):
        for i in tf.range(n):
            cd1(v, tf.stack([i, 7]))
        return 0

    result = {}
    loops = [("product_ms", products_of(v))] + [(f"product_{rows}_rows_ms", products_of(x)) for rows, x in taller.items()]
    for name, loop in loops + [("cd1_update_ms", updates)]:
        loop(tf.constant(2))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            loop(tf.constant(repeats))
            best = min(best, (time.perf_counter() - start) / repeats * 1000)
        result[name] = round(best, 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, type=int, metavar=("THREADS", "JIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], bool(args.child[1]))))
        return
    rows = []
    for round_index in range(args.rounds):
        for threads in (1, 2):
            for jit in (1, 0):
                done = subprocess.run([sys.executable, __file__, "--child", str(threads), str(jit)],
                                      capture_output=True, text=True, check=True)
                row = {"round": round_index, "threads": threads, "xla": bool(jit),
                       **json.loads(done.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
