"""DBM joint training at three step sizes, judged by EXACT log-likelihoods.

A 784-12-200 DBM (first hidden layer small enough to enumerate) on 10k
statically binarized Fashion-MNIST images: greedy pretraining (4 epochs per
layer, SGD 0.05), then 4 epochs of joint training (S&H 2009, Alg. 1) with
`joint_learning_rate_factor` 1, 0.1 and 0.02 from the same pretrained weights.
After every epoch the exact test and training log-likelihoods (nats, 500
examples each) are printed; no AIS or bound is involved.

  .venv/bin/python benchmarks/dbm_joint_rate.py
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from dbm_bound_check import _arrays  # noqa: E402
from tfdgm.distributions.dbm import dbm_log_unnormalized  # noqa: E402
from tfdgm.models.energy import DBM  # noqa: E402


def exact_log_likelihood(model, x):
    log_z = float(model.distribution().exact_log_normalizer())
    return float(np.mean(dbm_log_unnormalized(tf.constant(x), model.layer_weights, model.biases).numpy())
                 - log_z)


def main():
    train, test = _arrays("train", 10_000), _arrays("test", 500)
    keras.utils.set_random_seed(0)
    base = DBM(event_shape=(784,), num_hidden=[12, 200], pretrain_epochs_per_layer=4)
    base.compile(optimizer=keras.optimizers.SGD(0.05))
    start = time.perf_counter()
    base.fit(train, batch_size=100, epochs=8, verbose=0)
    weights = base.get_weights()
    rows = [{"factor": None, "epoch": 8, "test": exact_log_likelihood(base, test),
             "train": exact_log_likelihood(base, train[:500]), "seconds": round(time.perf_counter() - start)}]
    print(json.dumps(rows[-1]), flush=True)
    for factor in (1.0, 0.1, 0.02):
        model = DBM(event_shape=(784,), num_hidden=[12, 200], pretrain_epochs_per_layer=4,
                    joint_learning_rate_factor=factor)
        model.build((None, 784))
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        for epoch in range(8, 12):
            model.fit(train, batch_size=100, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            rows.append({"factor": factor, "epoch": epoch + 1, "test": exact_log_likelihood(model, test),
                         "train": exact_log_likelihood(model, train[:500])})
            print(json.dumps(rows[-1]), flush=True)
    out = os.path.join(os.path.dirname(__file__), "results", "dbm_joint_rate.json")
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
