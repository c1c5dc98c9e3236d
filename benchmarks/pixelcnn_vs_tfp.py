"""tfdgm's GatedPixelCNN against TFP's `tfd.PixelCNN` (PixelCNN++) side by side:
training speed, test bits/dim at the same budget and parameter count, and
sampling time, on 8-bit Fashion-MNIST with a 5-logistic mixture output.

Both models see the same batches (integer levels 0..255, no preprocessing),
train with the same hand-written loop (Adam on the mean negative
log-probability, `tf.function`; `--xla` compiles tfdgm's step with XLA, TFP's
never: XLA spends minutes constant-folding its weight-normalized tf_keras
network) for `--steps` steps, and are
scored on the same fixed test subset by one function (`Preprocessing.bits_per_dim`
of the identity transform: -log p(x) / (784 ln 2)); both log-probabilities are
of the discrete levels, so the figures are comparable as they stand.

TFP's side is its documented usage (the `tfd.PixelCNN` docstring's MNIST
example): `num_resnet=1, num_hierarchies=2, num_filters=32,
num_logistic_mix=5, dropout_p=0.3`, weight norm with data-dependent init
(done on the first batch before timing), `log_prob(x, training=True)` in the
step. tfdgm's side is the public `GatedPixelCNN(likelihood="logistic_mixture")`
with `--tfdgm-filters` x `--tfdgm-layers` chosen so that its parameter count
matches TFP's (48 x 10: 624,687 against 624,990); both counts are reported.

Timing: one first (tracing/compiling) step each, then `--rounds` rounds that
alternate between the two models, each round `steps / rounds` steps; the
speed is the median examples/s over the rounds. With `--match-time` tfdgm then
keeps training on further batches until its timed training seconds equal
TFP's, and is scored again (quality at the same wall time).

Learning-rate grid (`--learning-rates 1e-3 2e-3 4e-3`): TFP and the small
tfdgm model only, each built afresh (same initial weights) at every rate and
trained as above, then the faster on to the slower's wall time; the best rate
of each by test bits/dim at that same wall time (the issue's "each at its best
learning rate"). No sampling; results in `pixelcnn_vs_tfp_lr_grid.json`.

Sampling: `--sample-images` images from each trained model, each compiled as
a user would: TFP's `dist.sample(n)` inside `tf.function`, tfdgm's
`model.sample(n)` (its own XLA-compiled sampler). The first call (tracing and
compiling included) and the median of `--sample-repeats` further calls are
reported.

  nice .venv/bin/python benchmarks/pixelcnn_vs_tfp.py \\
      [--steps 300] [--batch-size 32] [--learning-rate 1e-3] [--tfdgm-filters 48] [--tfdgm-layers 10] \\
      [--test-examples 1000] [--rounds 5] [--xla] [--no-match-time] [--tfdgm-small 32x5] [--sample-images 4] \\
      [--learning-rates 1e-3 2e-3 4e-3] [--seed 0] [--out benchmarks/results/pixelcnn_vs_tfp.json]
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
import tensorflow_probability as tfp  # noqa: E402

from tfdgm import data as tfdgm_data  # noqa: E402
from tfdgm.models import GatedPixelCNN  # noqa: E402
from side_by_side import Runner, round_schedule, scores, test_bits_per_dim, train_rounds  # noqa: E402

tfd = tfp.distributions


def time_sampler(sample, repeats):
    """(first call seconds, median of `repeats` further calls, one sample batch)."""
    start = time.perf_counter()
    images = sample(0).numpy()
    first = time.perf_counter() - start
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        sample(seed).numpy()
        times.append(time.perf_counter() - start)
    return first, (statistics.median(times) if times else None), images


def _write(results, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)


def match_wall_time(tfp_runner, contenders, more_batches, chunk, batch_size, test, transform):
    """The faster of each tfdgm model and TFP trains on (further batches) until
    the timed seconds match, and is scored again: tfdgm models faster than TFP
    first, then TFP against the first slower one only (TFP's extra training
    would otherwise compound). -> {contender name: figures at the same time}"""
    same_time = {}
    for runner in sorted(contenders, key=lambda r: r.seconds):
        faster, slower = (runner, tfp_runner) if runner.seconds < tfp_runner.seconds else (tfp_runner, runner)
        start_steps = faster.steps
        while faster.seconds < slower.seconds:
            rate = faster.rates[-1] / batch_size
            steps = max(1, min(chunk, int((slower.seconds - faster.seconds) * rate) + 1))
            faster.run([next(more_batches) for _ in range(steps)])
        same_time[runner.name] = {
            "trained": faster.name, "steps": faster.steps, "timed_training_seconds": faster.seconds,
            "test_bits_per_dim": test_bits_per_dim(faster, test, transform),
            "other_steps": slower.steps, "other_timed_training_seconds": slower.seconds}
        print(f"{faster.name} after {faster.steps - start_steps} more steps ({faster.seconds:.1f} s, as "
              f"{slower.name}'s {slower.seconds:.1f} s): {same_time[runner.name]['test_bits_per_dim']:.3f} "
              "bits/dim", flush=True)
        if faster is tfp_runner:
            break
    return same_time


def best_learning_rate(by_learning_rate, name, small_name):
    """The grid's best learning rate for one model, by its test bits/dim when
    both have trained equally long (a diverged run counts as +inf)."""
    def at_same_time(figures):
        same = figures[small_name]["same_wall_time_as_tfp"]
        bits = same["test_bits_per_dim"] if same["trained"] == name else figures[name]["test_bits_per_dim"]
        return bits if np.isfinite(bits) else float("inf")

    rate, figures = min(by_learning_rate.items(), key=lambda item: at_same_time(item[1]))
    return {"learning_rate": float(rate), "test_bits_per_dim_at_same_wall_time": at_same_time(figures),
            "examples_per_second": figures[name]["examples_per_second"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=None,
                        help="grid mode: TFP and the small tfdgm model only, trained afresh at each rate for "
                             "--steps steps, then the faster on to the slower's wall time (no sampling)")
    parser.add_argument("--mixtures", type=int, default=5, help="logistic mixture components, both models")
    parser.add_argument("--tfp-filters", type=int, default=32)
    parser.add_argument("--tfp-resnet", type=int, default=1)
    parser.add_argument("--tfp-hierarchies", type=int, default=2)
    parser.add_argument("--tfp-dropout", type=float, default=0.3)
    parser.add_argument("--tfdgm-filters", type=int, default=48)
    parser.add_argument("--tfdgm-layers", type=int, default=10)
    parser.add_argument("--tfdgm-small", default="32x5",
                        help="a second, smaller tfdgm contender FILTERSxLAYERS (the issue's 32-filter default "
                             "depth), or 'none'")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and training batch order (the test "
                                                                 "subset stays the same)")
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--xla", action="store_true",
                        help="jit_compile tfdgm's train steps (TFP's stay plain: XLA constant-folds its "
                             "weight-normalized tf_keras network for minutes)")
    parser.add_argument("--no-match-time", dest="match_time", action="store_false",
                        help="skip tfdgm's extra steps up to TFP's training seconds")
    parser.add_argument("--sample-images", type=int, default=4)
    parser.add_argument("--sample-repeats", type=int, default=2, help="timed calls after the first (>= 1)")
    parser.add_argument("--out", default=None, help="default benchmarks/results/pixelcnn_vs_tfp.json, or "
                                                    "pixelcnn_vs_tfp_lr_grid.json in grid mode")
    args = parser.parse_args()
    if args.sample_repeats < 1:
        raise ValueError(f"expected --sample-repeats >= 1, got {args.sample_repeats}")
    if args.steps < args.rounds + 1:
        raise ValueError(f"expected --steps >= --rounds + 1, got {args.steps} and {args.rounds}")
    grid = args.learning_rates is not None
    if grid and args.tfdgm_small == "none":
        raise ValueError("grid mode (--learning-rates) trains the --tfdgm-small model: expected FILTERSxLAYERS")
    args.out = args.out or f"benchmarks/results/pixelcnn_vs_tfp{'_lr_grid' if grid else ''}.json"

    info = tfdgm_data.dataset_info("fashion_mnist")
    transform = tfdgm_data.parse_preprocessing(None, info)
    event_shape = tuple(info.event_shape)

    def training_batches():  # the same sequence for every model and learning rate
        return iter(tfdgm_data.load("fashion_mnist", "train", batch_size=args.batch_size, shuffle=True,
                                    drop_remainder=True, seed=args.seed).repeat())

    train = training_batches()
    batches = [next(train) for _ in range(args.steps)]
    test = tf.concat(list(tfdgm_data.load("fashion_mnist", "test", batch_size=500,
                                          num_examples=args.test_examples, seed=1)), axis=0)
    schedule = round_schedule(batches, args.rounds)
    chunk = max(1, len(schedule[1]) // 4)

    def gated_pixelcnn(name, filters, layers, learning_rate):
        keras.utils.set_random_seed(args.seed)  # the same initial weights at every learning rate
        model = GatedPixelCNN(event_shape=event_shape, num_filters=filters, num_layers=layers,
                              likelihood="logistic_mixture", num_levels=256, num_mixtures=args.mixtures)
        model.build()
        return model, Runner(name, model.log_prob, model.log_prob, lambda: model.trainable_variables,
                             learning_rate, args.xla)

    def tfp_pixelcnn(learning_rate):
        keras.utils.set_random_seed(args.seed)
        distribution = tfd.PixelCNN(image_shape=event_shape, num_resnet=args.tfp_resnet,
                                    num_hierarchies=args.tfp_hierarchies, num_filters=args.tfp_filters,
                                    num_logistic_mix=args.mixtures, dropout_p=args.tfp_dropout)
        distribution.log_prob(batches[0], training=True)  # weight norm's data-dependent init; builds the network
        return distribution, Runner("tfp", lambda x: distribution.log_prob(x, training=True),
                                    lambda x: distribution.log_prob(x, training=False),
                                    lambda: distribution.network.trainable_variables, learning_rate, False)

    small_name = f"tfdgm_{args.tfdgm_small}"
    if args.tfdgm_small != "none":
        small_filters, small_layers = (int(v) for v in args.tfdgm_small.split("x"))
    results = {"config": vars(args), "dataset": "fashion_mnist", "preprocess": None}

    if grid:
        results["by_learning_rate"] = {}
        for learning_rate in args.learning_rates:
            _, tfp_runner = tfp_pixelcnn(learning_rate)
            _, small_runner = gated_pixelcnn(small_name, small_filters, small_layers, learning_rate)
            runners = [tfp_runner, small_runner]
            losses = train_rounds(runners, schedule)
            figures = {runner.name: scores(runner, losses, test, transform) for runner in runners}
            more = training_batches()
            for _ in range(args.steps):
                next(more)
            for name, same_time in match_wall_time(tfp_runner, [small_runner], more, chunk, args.batch_size,
                                                   test, transform).items():
                figures[name]["same_wall_time_as_tfp"] = same_time
            results["by_learning_rate"][repr(learning_rate)] = figures
            print({name: round(f["test_bits_per_dim"], 4) for name, f in figures.items()}, flush=True)
            _write(results, args.out)
        results["best"] = {name: best_learning_rate(results["by_learning_rate"], name, small_name)
                           for name in ("tfp", small_name)}
        _write(results, args.out)
        print(json.dumps(results["best"], indent=2))
        return

    model, tfdgm_runner = gated_pixelcnn("tfdgm", args.tfdgm_filters, args.tfdgm_layers, args.learning_rate)
    distribution, tfp_runner = tfp_pixelcnn(args.learning_rate)
    runners = [tfdgm_runner, tfp_runner]
    if args.tfdgm_small != "none":
        small, small_runner = gated_pixelcnn(small_name, small_filters, small_layers, args.learning_rate)
        runners.append(small_runner)
    losses = train_rounds(runners, schedule)
    results["models"] = {}
    for runner in runners:
        results["models"][runner.name] = scores(runner, losses, test, transform)
        print(f"{runner.name}: {results['models'][runner.name]['test_bits_per_dim']:.3f} bits/dim", flush=True)
    _write(results, args.out)  # the equal-step figures survive an interruption of what follows
    if args.match_time:
        contenders = [r for r in runners if r is not tfp_runner]
        for name, same_time in match_wall_time(tfp_runner, contenders, train, chunk, args.batch_size,
                                               test, transform).items():
            results["models"][name]["same_wall_time_as_tfp"] = same_time

    samplers = {
        "tfdgm": lambda seed: model.sample(args.sample_images, seed=seed),
        # TFP's sampler seeds a stateful op (`tf.random.uniform(..., seed=seed)`): no tensor seed, so unseeded
        "tfp": (lambda seed, f=tf.function(lambda: distribution.sample(args.sample_images)): f()),
    }
    for name, sample in samplers.items():
        first, median, images = time_sampler(sample, args.sample_repeats)
        results["models"][name]["sampling"] = {
            "num_images": args.sample_images, "first_call_seconds": first, "seconds": median,
            "levels_in_range": bool(images.min() >= 0 and images.max() <= 255)}
        print(f"{name} sampling {args.sample_images} images: first call {first:.2f} s, then {median:.2f} s",
              flush=True)

    tfdgm_model, tfp_model = results["models"]["tfdgm"], results["models"]["tfp"]
    results["speed_ratio_tfdgm_over_tfp"] = tfdgm_model["examples_per_second"] / tfp_model["examples_per_second"]
    if args.tfdgm_small != "none":
        results[f"speed_ratio_{small_name}_over_tfp"] = (
            results["models"][small_name]["examples_per_second"] / tfp_model["examples_per_second"])
    results["sampling_speed_ratio_tfdgm_over_tfp"] = (tfp_model["sampling"]["seconds"]
                                                      / tfdgm_model["sampling"]["seconds"])
    results["sampling_first_call_ratio_tfdgm_over_tfp"] = (tfp_model["sampling"]["first_call_seconds"]
                                                           / tfdgm_model["sampling"]["first_call_seconds"])
    _write(results, args.out)
    print(json.dumps({name: {k: v for k, v in m.items() if not isinstance(v, list)}
                      for name, m in results["models"].items()}, indent=2))
    for key, value in results.items():
        if "ratio" in key:
            print(key, round(value, 3))


if __name__ == "__main__":
    main()
