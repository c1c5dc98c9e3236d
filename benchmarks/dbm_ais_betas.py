"""Does the AIS log Z of the RBM benchmark's DBM rise with more betas?

Trains the same DBM 500-1000 as `rbm.py --only DBM --dbm-pretrain-epochs 3
--dbm-joint-epochs 6` (same seed, data, step and batch), then estimates log Z
with 100 runs x 5,000 betas and 50 runs x 20,000 betas. AIS under-estimates
log Z in expectation; a rise with more betas measures how much.

  flock /tmp/tfdgm-bench.lock .venv/bin/python benchmarks/dbm_ais_betas.py
"""
import json
import time

import keras
import numpy as np

import tfdgm.data
from tfdgm.models.energy import DBM
d = tfdgm.data.load("fashion_mnist", split="train", preprocess="binarize:static", batch_size=10_000)
train = np.concatenate([np.asarray(x) for x in d]).reshape(-1, 784)
keras.utils.set_random_seed(0)
model = DBM(event_shape=(784,), num_hidden=[500, 1000], pretrain_epochs_per_layer=3)
model.compile(optimizer=keras.optimizers.SGD(0.05))
t = time.perf_counter(); model.fit(train, batch_size=100, epochs=12, verbose=0); print("train s", time.perf_counter() - t, flush=True)
for runs, betas in ((100, 5000), (50, 20000)):
    t = time.perf_counter()
    log_z, se = model.log_partition("ais", num_runs=runs, num_betas=betas, seed=0)
    print(json.dumps({"runs": runs, "betas": betas, "log_z": log_z, "stderr": se, "seconds": time.perf_counter() - t}), flush=True)
