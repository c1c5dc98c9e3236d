"""RBM family on statically binarized Fashion-MNIST: AIS test log-likelihoods
and the speed of one CD-1 epoch against scikit-learn's BernoulliRBM.

Quality: RBM-500 trained by CD-1, CD-25 and PCD (constant step, and
decayed linearly to zero as Tieleman 2008 did), a DBN (500-500) and a
two-layer DBM (500-1000, joint step constant or decayed to zero); test
log-likelihood in nats with log Z by AIS
(Salakhutdinov & Murray 2008) and its standard error (for DBN and DBM the
variational lower bound). Published anchors on MNIST (not Fashion-MNIST):
RBM-500 CD-25 ~ -86.3 nats (S&M 2008), DBM ~ -84.6 (S&H 2009).

Speed, as a user experiences it: the whole call, tfdgm's "construct the
model, `compile()`, `fit(x, epochs=1, batch_size=100)`" on the NumPy array of
all 60k training images (XLA compile and `fit`'s set-up and tear-down
included) against scikit-learn's `BernoulliRBM(n_components=500,
batch_size=100, n_iter=1).fit(x)` (its update is PCD-1: one Gibbs sweep per
batch, the same five [100, 784] x [784, 500] products), in `--speed-rounds`
interleaved rounds; also a second epoch of the same tfdgm model (no
compile), and both as a fraction of the float32 GEMM rate measured in the
same process (and of 195 GFLOP/s, the AVX-512 host's idle rate the issue
used) at 3.92 MFLOP per example. The step's own product shape is timed
through NumPy's BLAS (scikit-learn's) and TensorFlow (`step_product_gflops`).

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
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfdgm  # noqa: E402
from tfdgm.models.energy import DBM, DBN, BernoulliRBM  # noqa: E402


def _arrays(split, num):
    data = tfdgm.data.load("fashion_mnist", split=split, preprocess="binarize:static", batch_size=10_000,
                           num_examples=num)
    return np.concatenate([np.asarray(x) for x in data]).reshape(-1, 784)


def _speed_arrays(num):
    """All 60k Fashion-MNIST training images (the library's train and
    validation splits), statically binarized: the RBM speed's data."""
    images = np.concatenate([_arrays("train", None), _arrays("validation", None)])
    return images[:num]


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


class _Phases(keras.callbacks.Callback):
    """Times of `fit`'s begin, its epoch's begin and end, and its end (epoch-level hooks only)."""

    def on_train_begin(self, logs=None):
        self.train_begin = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_end = time.perf_counter()

    def on_train_end(self, logs=None):
        self.train_end = time.perf_counter()


#: Multiply-adds of one CD-1 update of RBM-V-H, per example, as five [1, V] x
#: [V, H] products: the data's hidden input, the reconstruction, the
#: negatives' hidden input, and the positive and negative statistics.
def cd1_flops_per_example(num_visible=784, num_hidden=500):
    return 5 * 2 * num_visible * num_hidden


def _tfdgm_user_fit(train, batch_size):
    """The whole call a user makes: construct, `compile()`, `fit(x, epochs=1,
    batch_size)` on the NumPy array (tfdgm's defaults: CD-1, SGD 0.05,
    momentum 0.5, weight decay 2e-4, XLA, steps per call chosen by `fit`).
    A second `fit` epoch on the same model gives the steady rate (no compile).
    -> dict of seconds."""
    phases = _Phases()
    start = time.perf_counter()
    model = BernoulliRBM(event_shape=(784,), num_hidden=500)
    model.compile()
    model.fit(train, epochs=1, batch_size=batch_size, verbose=0, callbacks=[phases])
    end = time.perf_counter()
    again = _Phases()
    model.fit(train, epochs=1, batch_size=batch_size, verbose=0, callbacks=[again])
    return {"fit_call": end - start, "set_up": phases.train_begin - start,
            "epoch_with_compile": phases.epoch_end - phases.epoch_begin, "tear_down": end - phases.train_end,
            "second_epoch": again.epoch_end - again.epoch_begin,
            "steps_per_execution": int(model.steps_per_execution), "jit_compile": bool(model.jit_compile)}


def _sklearn_user_fit(train, batch_size):
    """scikit-learn's whole call: `BernoulliRBM(n_components=500, batch_size,
    n_iter=1).fit(x)` (its update is PCD-1: one Gibbs sweep per batch, the
    same five products)."""
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    start = time.perf_counter()
    SklearnRBM(n_components=500, learning_rate=0.05, batch_size=batch_size, n_iter=1, random_state=0).fit(train)
    return time.perf_counter() - start


def gemm_rate(size=2048, repeats=5):
    """The best float32 GEMM rate through TensorFlow in this process (FLOP/s, [size]^3 products)."""
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    product = tf.function(lambda a, b: tf.reduce_sum(a @ b))
    return 2 * size**3 / best_seconds(lambda: float(product(a, b)), repeats)


def best_seconds(call, rounds, repeats=1):
    """The fastest of `rounds` timings of `repeats` calls in a row, after one untimed call."""
    call()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        best = min(best, time.perf_counter() - start)
    return best


def step_product_rates(batch_size=100, num_visible=784, num_hidden=500, repeats=50, rounds=5):
    """The [batch, V] x [V, H] product of the CD-1 step, 50 in a row, best of
    `rounds`, through NumPy's BLAS (what scikit-learn's step calls) and
    through TensorFlow (one compiled call per product, as in `fit`'s steps).
    -> {"numpy": FLOP/s, "tensorflow": FLOP/s}."""
    rng = np.random.default_rng(0)
    v = rng.uniform(size=(batch_size, num_visible)).astype(np.float32)
    w = rng.uniform(size=(num_visible, num_hidden)).astype(np.float32)
    tv, tw = tf.constant(v), tf.constant(w)
    product = tf.function(lambda: tf.reduce_sum(tv @ tw))
    calls = {"numpy": lambda: v @ w, "tensorflow": lambda: float(product())}
    flops = repeats * 2 * batch_size * num_visible * num_hidden
    return {name: flops / best_seconds(call, rounds, repeats) for name, call in calls.items()}


