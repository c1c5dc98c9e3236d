"""Mixed precision on this machine: what each family gains or loses.

One model per family trained with the same budget (epochs, data, seed) in
float32, mixed_bfloat16 and mixed_float16 through `tfdgm.runs.train` (the
path of `tfdgm train --precision`); prints test bits/dim (the GAN: Fréchet
distance in data space) and seconds per epoch as a Markdown table.

    python benchmarks/precision.py [--epochs 5] [--out runs/precision] [--image]
"""

import argparse
import json
import os
import shutil
import time

from tfdgm import runs

RUNS = {
    "density (MAF, moons)": ("maf", "moons", {"num_layers": 4, "hidden_units": [64, 64]}, 2048),
    "autoregressive (MADE, digits)": ("made", "digits", {}, None),
    "latent (VAE, digits)": ("vae", "digits", {"latent_dim": 8}, None),
    "energy (RBM, digits)": ("rbm", "digits", {"num_hidden": 16}, None),
    "adversarial (GAN, moons)": ("gan", "moons", {"hidden_units": [64, 64]}, 2048),
}
#: --image: a convolutional flow and VAE on Fashion-MNIST, where the products are the cost.
IMAGE_RUNS = {
    "flow (RealNVP, Fashion-MNIST 2k)": ("realnvp", "fashion_mnist", {}, 2048),
    "latent (VAE, Fashion-MNIST 2k)": ("vae", "fashion_mnist", {"latent_dim": 16}, 2048),
}
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="runs/precision")
    parser.add_argument("--only", default=None, help="comma-separated model names")
    parser.add_argument("--image", action="store_true", help="the Fashion-MNIST image models instead")
    args = parser.parse_args()
    rows = []
    for label, (model, data, params, num_examples) in (IMAGE_RUNS if args.image else RUNS).items():
        if args.only and model not in args.only.split(","):
            continue
        for policy in POLICIES:
            out = os.path.join(args.out, f"{model}-{policy}")
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            _, metrics = runs.train(model, data, out=out, epochs=args.epochs, batch_size=64, seed=0,
                                    params=params, num_examples=num_examples, precision=policy, verbose=0)
            total = time.perf_counter() - start
            score = metrics.get("bits_per_dim", metrics.get("frechet_distance"))
            epoch = sorted(metrics["epoch_seconds"])[len(metrics["epoch_seconds"]) // 2]
            rows.append((label, policy, score, epoch, total, metrics["stopped_on_nan"]))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| family | precision | test bits/dim (GAN: Fréchet distance) | s/epoch (median) | run s | NaN stop |")
    print("|---|---|---|---|---|---|")
    for label, policy, score, epoch, total, nan in rows:
        print(f"| {label} | {policy} | {score:.4f} | {epoch:.2f} | {total:.0f} | {nan} |")


if __name__ == "__main__":
    main()
