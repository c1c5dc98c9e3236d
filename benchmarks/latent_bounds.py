"""Test log-likelihood of latent variable models on dynamically binarized
Fashion-MNIST, estimated by L_5000 (Burda et al. 2016, Sec. 5), after the same
fixed training budget for every model, with training throughput.

Rows: VAE (k = 1), IWAE (k = 5, k = 50), each with one (784-[200,200]-50) and
two (784-[200,200]-100-[100,100]-50) stochastic layers, and a Helmholtz
machine (binary layers 200-200) trained each way: wake-sleep, reweighted
wake-sleep (k = 5), NVIL and VIMCO (k = 2, 5, 10); `--models helmholtz` runs only
those. Published anchors for the shape of the result (MNIST): IWAE k = 50
beats VAE k = 1 by about 1-2 nats, and two stochastic layers beat one (Burda
et al. 2016, Table 1); on sigmoid belief nets VIMCO pulls ahead of NVIL as the
number of samples grows (Mnih & Rezende 2016, Sec. 5).

The budget is either a number of epochs (`--epochs N`: the same number of
parameter updates for every model, as in the paper, and a result that CPU
contention from other processes cannot change) or wall time per model
(`--budget-seconds S`). Throughput (training examples/s) is measured in the
same run for every row.

  .venv/bin/python benchmarks/latent_bounds.py \
      [--epochs N | --budget-seconds 600] [--test-examples 10000] [--num-samples 5000]

Writes a markdown table (default benchmarks/results/latent_bounds.md) and a
JSON file beside it.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.models import IWAE, VAE, HelmholtzMachine  # noqa: E402

ONE_LAYER = {"hidden_units": [200, 200], "latent_dim": 50}
TWO_LAYERS = {"hidden_units": [200, 200], "latent_dim": [100, 50]}

MODELS = {
    "VAE k=1, 1 layer": (VAE, ONE_LAYER),
    "IWAE k=5, 1 layer": (IWAE, {**ONE_LAYER, "num_importance_samples": 5}),
    "IWAE k=50, 1 layer": (IWAE, {**ONE_LAYER, "num_importance_samples": 50}),
    "VAE k=1, 2 layers": (VAE, TWO_LAYERS),
    "IWAE k=5, 2 layers": (IWAE, {**TWO_LAYERS, "num_importance_samples": 5}),
    "IWAE k=50, 2 layers": (IWAE, {**TWO_LAYERS, "num_importance_samples": 50}),
    "Helmholtz RWS k=5, 200-200": (
        HelmholtzMachine,
        {"latent_dim": [200, 200], "algorithm": "reweighted_wake_sleep", "num_importance_samples": 5},
    ),
    "Helmholtz wake-sleep, 200-200": (HelmholtzMachine, {"latent_dim": [200, 200], "algorithm": "wake_sleep"}),
    "Helmholtz NVIL, 200-200": (HelmholtzMachine, {"latent_dim": [200, 200], "algorithm": "nvil"}),
    "Helmholtz VIMCO k=2, 200-200": (
        HelmholtzMachine,
        {"latent_dim": [200, 200], "algorithm": "vimco", "num_importance_samples": 2},
    ),
    "Helmholtz VIMCO k=5, 200-200": (
        HelmholtzMachine,
        {"latent_dim": [200, 200], "algorithm": "vimco", "num_importance_samples": 5},
    ),
    "Helmholtz VIMCO k=10, 200-200": (
        HelmholtzMachine,
        {"latent_dim": [200, 200], "algorithm": "vimco", "num_importance_samples": 10},
    ),
}
HELMHOLTZ_ROWS = [name for name in MODELS if name.startswith("Helmholtz")]


class _TimeBudget(keras.callbacks.Callback):
    """Stops training after `seconds` of wall time (checked after every execution)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds and time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = self.stopped = True