def cpu_description():
    """The host's CPU model and vector extensions (Linux /proc/cpuinfo; {} elsewhere)."""
    try:
        with open("/proc/cpuinfo") as info:
            lines = info.read().splitlines()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = fields.get("flags", "").split()
    return {"model": fields.get("model name"), "cores": os.cpu_count(),
            "vector": [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]}


def speed(args, train, rounds=2):
    """Whole user `fit` calls, tfdgm against scikit-learn, `rounds` interleaved rounds."""
    tfdgm_runs, sklearn_seconds = [], []
    load_before = os.getloadavg()  # other processes on the machine (rounds are interleaved; seconds are not comparable)
    for index in range(rounds):
        if index % 2:
            sklearn_seconds.append(_sklearn_user_fit(train, args.batch_size))
            tfdgm_runs.append(_tfdgm_user_fit(train, args.batch_size))
        else:
            tfdgm_runs.append(_tfdgm_user_fit(train, args.batch_size))
            sklearn_seconds.append(_sklearn_user_fit(train, args.batch_size))
        print(json.dumps({"tfdgm": tfdgm_runs[-1], "sklearn_fit_call": sklearn_seconds[-1]}), flush=True)
    rate = gemm_rate()
    at_step_shape = step_product_rates(args.batch_size)
    flops = cd1_flops_per_example() * len(train)
    best_call = min(run["fit_call"] for run in tfdgm_runs)
    best_second = min(run["second_epoch"] for run in tfdgm_runs)
    median_ratio = statistics.median(s / run["fit_call"] for s, run in zip(sklearn_seconds, tfdgm_runs))
    return {
        "examples": len(train), "batch_size": args.batch_size, "rounds": rounds,
        "tfdgm_fit_call_seconds": round(best_call, 3),
        "sklearn_fit_call_seconds": round(min(sklearn_seconds), 3),
        "speedup": round(min(sklearn_seconds) / best_call, 2),
        "speedup_median_of_rounds": round(median_ratio, 2),
        "tfdgm_second_epoch_seconds": round(best_second, 3),
        "cd1_gflop_per_epoch": flops / 1e9,
        "gemm_rate_reference_gflops": REFERENCE_GEMM_GFLOPS,
        "gemm_rate_measured_gflops": round(rate / 1e9, 1),
        "cpu": cpu_description(),
        "step_product_gflops": {name: round(r / 1e9, 1) for name, r in at_step_shape.items()},
        "gemm_fraction_fit_call": round(flops / best_call / (REFERENCE_GEMM_GFLOPS * 1e9), 3),
        "gemm_fraction_second_epoch": round(flops / best_second / (REFERENCE_GEMM_GFLOPS * 1e9), 3),
        "gemm_fraction_second_epoch_of_measured": round(flops / best_second / rate, 3),
        "tfdgm_runs": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in run.items()} for run in tfdgm_runs],
        "sklearn_fit_call_seconds_all": [round(s, 3) for s in sklearn_seconds],
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
    }


#: The float32 GEMM rate through TensorFlow of the AVX-512 host the RBM target
#: was set on (idle); hosts differ, so the rate measured in-process is kept too.
REFERENCE_GEMM_GFLOPS = 195.0


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
    parser.add_argument("--speed-rounds", type=int, default=3, help="interleaved rounds of the speed contenders")
    parser.add_argument("--speed-examples", type=int, default=60000, help="training images of the speed epoch")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "rbm.json"))
    args = parser.parse_args()
    train, test = _arrays("train", args.num_train), _arrays("test", args.num_test)
    speed_row = None if args.skip_speed else speed(args, _speed_arrays(args.speed_examples), args.speed_rounds)
    print(json.dumps(speed_row), flush=True)
    rows = [] if args.skip_quality else quality(args, train, test)
    lines = ["| model | epochs | test log-likelihood (nats) | ± stderr | train s | AIS + eval s |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        bound = " (lower bound)" if row["bound"] else ""
        lines.append(f"| {row['model']} | {row['epochs']} | {row['test_log_likelihood']:.2f}{bound} | "
                     f"{row['stderr']:.2f} | {row['train_seconds']} | {row['ais_seconds']} |")
    if speed_row:
        lines += ["", f"| one CD-1 epoch of RBM-500, batch {args.batch_size}, {speed_row['examples']} examples, whole `fit` call "
                  "| seconds (speed-up over scikit-learn) |", "|---|---|",
                  f"| tfdgm: construct, `compile()`, `fit(x, epochs=1, batch_size={args.batch_size})` | "
                  f"{speed_row['tfdgm_fit_call_seconds']} ({speed_row['speedup']}x; "
                  f"{100 * speed_row['gemm_fraction_fit_call']:.0f}% of {REFERENCE_GEMM_GFLOPS:g} GFLOP/s) |",
                  f"| tfdgm, a second epoch of the same model (no compile) | {speed_row['tfdgm_second_epoch_seconds']} "
                  f"({100 * speed_row['gemm_fraction_second_epoch']:.0f}%) |",
                  f"| scikit-learn `BernoulliRBM(n_iter=1).fit(x)` | {speed_row['sklearn_fit_call_seconds']} |"]
    print("\n".join(lines))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump({"args": vars(args), "quality": rows, "speed": speed_row, "table": lines}, handle, indent=2)


if __name__ == "__main__":
    main()
