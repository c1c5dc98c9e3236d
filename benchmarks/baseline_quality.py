"""Quality of the factorized Bernoulli baseline on binarized Fashion-MNIST:
test NLL after `fit` side by side with the exact maximum-likelihood optimum of
the same family (closed form), in one run.

  .venv/bin/python benchmarks/baseline_quality.py [--data fashion_mnist] [--epochs 5]
"""

import argparse
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.models import IndependentBernoulli  # noqa: E402


def _test_nll(model, test):
    results = model.evaluate(test, return_dict=True, verbose=0)
    return results["nll"], results["bits_per_dim"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--preprocess", default="binarize:static")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "baseline_quality.json"))
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    info = tfdgm_data.dataset_info(args.data)
    train = tfdgm_data.load(args.data, "train", preprocess=args.preprocess, batch_size=args.batch_size, shuffle=True)
    test = tfdgm_data.load(args.data, "test", preprocess=args.preprocess, batch_size=1000)

    fitted = IndependentBernoulli(event_shape=info.event_shape)
    fitted.compile(optimizer=keras.optimizers.Adam(1e-2))
    start = time.perf_counter()
    history = fitted.fit(train, epochs=args.epochs, verbose=2)
    seconds_per_epoch = (time.perf_counter() - start) / args.epochs

    optimum = IndependentBernoulli(event_shape=info.event_shape)
    optimum.compile()
    optimum.fit_closed_form(np.concatenate([x.numpy() for x in train]))

    rows = {"tfdgm fit": _test_nll(fitted, test), "closed-form MLE (optimum)": _test_nll(optimum, test)}
    print(f"IndependentBernoulli on {args.data} ({args.preprocess}), test set, {args.epochs} epochs of fit")
    for name, (nats, bits) in rows.items():
        print(f"  {name:28s} {nats:8.2f} nats  {bits:.4f} bits/dim")
    gap = rows["tfdgm fit"][0] - rows["closed-form MLE (optimum)"][0]
    print(f"  gap to optimum: {gap:.3f} nats; {seconds_per_epoch:.2f} s/epoch")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "seconds_per_epoch": seconds_per_epoch, "args": vars(args),
                   "train_nll": history.history["nll"], "nats_per_bit_check": math.log(2)}, handle, indent=2)


if __name__ == "__main__":
    main()
