"""Stateless random numbers on CPU: TensorFlow's default algorithm against
Philox (`tfdgm.rng`), in plain TensorFlow and under XLA, in one run.

Why `tfdgm.rng` exists: inside XLA the default (`alg="auto_select"`) is left
to XLA's default bit generator, and on CPU it is far slower than Philox; every Gibbs sweep of an
RBM draws one uniform per unit.

  .venv/bin/python benchmarks/rng_speed.py [--size 128400] [--repeats 200]

Prints milliseconds per draw of `--size` float32 uniforms (best of 3 rounds).
"""

import argparse
import json
import time

import tensorflow as tf


def _time(fn, repeats):
    fn()  # trace and compile
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100 * (784 + 500), help="uniforms per draw (one CD-1 sweep)")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    rows = {}
    for alg in ("auto_select", "philox"):
        for jit in (False, True):
            fn = tf.function(lambda alg=alg: tf.reduce_sum(tf.random.stateless_uniform([args.size], [1, 2], alg=alg)),
                             jit_compile=jit)
            rows[f"{alg}, {'XLA' if jit else 'plain'}"] = round(_time(fn, args.repeats), 3)
    print(json.dumps(rows, indent=1))
    print(f"under XLA, Philox is {rows['auto_select, XLA'] / rows['philox, XLA']:.1f}x faster than the default")


if __name__ == "__main__":
    main()
