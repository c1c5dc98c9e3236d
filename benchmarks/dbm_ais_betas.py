"""Does the AIS log Z of the RBM benchmark's DBM (or DBN) rise with more betas?

Trains the same DBM 500-1000 as `rbm.py --only DBM --dbm-pretrain-epochs 3
--dbm-joint-epochs 6` (same seed, data, step and batch), then estimates log Z
with each `--schedules` entry RUNSxBETAS (default 100 runs x 5,000 betas and
50 runs x 20,000 betas). AIS under-estimates log Z in expectation; a rise
with more betas measures how much. The last schedule also gives the test
set's variational bound (S&H 2009 eq. 5 with that log Z, `evaluate_nll`),
the number the RBM benchmark's DBM row reports. `--weights FILE` keeps the trained
weights there (and reuses them when the file exists), so longer schedules
can be added without retraining. `--decay-joint` decays the joint stage's
step to zero (cosine, after the constant-step pretraining), as PCD needs for
its chains to catch up with the model (Tieleman 2008; the RBM benchmark's
decayed-PCD row). `--model dbn` does the same for the benchmark's DBN 500-500
(`--dbn-epochs` per layer, constant step), whose bound needs the top RBM's
log Z.

  .venv/bin/python benchmarks/dbm_ais_betas.py \
      [--schedules 100x5000 50x20000] [--weights /tmp/dbm.weights.h5] [--decay-joint] [--joint-epochs 6]
      [--model dbn --dbn-epochs 4]
"""
import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

import tfdgm.data
from tfdgm.models.energy import DBM, DBN


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", nargs="+", default=["100x5000", "50x20000"], help="RUNSxBETAS entries")
    parser.add_argument("--weights", default=None, help="a .weights.h5 file to keep (or reuse) the trained DBM")
    parser.add_argument("--decay-joint", action="store_true", help="decay the joint stage's step to zero")
    parser.add_argument("--joint-epochs", type=int, default=6)
    parser.add_argument("--model", choices=["dbm", "dbn"], default="dbm")
    parser.add_argument("--dbn-epochs", type=int, default=4, help="epochs per layer of the DBN (--model dbn)")
    args = parser.parse_args()
    schedules = []
    for entry in args.schedules:
        runs, _, betas = entry.partition("x")
        if not (runs.isdigit() and betas.isdigit()):
            parser.error(f"expected RUNSxBETAS entries such as 100x5000, got {entry!r}")
        schedules.append((int(runs), int(betas)))

    keras.utils.set_random_seed(0)
    data = tfdgm.data.load("fashion_mnist", split="train", preprocess="binarize:static", batch_size=10_000)
    train = np.concatenate([np.asarray(x) for x in data]).reshape(-1, 784)
    if args.model == "dbn":  # as `rbm.py --only DBN --dbn-epochs N`
        model = DBN(event_shape=(784,), num_hidden=[500, 500])
        epochs, optimizer = 2 * args.dbn_epochs, keras.optimizers.SGD(0.05)
    else:
        model = DBM(event_shape=(784,), num_hidden=[500, 1000], pretrain_epochs_per_layer=3)
        epochs = model.pretraining_epochs(None) + args.joint_epochs
        # `--decay-joint`: the library's schedule, constant while pretraining, then a cosine to zero.
        optimizer = (model.make_optimizer(0.05, epochs=epochs, steps_per_epoch=-(-len(train) // 100))
                     if args.decay_joint else keras.optimizers.SGD(0.05))
    model.compile(optimizer=optimizer)
    if args.weights and os.path.exists(args.weights):
        model.build((None, 784))
        model.load_weights(args.weights)
        print(f"loaded {args.weights}", flush=True)
    else:
        start = time.perf_counter()
        model.fit(train, batch_size=100, epochs=epochs, verbose=0)
        print("train s", time.perf_counter() - start, flush=True)
        if args.weights:
            model.save_weights(args.weights)
    for k, (runs, betas) in enumerate(schedules):
        start = time.perf_counter()
        if k < len(schedules) - 1:
            log_z, stderr = model.log_partition("ais", num_runs=runs, num_betas=betas, seed=0)
            row = {"log_z": log_z, "stderr": stderr}
        else:
            test = tfdgm.data.load("fashion_mnist", split="test", preprocess="binarize:static", batch_size=500)
            results = model.evaluate_nll(test.map(lambda x, *_: tf.reshape(x, [-1, 784])), verbose=0,
                                         ais_runs=runs, ais_betas=betas, seed=0)
            row = {"log_z": results["log_z"], "stderr": results["log_z_stderr"],
                   "test_log_likelihood_bound": -results["nll_nats"]}
        print(json.dumps({"runs": runs, "betas": betas, **row, "seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
