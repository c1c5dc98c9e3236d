"""Quality of the flows after fixed budgets: test NLL in bits/dim in the
original pixel space on Fashion-MNIST (MAF, RealNVP, Glow) and in nats on the
2-D toy sets (moons, 8gaussians, checkerboard) for several flows, in one run.

Fashion-MNIST is uniformly dequantized and scaled to [0, 1]; MAF and RealNVP
then work in logit space as their papers do (MAF: lambda = 1e-6, RealNVP:
alpha = 0.05), Glow in [0, 1] pixel space (its paper uses no logit). The data
layer adds the Jacobian of every preprocessing step, so bits/dim are in the
original 0..255 pixel space and comparable between models. Each model trains
a fixed number of Adam steps (`--image-steps`, `--toy-steps`) with
`model.fit` (XLA), then is evaluated on the first `--test-examples` test
images (a subset, stated in the results) or on `--toy-test` fresh toy points.
The budgets are far below the papers' (hours of GPU training), so the
figures measure what a short CPU run reaches, not the papers' numbers.

  .venv/bin/python benchmarks/flows_quality.py \\
      [--image-steps 300] [--toy-steps 1500] [--test-examples 2000] [--out benchmarks/results/flows_quality.json]
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.models import MAF, NICE, Glow, PlanarFlow, RealNVP  # noqa: E402

# Small architectures that fit the CPU budget (the papers' are far larger).
IMAGE_MODELS = {
    "MAF": (MAF, dict(num_layers=5, hidden_units=[512], batch_norm=True), "dequantize,scale,logit:1e-06", 1e-3),
    "RealNVP": (RealNVP, dict(num_levels=2, hidden_channels=32, num_blocks=2), "dequantize,scale,logit:0.05", 1e-3),
    "Glow": (Glow, dict(num_levels=2, num_steps=4, hidden_channels=64), "dequantize,scale", 1e-3),
}
TOY_MODELS = {
    "PlanarFlow": (PlanarFlow, dict(num_layers=16)),
    "NICE": (NICE, dict()),
    "RealNVP": (RealNVP, dict(num_layers=8, hidden_units=[64, 64])),
    "Glow": (Glow, dict(num_steps=8, hidden_units=[64, 64])),
    "MAF": (MAF, dict(num_layers=5, hidden_units=[64, 64])),
}
TOY_SETS = ("moons", "8gaussians", "checkerboard")


def _train_and_test(model, learning_rate, train, test, steps):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), steps_per_execution=10)
    start = time.perf_counter()
    model.fit(train, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    results = model.evaluate_nll(test, verbose=0)
    return {**results, "train_seconds": seconds, "steps": steps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-steps", type=int, default=300)
    parser.add_argument("--toy-steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--toy-batch-size", type=int, default=256)
    parser.add_argument("--test-examples", type=int, default=2000)
    parser.add_argument("--toy-test", type=int, default=5000)
    parser.add_argument("--only", nargs="*", default=None, help="restrict to these model names")
    parser.add_argument("--out", default="benchmarks/results/flows_quality.json")
    args = parser.parse_args()

    results = {"config": vars(args), "fashion_mnist": {}, "toy": {}}
    info = tfdgm_data.dataset_info("fashion_mnist")
    for name, (cls, params, preprocess, learning_rate) in IMAGE_MODELS.items():
        if args.only and name not in args.only:
            continue
        keras.utils.set_random_seed(0)
        train = tfdgm_data.load("fashion_mnist", "train", preprocess=preprocess, batch_size=args.batch_size,
                                shuffle=True, drop_remainder=True).repeat()
        test = tfdgm_data.load("fashion_mnist", "test", preprocess=preprocess, batch_size=500,
                               num_examples=args.test_examples, seed=1)
        transform = tfdgm_data.parse_preprocessing(preprocess, info)
        model = cls(event_shape=info.event_shape, data_transform=transform, **params)
        results["fashion_mnist"][name] = {"params": params, "preprocess": preprocess,
                                          **_train_and_test(model, learning_rate, train, test, args.image_steps)}
        print(name, "fashion_mnist", json.dumps(results["fashion_mnist"][name]), flush=True)
    for toy in TOY_SETS:
        results["toy"][toy] = {}
        for name, (cls, params) in TOY_MODELS.items():
            if args.only and name not in args.only:
                continue
            keras.utils.set_random_seed(0)
            train = tfdgm_data.load(toy, "train", batch_size=args.toy_batch_size, shuffle=True,
                                    drop_remainder=True).repeat()
            test = tfdgm_data.load(toy, "test", batch_size=1000, num_examples=args.toy_test)
            model = cls(event_shape=(2,), **params)
            results["toy"][toy][name] = _train_and_test(model, 1e-3, train, test, args.toy_steps)
            print(name, toy, f"{results['toy'][toy][name]['nll_nats']:.3f} nats", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(_markdown(results))


def _markdown(results):
    lines = ["| Fashion-MNIST model | steps | train s | test bits/dim |", "|---|---:|---:|---:|"]
    for name, r in results["fashion_mnist"].items():
        lines.append(f"| {name} ({r['preprocess']}) | {r['steps']} | {r['train_seconds']:.0f} | {r['bits_per_dim']:.3f} |")
    models = sorted({m for per_set in results["toy"].values() for m in per_set})
    lines += ["", "| toy set | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for toy, per_set in results["toy"].items():
        lines.append(f"| {toy} (nats) | " + " | ".join(
            f"{per_set[m]['nll_nats']:.3f}" if m in per_set else "" for m in models) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