def run_one(name, model_class, params, args, info):
    keras.utils.set_random_seed(args.seed)
    train = tfdgm_data.load(
        args.data, "train", preprocess="binarize:dynamic", batch_size=args.batch_size, shuffle=True,
        seed=args.seed, num_examples=args.train_examples, drop_remainder=True,
    )
    test = tfdgm_data.load(
        args.data, "test", preprocess="binarize:dynamic", batch_size=args.eval_batch_size, seed=args.seed,
        num_examples=args.test_examples,
    )
    model = model_class(event_shape=tuple(info.event_shape), **params)
    model.build((None, *info.event_shape))
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), steps_per_execution=args.steps_per_execution)
    budget = _TimeBudget(args.budget_seconds if args.epochs is None else args.max_train_seconds)
    # Warm-up: compile the step outside the timed budget (one execution; its
    # updates are not counted in the budget, the same for every model).
    model.fit(train.take(args.steps_per_execution), epochs=1, verbose=0)
    steps_before = int(model.optimizer.iterations)
    start = time.perf_counter()
    history = model.fit(train, epochs=args.epochs or 10**6, callbacks=[budget], verbose=0)
    seconds = time.perf_counter() - start
    steps = int(model.optimizer.iterations) - steps_before
    examples = steps * args.batch_size
    train_size = int(train.cardinality()) * args.batch_size
    start = time.perf_counter()
    result = model.evaluate_nll(test, verbose=0, num_samples=args.num_samples, seed=args.seed)
    return {
        "model": name,
        "test_nll_nats": result["nll_nats"],
        "train_nll_last_epoch": float(history.history["nll"][-1]),
        "epochs": examples / train_size,
        "train_steps": steps,
        "train_examples_seen": examples,
        "train_seconds": seconds,
        "examples_per_second": examples / seconds,
        "eval_seconds": time.perf_counter() - start,
        "stopped_by_time_limit": bool(args.epochs is not None and budget.stopped),
    }


def markdown(rows, args):
    budget = (
        f"{args.epochs} epochs ({rows[0]['train_steps'] if rows else '?'} Adam steps)"
        if args.epochs
        else f"{args.budget_seconds:g} s of training"
    )
    lines = [
        f"Test NLL on dynamically binarized {args.data} (L_{args.num_samples} on "
        f"{args.test_examples or 'all'} test examples), budget {budget} per model after one "
        f"compiling execution, batch {args.batch_size}, Adam {args.learning_rate:g}, "
        f"{args.steps_per_execution} steps per execution. Throughput is training examples/s in this run.",
        "",
        "| model | test NLL (nats) | train -bound, last epoch (nats) | epochs | train s | examples/s | eval s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        flag = " (time limit hit)" if row.get("stopped_by_time_limit") else ""
        lines.append(
            f"| {row['model']}{flag} | {row['test_nll_nats']:.2f} | {row['train_nll_last_epoch']:.2f} | "
            f"{row['epochs']:.2f} | {row['train_seconds']:.0f} | {row['examples_per_second']:.0f} | "
            f"{row['eval_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--budget-seconds", type=float, default=600.0, help="training wall time per model")
    parser.add_argument("--epochs", type=int, default=None, help="train for N epochs instead of a time budget")
    parser.add_argument("--max-train-seconds", type=float, default=None,
                        help="with --epochs: a safety stop per model (flagged in the table when hit)")
    parser.add_argument("--steps-per-execution", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--eval-batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--num-samples", type=int, default=5000, help="k of the test L_k")
    parser.add_argument("--train-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=None)
    parser.add_argument("--models", default=None, help='semicolon-separated subset of the row names, or "helmholtz"')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "latent_bounds.md"))
    args = parser.parse_args()
    info = tfdgm_data.dataset_info(args.data)
    if args.models == "helmholtz":
        names = HELMHOLTZ_ROWS
    else:
        names = list(MODELS) if args.models is None else [n.strip() for n in args.models.split(";")]
    rows = []
    for name in names:
        model_class, params = MODELS[name]
        rows.append(run_one(name, model_class, params, args, info))
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows, args)
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(table)
    with open(os.path.splitext(args.out)[0] + ".json", "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "args": vars(args)}, handle, indent=2)


if __name__ == "__main__":
    main()
