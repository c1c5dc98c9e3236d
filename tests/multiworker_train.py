"""Trains one small model of each family in a row through `tfdgm.runs.train`
(the API under `tfdgm train`), for tests/test_multiworker.py.

Run as `python -m tests.multiworker_train OUT_DIR STRATEGY`: each run goes to
OUT_DIR/FAMILY. One process trains all four so that the test pays for
TensorFlow's start and the cluster's connection once.
"""

import sys
import time

from tfdgm import runs

#: family -> (model, dataset, hyper-parameters): tiny and fast.
RUNS = {
    "density": ("maf", "moons", {"num_layers": 2, "hidden_units": [16]}),
    "latent": ("vae", "digits", {"hidden_units": [32], "latent_dim": 2}),
    "energy": ("rbm", "digits", {"num_hidden": 16, "persistent": True, "num_chains": 16}),
    "adversarial": ("gan", "moons", {"hidden_units": [16]}),
}


def main(out_dir, strategy):
    for family, (model, data, params) in RUNS.items():
        start = time.perf_counter()
        runs.train(model, data, out=f"{out_dir}/{family}", epochs=2, batch_size=32, num_examples=128,
                   params=params, strategy=strategy, checkpoint_every=2, verbose=0)
        print(f"trained {family} in {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
