"""Is the DBM's test log-likelihood bound right at full size? A check on real data.

A two-layer DBM on statically binarized Fashion-MNIST whose first hidden layer
is small enough to enumerate (784-12-H2): its log Z and every log p(v) are then
exact (sum over h1 by enumeration, v and h2 summed out analytically), so the
figures that `benchmarks/rbm.py` reports for the 500-1000 DBM, the AIS log Z
and the mean-field lower bound (S&H 2009, eq. 5), can be compared with the
truth on the same 784 visible units and the same data:

  * AIS log Z (same schedule as the benchmark) vs exact log Z;
  * mean-field bound - log Z  <=  exact log p(v), and the size of the gap;
  * the same after greedy pretraining only and after joint training.

  .venv/bin/python benchmarks/dbm_bound_check.py
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfdgm  # noqa: E402
from tfdgm.distributions.dbm import dbm_log_unnormalized  # noqa: E402
from tfdgm.models.energy import DBM  # noqa: E402


def _arrays(split, num):
    data = tfdgm.data.load("fashion_mnist", split=split, preprocess="binarize:static", batch_size=10_000,
                           num_examples=num)
    return np.concatenate([np.asarray(x) for x in data]).reshape(-1, 784)


def _check(model, test, args, stage):
    exact_log_z = float(model.distribution().exact_log_normalizer())
    start = time.perf_counter()
    ais_log_z, stderr = model.log_partition("ais", num_runs=args.ais_runs, num_betas=args.ais_betas, seed=0)
    ais_seconds = time.perf_counter() - start
    exact_log_p = np.concatenate([
        dbm_log_unnormalized(tf.constant(test[i:i + 100]), model.layer_weights, model.biases).numpy()
        for i in range(0, len(test), 100)]) - exact_log_z
    bound = model.lower_bound(test).numpy() - exact_log_z
    row = {"stage": stage, "exact_log_z": exact_log_z, "ais_log_z": ais_log_z, "ais_stderr": stderr,
           "ais_seconds": round(ais_seconds, 1), "exact_test_log_likelihood": float(exact_log_p.mean()),
           "mean_field_bound": float(bound.mean()), "max_bound_minus_exact": float(np.max(bound - exact_log_p)),
           "mean_gap": float(np.mean(exact_log_p - bound))}
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-train", type=int, default=10_000)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--top", type=int, default=200, help="width of h2 (h1 has 12 units)")
    parser.add_argument("--pretrain-epochs", type=int, default=4, help="per layer")
    parser.add_argument("--joint-epochs", type=int, default=4)
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=10_000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "dbm_bound_check.json"))
    args = parser.parse_args()
    train, test = _arrays("train", args.num_train), _arrays("test", args.num_test)
    keras.utils.set_random_seed(0)
    total = 2 * args.pretrain_epochs + args.joint_epochs
    model = DBM(event_shape=(784,), num_hidden=[12, args.top], pretrain_epochs_per_layer=args.pretrain_epochs)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    rows = []
    model.fit(train, batch_size=100, epochs=2 * args.pretrain_epochs, verbose=0)
    rows.append(_check(model, test, args, f"pretrained ({args.pretrain_epochs} epochs per layer)"))
    model.fit(train, batch_size=100, epochs=total, initial_epoch=2 * args.pretrain_epochs, verbose=0)
    assert int(model.stage.numpy()) == 2
    rows.append(_check(model, test, args, f"+ {args.joint_epochs} epochs of joint training"))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"args": vars(args), "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
