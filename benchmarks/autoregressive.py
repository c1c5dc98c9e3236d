"""Autoregressive models: quality after fixed training budgets, and sampling speed.

1. Test NLL on statically binarized Fashion-MNIST (nats) for NADE and PixelCNN,
   and bits/dim on 8-bit Fashion-MNIST (256-way softmax) for GatedPixelCNN,
   each after a fixed number of training steps per model (`--nade-steps`,
   `--pixelcnn-steps`, `--gated-steps`; Adam, `model.fit`, XLA). Step
   budgets, not wall-clock ones, so that a shared CPU changes only the
   reported seconds (the first, compiling step is not timed).
   Printed as a Markdown table for the README.
2. Sampling speed of GatedPixelCNN (images/s): the single compiled
   `tf.while_loop` sampler against a Python loop over the 784 pixels that
   calls a compiled one-pixel step (both draw the same images for a seed).
3. WaveNet generation of 1 s of 16 kHz audio: fast generation (per-layer
   queues, Paine et al. 2016) against naive generation (the whole network on
   the receptive field for every sample). Naive generation costs the same
   for every sample, so it is timed on `--naive-samples` samples and scaled
   to 16,000; fast generation is timed on the full second.

Compilation (tracing, XLA) is excluded from every timing by a warm-up call.

  .venv/bin/python benchmarks/autoregressive.py \
      --nade-steps 800 --pixelcnn-steps 1500 --gated-steps 500 --test-examples 2000
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfdgm import data  # noqa: E402
from tfdgm.models import NADE, GatedPixelCNN, PixelCNN, WaveNet  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    """Counts training steps and starts the clock at the end of the first
    one (which traces and compiles)."""

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.start = None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.start is None:
            self.start = time.perf_counter()


def _quality(name, model, preprocess, steps, args):
    info = data.dataset_info("fashion_mnist")
    transform = data.parse_preprocessing(preprocess, info)
    model.data_transform = transform
    train = data.load("fashion_mnist", "train", preprocess=transform, batch_size=args.batch_size, shuffle=True,
                      drop_remainder=True).repeat()
    test = data.load("fashion_mnist", "test", preprocess=transform.for_evaluation(), batch_size=256,
                     num_examples=args.test_examples)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    budget = StepTimer()
    model.fit(train, epochs=max(1, steps // 50), steps_per_epoch=min(50, steps), callbacks=[budget], verbose=0)
    seconds = time.perf_counter() - budget.start
    metrics = model.evaluate_nll(test, verbose=0)
    row = {"model": name, "data": "binarized" if transform.is_binary else "8-bit", "train_seconds": round(seconds, 1),
           "train_steps": budget.steps, "examples_seen": budget.steps * args.batch_size,
           "test_nll_nats": round(metrics["nll_nats"], 2), "bits_per_dim": round(metrics["bits_per_dim"], 4),
           "num_params": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
    print(json.dumps(row), flush=True)
    return row, model


def _timed(fn, repeats=1):
    fn()  # warm-up: tracing and XLA compilation
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _sampling_speed(model, num_images):
    compiled = _timed(lambda: model.sample(num_images, seed=1).numpy())
    looped = _timed(lambda: model.sample(num_images, seed=1, compiled=False).numpy())
    return {"model": "GatedPixelCNN", "images": num_images,
            "compiled_images_per_second": round(num_images / compiled, 2),
            "python_loop_images_per_second": round(num_images / looped, 2), "speedup": round(looped / compiled, 2)}


def _wavenet_speed(args):
    model = WaveNet(event_shape=(16_000,), num_blocks=args.wavenet_blocks, num_layers=args.wavenet_layers)
    model.build()
    fast = _timed(lambda: model.sample(1, seed=0, method="fast", length=16_000).numpy())
    naive = _timed(lambda: model.sample(1, seed=0, method="naive", length=args.naive_samples).numpy())
    naive_second = naive * 16_000 / args.naive_samples
    return {"model": "WaveNet", "receptive_field": model.receptive_field, "layers": len(model.dilations),
            "fast_seconds_per_audio_second": round(fast, 2),
            "naive_seconds_per_audio_second": round(naive_second, 1),
            "naive_measured_samples": args.naive_samples, "speedup": round(naive_second / fast, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nade-steps", type=int, default=800, help="training steps (multiple of 50)")
    parser.add_argument("--pixelcnn-steps", type=int, default=1500)
    parser.add_argument("--gated-steps", type=int, default=500)
    parser.add_argument("--test-examples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--nade-hidden", type=int, default=500)
    parser.add_argument("--filters", type=int, default=32, help="PixelCNN / GatedPixelCNN feature maps")
    parser.add_argument("--layers", type=int, default=5, help="PixelCNN / GatedPixelCNN blocks")
    parser.add_argument("--sample-images", type=int, default=16)
    parser.add_argument("--wavenet-blocks", type=int, default=2)
    parser.add_argument("--wavenet-layers", type=int, default=9, help="per block: dilations 1 .. 2^(layers-1)")
    parser.add_argument("--naive-samples", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--only", nargs="+", choices=["NADE", "PixelCNN", "GatedPixelCNN"],
                        help="train and evaluate only these models (the speed part always runs)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "autoregressive.json"))
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    shape = (28, 28, 1)
    results = {"settings": vars(args), "quality": [], "speed": []}
    gated = GatedPixelCNN(event_shape=shape, num_filters=args.filters, num_layers=args.layers)
    if not args.skip_quality:
        for name, model, preprocess, steps in (
            ("NADE", NADE(event_shape=shape, hidden_units=args.nade_hidden), "binarize:static", args.nade_steps),
            ("PixelCNN", PixelCNN(event_shape=shape, num_filters=args.filters, num_layers=args.layers),
             "binarize:static", args.pixelcnn_steps),
            ("GatedPixelCNN", gated, None, args.gated_steps),
        ):
            if args.only and name not in args.only:
                continue
            results["quality"].append(_quality(name, model, preprocess, steps, args)[0])
            with open(args.out + ".partial", "w", encoding="utf-8") as handle:  # survives an interrupted run
                json.dump(results, handle, indent=2)
    results["speed"].append(_sampling_speed(gated, args.sample_images))
    print(json.dumps(results["speed"][-1]), flush=True)
    results["speed"].append(_wavenet_speed(args))
    print(json.dumps(results["speed"][-1]), flush=True)

    print("\n| model | data | train s | steps | test NLL (nats) | bits/dim |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in results["quality"]:
        print(f"| {row['model']} | Fashion-MNIST {row['data']} | {row['train_seconds']} | {row['train_steps']} "
              f"| {row['test_nll_nats']} | {row['bits_per_dim']} |")
    pixel, wave = results["speed"]
    print(f"\nGatedPixelCNN sampling, {pixel['images']} images of 28x28: compiled loop "
          f"{pixel['compiled_images_per_second']} images/s, Python loop over pixels "
          f"{pixel['python_loop_images_per_second']} images/s (ratio {pixel['speedup']}x)")
    print(f"WaveNet, 1 s of 16 kHz audio (receptive field {wave['receptive_field']}, {wave['layers']} layers): "
          f"fast {wave['fast_seconds_per_audio_second']} s, naive {wave['naive_seconds_per_audio_second']} s "
          f"(speed-up {wave['speedup']}x)")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
