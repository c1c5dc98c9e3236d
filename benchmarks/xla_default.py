"""`compile()`'s XLA default against `jit_compile=False`, model by model, on a CPU.

Keras 3 leaves XLA off on a machine without a GPU; tfdgm's `compile()` turns
it on where the train step compiles (`tfdgm.models.execution.xla_by_default`)
and off for the convolutional RBMs, where it was measured slower. This script
is the evidence for the rest: for each model at a realistic size (28x28 images
or 784-dimensional vectors, synthetic data of the model's domain: speed does
not depend on the values), `compile(jit_compile=True)` and
`compile(jit_compile=False)` in turn (the order alternating by round), the
first `fit` epoch (tracing and compiling) and a second one (steady state).
One JSON line per model, setting and round.

  make benchmark NAME=xla_default ARGS="--models dcgan,wgan_gp,glow,gated_pixelcnn,vae,maf,rbm --rounds 1"
"""

import argparse
import json
import os
import time

import numpy as np

from tfdgm import models

RNG = np.random.default_rng(0)


def _uniform(*shape):
    return RNG.uniform(size=shape).astype(np.float32)


def _binary(*shape):
    return (RNG.uniform(size=shape) < 0.3).astype(np.float32)


#: name -> (model factory, data factory, batch size): each model's defaults.
CASES = {
    "dcgan": (lambda: models.DCGAN(event_shape=(28, 28, 1)), lambda: _uniform(640, 28, 28, 1), 64),
    "wgan_gp": (lambda: models.WGANGP(event_shape=(28, 28, 1)), lambda: _uniform(640, 28, 28, 1), 64),
    "glow": (lambda: models.Glow(event_shape=(28, 28, 1)), lambda: _uniform(320, 28, 28, 1), 64),
    "gated_pixelcnn": (lambda: models.GatedPixelCNN(event_shape=(28, 28, 1)),
                       lambda: np.floor(_uniform(320, 28, 28, 1) * 256), 32),
    "vae": (lambda: models.VAE(event_shape=(784,)), lambda: _binary(20000, 784), 100),
    "maf": (lambda: models.MAF(event_shape=(784,)), lambda: RNG.normal(size=(5000, 784)).astype(np.float32), 100),
    "rbm": (lambda: models.BernoulliRBM(event_shape=(784,), num_hidden=500), lambda: _binary(20000, 784), 100),
}


def epochs_seconds(name, jit_compile):
    """(first epoch, second epoch) seconds of `fit` after `compile(jit_compile=...)`."""
    make, data, batch_size = CASES[name]
    x = data()
    model = make()
    model.compile(jit_compile=jit_compile)
    start = time.perf_counter()
    model.fit(x, epochs=1, batch_size=batch_size, verbose=0)
    middle = time.perf_counter()
    model.fit(x, epochs=1, batch_size=batch_size, verbose=0)
    return middle - start, time.perf_counter() - middle, len(x) // batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(CASES), help="comma-separated, from: " + ", ".join(CASES))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown models {unknown}; expected some of {list(CASES)}")
    for round_index in range(args.rounds):
        for name in names:
            for jit_compile in ((True, False) if round_index % 2 == 0 else (False, True)):
                first, second, steps = epochs_seconds(name, jit_compile)
                print(json.dumps({"round": round_index, "model": name, "jit": jit_compile,
                                  "first_epoch": round(first, 2), "second_epoch": round(second, 2),
                                  "steps": steps, "load": round(os.getloadavg()[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
