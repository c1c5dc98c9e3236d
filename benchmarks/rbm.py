"""RBM family on statically binarized Fashion-MNIST: AIS test log-likelihoods
and the speed of one CD-1 epoch against scikit-learn's BernoulliRBM.

Quality: RBM-500 trained by CD-1, CD-25 and PCD (constant step, and
decayed linearly to zero as Tieleman 2008 did), a DBN (500-500) and a
two-layer DBM (500-1000, joint step constant or decayed to zero); test
log-likelihood in nats with log Z by AIS
(Salakhutdinov & Murray 2008) and its standard error (for DBN and DBM the
variational lower bound). Published anchors on MNIST (not Fashion-MNIST):
RBM-500 CD-25 ~ -86.3 nats (S&M 2008), DBM ~ -84.6 (S&H 2009).

Speed: one epoch over the same training images at the same size and batch,
tfdgm `fit` (XLA, CD-1; on NumPy arrays, and on tf.data with 10 steps per
call as the CLI trains) against `sklearn.neural_network.BernoulliRBM.partial_fit`
per batch (sklearn's update is PCD-1: the same one Gibbs sweep per update);
tfdgm's epoch is timed by callbacks at its begin and end (the whole `fit`
call's seconds are kept in the JSON too); best of `--speed-rounds`
interleaved rounds.

Budgets are fixed epoch counts per model (not wall-clock: the CPU is shared):
`--epochs` for RBM CD-1 and PCD, `--cd25-epochs` for CD-25 (25 sweeps per
update), `--dbn-epochs` per DBN layer, `--dbm-pretrain-epochs` per DBM layer
then `--dbm-joint-epochs` of joint training (S&H 2009 Alg. 1). The table also
has the base-rate model (independent pixels at the training marginals, the
AIS start) as the floor every model must beat.

  .venv/bin/python benchmarks/rbm.py --epochs 10 --cd25-epochs 3 \
      --dbn-epochs 5 --dbm-pretrain-epochs 3 --dbm-joint-epochs 5 --ais-runs 100 --ais-betas 10000
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
from tfdgm.models.energy import DBM, DBN, BernoulliRBM  # noqa: E402
from tfdgm.models.energy.base import EnergyModel  # noqa: E402


def _arrays(split, num):
    data = tfdgm.data.load("fashion_mnist", split=split, preprocess="binarize:static", batch_size=10_000,
                           num_examples=num)
    return np.concatenate([np.asarray(x) for x in data]).reshape(-1, 784)


def quality(args, train, test):
    dbm_epochs = 2 * args.dbm_pretrain_epochs + args.dbm_joint_epochs
    configs = {
        "RBM-500 CD-1": (args.epochs, lambda: BernoulliRBM(event_shape=(784,), num_hidden=500, cd_steps=1)),
        "RBM-500 CD-25": (args.cd25_epochs, lambda: BernoulliRBM(event_shape=(784,), num_hidden=500, cd_steps=25)),
        "RBM-500 PCD": (args.epochs, lambda: BernoulliRBM(event_shape=(784,), num_hidden=500, persistent=True)),
        # Tieleman (2008) decays PCD's step linearly to zero: a constant step
        # keeps the persistent chains from mixing (the row above).
        "RBM-500 PCD, step decayed to 0": (args.epochs, lambda: BernoulliRBM(event_shape=(784,), num_hidden=500,
                                                                             persistent=True)),
        "DBN 500-500": (2 * args.dbn_epochs, lambda: DBN(event_shape=(784,), num_hidden=[500, 500])),
        "DBM 500-1000": (dbm_epochs, lambda: DBM(event_shape=(784,), num_hidden=[500, 1000],
                                                 pretrain_epochs_per_layer=args.dbm_pretrain_epochs)),
        # The joint stage is PCD too: constant-step pretraining, then its step decays to 0.
        "DBM 500-1000, joint step decayed to 0": (dbm_epochs, lambda: DBM(
            event_shape=(784,), num_hidden=[500, 1000], pretrain_epochs_per_layer=args.dbm_pretrain_epochs)),
    }
    mean = np.clip(train.mean(0), 1e-3, 1 - 1e-3)
    base_rate = float(np.mean(test @ np.log(mean) + (1 - test) @ np.log1p(-mean)))
    rows = [{"model": "base rate (independent pixels)", "epochs": 0, "train_seconds": 0.0, "ais_seconds": 0.0,
             "test_log_likelihood": base_rate, "stderr": 0.0, "bound": False}]
    print(json.dumps(rows[-1]), flush=True)
    for name, (epochs, make) in configs.items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        keras.utils.set_random_seed(0)
        model = make()
        steps_per_epoch = -(-len(train) // args.batch_size)
        if "decayed" in name and name.startswith("DBM"):
            # The library's schedule (what `tfdgm train dbm` uses): constant
            # while pretraining, then a cosine to 0 over the joint epochs.
            optimizer = model.make_optimizer(args.learning_rate, epochs=epochs, steps_per_epoch=steps_per_epoch)
        elif "decayed" in name:  # Tieleman's linear decay, as measured for the PCD row
            optimizer = keras.optimizers.SGD(keras.optimizers.schedules.PolynomialDecay(
                args.learning_rate, epochs * steps_per_epoch, 0.0))
        else:
            optimizer = keras.optimizers.SGD(args.learning_rate)
        model.compile(optimizer=optimizer)
        start = time.perf_counter()
        model.fit(train, batch_size=args.batch_size, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        results = model.evaluate_nll(tf.data.Dataset.from_tensor_slices(test).batch(500), verbose=0,
                                     ais_runs=args.ais_runs, ais_betas=args.ais_betas)
        ais_seconds = time.perf_counter() - start - seconds
        rows.append({"model": name, "epochs": epochs, "train_seconds": round(seconds, 1),
                     "ais_seconds": round(ais_seconds, 1),
                     "test_log_likelihood": -results["nll_nats"], "stderr": results["log_z_stderr"],
                     "bound": bool(results.get("nll_is_upper_bound"))})
        print(json.dumps(rows[-1]), flush=True)
        with open(args.out + ".partial", "w", encoding="utf-8") as handle:  # survives an interrupted run
            json.dump({"args": vars(args), "quality": rows}, handle, indent=2)
    return rows


class _EpochTimer(keras.callbacks.Callback):
    """Wall time from `on_epoch_begin` to `on_epoch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


class _AutodiffRBM(BernoulliRBM):
    """BernoulliRBM trained by the family's autodiff path (as the Gaussian RBM
    is), for the side-by-side speed of the closed-form statistics."""

    def contrastive_gradients(self, flat, seed):
        return EnergyModel.contrastive_gradients(self, flat, seed)


def _tfdgm_epoch_seconds(train, batch_size, dataset, steps_per_execution, model_class=BernoulliRBM):
    """One CD-1 epoch of `fit` after a compiling call: on NumPy arrays (Keras
    slices them) or on a cached `tf.data` pipeline, as the CLI trains.

    -> (epoch seconds, from the epoch's begin to its end callback; seconds of
    the whole `fit` call). The two differ by fit's set-up and tear-down, once
    per call: on tf.data the tear-down sometimes waits for the next tick of
    tf.data's autotuning thread (calls ended at 2.55, 5.11 or 10.23 s, up to
    5 s after their last step; none with `autotune.enabled=False`; README,
    RBM family).
    """
    model = model_class(event_shape=(784,), num_hidden=500, cd_steps=1, momentum=0.0, weight_decay=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), steps_per_execution=steps_per_execution)
    timer = _EpochTimer()
    if dataset:
        data = tf.data.Dataset.from_tensor_slices(train).batch(batch_size).cache()
        model.fit(data.take(2 * steps_per_execution), epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        model.fit(data, epochs=1, verbose=0, callbacks=[timer])
    else:
        model.fit(train[: batch_size * 4], batch_size=batch_size, epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        model.fit(train, batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
    return timer.seconds, time.perf_counter() - start


def _sklearn_epoch_seconds(train, batch_size):
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    peer = SklearnRBM(n_components=500, learning_rate=0.1, batch_size=batch_size, random_state=0)
    peer.partial_fit(train[:batch_size])
    start = time.perf_counter()
    for first in range(0, len(train), batch_size):
        peer.partial_fit(train[first : first + batch_size])
    return time.perf_counter() - start


def speed(args, train, rounds=2):
    """Seconds per CD-1 epoch, best of `rounds` interleaved rounds of the contenders."""
    seconds = {"arrays": [], "dataset": [], "dataset_autodiff": [], "sklearn": []}
    fit_calls = {"arrays": [], "dataset": [], "dataset_autodiff": []}
    contenders = (("arrays", False, 1, BernoulliRBM), ("dataset", True, 10, BernoulliRBM),
                  ("dataset_autodiff", True, 10, _AutodiffRBM))
    for _ in range(rounds):
        for name, dataset, steps, model_class in contenders:
            epoch, call = _tfdgm_epoch_seconds(train, args.batch_size, dataset, steps, model_class)
            seconds[name].append(epoch)
            fit_calls[name].append(call)
        seconds["sklearn"].append(_sklearn_epoch_seconds(train, args.batch_size))
    best = {name: min(values) for name, values in seconds.items()}
    return {"examples": len(train), "batch_size": args.batch_size, "rounds": rounds,
            "tfdgm_seconds": round(best["arrays"], 2), "tfdgm_dataset_seconds": round(best["dataset"], 2),
            "sklearn_seconds": round(best["sklearn"], 2),
            "speedup": round(best["sklearn"] / best["arrays"], 2),
            "speedup_dataset": round(best["sklearn"] / best["dataset"], 2),
            "tfdgm_dataset_autodiff_seconds": round(best["dataset_autodiff"], 2),
            "speedup_dataset_autodiff": round(best["sklearn"] / best["dataset_autodiff"], 2),
            "all_seconds": {name: [round(s, 3) for s in values] for name, values in seconds.items()},
            "fit_call_seconds": {name: [round(s, 3) for s in values] for name, values in fit_calls.items()}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20, help="RBM CD-1 and PCD epochs")
    parser.add_argument("--cd25-epochs", type=int, default=5)
    parser.add_argument("--dbn-epochs", type=int, default=10, help="per layer")
    parser.add_argument("--dbm-pretrain-epochs", type=int, default=5, help="per layer")
    parser.add_argument("--dbm-joint-epochs", type=int, default=10)
    parser.add_argument("--num-train", type=int, default=None)
    parser.add_argument("--num-test", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=14500)
    parser.add_argument("--only", default=None,
                        help="run only the models whose name contains one of these comma-separated strings")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-rounds", type=int, default=2, help="interleaved rounds of the speed contenders")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "rbm.json"))
    args = parser.parse_args()
    train, test = _arrays("train", args.num_train), _arrays("test", args.num_test)
    speed_row = None if args.skip_speed else speed(args, train, args.speed_rounds)
    print(json.dumps(speed_row), flush=True)
    rows = [] if args.skip_quality else quality(args, train, test)
    lines = ["| model | epochs | test log-likelihood (nats) | ± stderr | train s | AIS + eval s |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        bound = " (lower bound)" if row["bound"] else ""
        lines.append(f"| {row['model']} | {row['epochs']} | {row['test_log_likelihood']:.2f}{bound} | "
                     f"{row['stderr']:.2f} | {row['train_seconds']} | {row['ais_seconds']} |")
    if speed_row:
        lines += ["", "| one CD-1 epoch, RBM-500, batch %d, %d examples | seconds (speed-up over scikit-learn) |" % (args.batch_size, len(train)),
                  "|---|---|", f"| tfdgm `fit` on arrays (XLA) | {speed_row['tfdgm_seconds']} "
                  f"({speed_row['speedup']}x) |",
                  f"| tfdgm `fit` on tf.data, 10 steps per call (XLA, as the CLI) | "
                  f"{speed_row['tfdgm_dataset_seconds']} ({speed_row['speedup_dataset']}x) |",
                  f"| the same with the family's autodiff CD gradient instead of the closed form | "
                  f"{speed_row['tfdgm_dataset_autodiff_seconds']} ({speed_row['speedup_dataset_autodiff']}x) |",
                  f"| scikit-learn BernoulliRBM `partial_fit` per batch | {speed_row['sklearn_seconds']} |"]
    print("\n".join(lines))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"args": vars(args), "quality": rows, "speed": speed_row, "table": lines}, handle, indent=2)


if __name__ == "__main__":
    main()
