"""Adversarial models: sample quality after fixed budgets, and training speed.

* Fashion-MNIST: Fréchet distance in the features of tfdgm's fixed
  convnet-v1 classifier (`tfdgm.metrics.classifier`; NOT Inception FID) and
  k-NN precision / recall, for DCGAN, WGAN-GP (DCGAN players, layer-norm
  critic) and ConditionalGAN, after `--image-steps` generator steps.
* 8gaussians / rings: mode coverage of GAN and WGAN-GP, one run per `--toy-seeds`
  seed, with the hyper-parameters of tests/models/adversarial/test_gan.py.
* pointcloud_digits: Chamfer-based minimum matching distance (MMD-CD) of
  PointCloudGAN clouds to test clouds; Chamfer distance and point-level MMD^2
  of test clouds reconstructed through the encoder (vs random latents); a PNG
  of interpolations between real test clouds.
* Fashion-MNIST sneakers <-> ankle boots: CycleGAN test cycle loss, Fréchet
  distances of the translations, and a PNG of failure cases (the worst cycle
  reconstructions in each direction, the best ones for contrast).
* Steps/s of every training run (one step = n_critic critic updates + one
  generator update), XLA on.
Results are written after every section (a failing section records its error).

Run (as in benchmarks/results/gans.json and benchmarks/README.md):
  .venv/bin/python benchmarks/gans.py --image-steps 400 --toy-steps 4000 \
      --toy-seeds 0 1 2 --cloud-steps 1000 --cycle-steps 400 --cycle-seconds 90 --num-eval 1000
"""

import argparse
import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfdgm import data
from tfdgm.metrics import coverage, pointcloud
from tfdgm.models import DCGAN, GAN, WGANGP, ConditionalGAN, CycleGAN, PointCloudGAN
from tfdgm.visualize import image_grid, samples_picture, write_png


def _train(model, dataset, steps, optimizer=None, max_seconds=None):
    """Fits for `steps` steps (or, with `max_seconds`, in calls of 50 steps until that
    time is spent); returns steps/s measured after the first (compiling) call, and the steps run."""
    model.compile(optimizer=optimizer, steps_per_execution=10)
    model.fit(dataset.take(10), epochs=1, verbose=0)  # compile
    start = time.perf_counter()
    if max_seconds is None:
        model.fit(dataset.take(steps), epochs=1, verbose=0)
        return steps / (time.perf_counter() - start), steps
    done = 0
    iterator = iter(dataset)
    while done < steps and time.perf_counter() - start < max_seconds:
        chunk = min(50, steps - done)
        model.fit(tf.data.Dataset.from_tensor_slices([next(iterator) for _ in range(chunk)]), epochs=1, verbose=0)
        done += chunk
    return done / (time.perf_counter() - start), done


def _repeat(name, batch_size, labels=False, preprocess=None, seed=0):
    return data.load(name, preprocess=preprocess, batch_size=batch_size, shuffle=True, with_labels=labels,
                     seed=seed, drop_remainder=True).repeat()


def image_benchmarks(steps, num_eval):
    info = data.dataset_info("fashion_mnist")
    transform = data.parse_preprocessing("dequantize,scale", info)
    test = data.load("fashion_mnist", "test", preprocess=transform.for_evaluation(), batch_size=500, with_labels=True)
    results = {}
    for name, make, labels in (
        ("dcgan", lambda: DCGAN(event_shape=(28, 28, 1), base_filters=32, data_transform=transform), False),
        ("wgan_gp", lambda: WGANGP(event_shape=(28, 28, 1), noise_dim=100, architecture="dcgan", base_filters=32,
                                   data_transform=transform), False),
        ("cgan", lambda: ConditionalGAN(event_shape=(28, 28, 1), num_classes=10, noise_dim=100,
                                        base_filters=32, data_transform=transform), True),
    ):
        keras.utils.set_random_seed(0)
        model = make()
        steps_per_second, _ = _train(model, _repeat("fashion_mnist", 64, labels=labels, preprocess=transform), steps)
        metrics = model.evaluation(test, num_samples=num_eval)
        results[name] = {"generator_steps": steps, "batch_size": 64, "steps_per_second": round(steps_per_second, 2),
                         **{k: metrics[k] for k in ("frechet_distance", "precision", "recall", "coverage", "feature_space")}}
        print(name, results[name], flush=True)
    # Reference points: the same test examples against the training set, and uniform noise.
    from tfdgm.models.adversarial.quality import collect_examples, sample_quality

    real, _ = collect_examples(test, num_eval)
    train, _ = collect_examples(data.load("fashion_mnist", preprocess=transform.for_evaluation(), batch_size=500), num_eval)
    probe = DCGAN(data_transform=transform)
    results["reference_train_vs_test"] = {k: v for k, v in sample_quality(probe, real, train).items() if k != "num_samples"}
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
    results["reference_uniform_noise"] = {k: v for k, v in sample_quality(probe, real, noise).items() if k != "num_samples"}
    return results


def toy_benchmarks(steps, seeds):
    """GAN and WGAN-GP with the settings of tests/models/adversarial/test_gan.py (MLP [64, 64],
    noise_dim 8, batch 256, Adam(1e-3, beta_1=0.5[, beta_2=0.9])), one run per seed: at a few
    hundred steps WGAN-GP is still moving between modes and one seed says little."""
    results = {}
    for dataset in ("8gaussians", "rings"):
        for name, model_class, optimizer in (
            ("gan", GAN, lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)),
            ("wgan_gp", WGANGP, lambda: keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9)),
        ):
            runs = []
            for seed in seeds:
                keras.utils.set_random_seed(seed)
                model = model_class(event_shape=(2,), hidden_units=(64, 64), noise_dim=8)
                steps_per_second, _ = _train(model, _repeat(dataset, 256, seed=seed), steps, optimizer())
                result = coverage.mode_coverage(model.generate(5000, seed=0).numpy(), dataset)
                runs.append({"seed": seed, "steps_per_second": round(steps_per_second, 1),
                             **{k: v for k, v in result.items() if k != "mode_fractions"}})
            results[f"{name}/{dataset}"] = {
                "generator_steps": steps, "runs": runs,
                "modes_covered": [r["modes_covered"] for r in runs],
                "high_quality_fraction": [round(r["high_quality_fraction"], 3) for r in runs],
                "steps_per_second": float(np.median([r["steps_per_second"] for r in runs]))}
            print(name, dataset, {k: v for k, v in results[f"{name}/{dataset}"].items() if k != "runs"}, flush=True)
    return results


def cloud_benchmarks(steps, picture, num_eval=200):
    keras.utils.set_random_seed(0)
    model = PointCloudGAN(event_shape=(64, 2))
    steps_per_second, _ = _train(model, _repeat("pointcloud_digits", 64), steps,
                              keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9))
    test, _ = data.load_arrays("pointcloud_digits", "test")
    generated = model.generate(num_eval, seed=0)
    train, _ = data.load_arrays("pointcloud_digits", "train")
    # The encoder Q: test clouds -> shape latents -> g(u, Q(X)), against clouds from random latents.
    reconstructed = pointcloud.chamfer_distance(model.reconstruct(test[:num_eval], seed=1), test[:num_eval])
    from_random = pointcloud.chamfer_distance(model.generate(num_eval, seed=1), test[:num_eval])
    # Point-level kernel MMD^2 between each test cloud and its reconstruction (bandwidth 0.1 in [-1, 1]^2).
    point_mmd = pointcloud.mmd(model.reconstruct(test[:num_eval], seed=1), test[:num_eval])
    paths = [model.interpolate(test[i], test[i + 1], num_steps=8, seed=0) for i in range(0, 8, 2)]
    rows = [np.concatenate([test[i:i + 1], p, test[i + 1:i + 2]]) for i, p in zip(range(0, 8, 2), paths)]
    write_png(picture, samples_picture(np.concatenate(rows), num_columns=len(rows[0])))  # one path per row
    return {"pointcloud_gan/pointcloud_digits": {
        "generator_steps": steps, "steps_per_second": round(steps_per_second, 2),
        "mmd_cd": float(pointcloud.minimum_matching_distance(test[:num_eval], generated)),
        "reference_mmd_cd_train_clouds": float(pointcloud.minimum_matching_distance(test[:num_eval], train[:num_eval])),
        "mean_chamfer_to_nearest_test_cloud": float(pointcloud.minimum_matching_distance(generated, test[:num_eval])),
        "reconstruction_chamfer_test": float(np.mean(reconstructed)),
        "random_latent_chamfer_test": float(np.mean(from_random)),
        "reconstruction_point_mmd2_test": float(np.mean(point_mmd)),
        "interpolation_png": os.path.relpath(picture, os.path.dirname(__file__)),
    }}


def cycle_benchmarks(steps, num_eval, picture, max_seconds=None):
    """CycleGAN on Fashion-MNIST sneakers <-> ankle boots: test cycle loss, Fréchet distances of the
    translations, and a PNG of failure cases (worst cycle reconstructions, best ones for contrast)."""
    from tfdgm.models.adversarial.quality import collect_examples, to_unit_range

    name = "fashion_mnist_sneakers_boots"
    info = data.dataset_info(name)
    transform = data.parse_preprocessing("dequantize,scale", info)
    keras.utils.set_random_seed(0)
    model = CycleGAN(event_shape=info.event_shape, data_transform=transform)
    steps_per_second, steps = _train(model, _repeat(name, 64, preprocess=transform), steps, max_seconds=max_seconds)
    test = data.load(name, "test", preprocess=transform.for_evaluation(), batch_size=500)
    metrics = model.evaluation(test, num_samples=num_eval)
    couples, _ = collect_examples(test, num_eval)
    cases = model.failure_cases(couples, num_cases=8)
    rows = np.stack([to_unit_range(model, cases[key]) for key in ("worst_cycles_a2b", "worst_cycles_b2a", "best_cycles_a2b")], 1)
    write_png(picture, image_grid(rows.reshape(-1, *rows.shape[2:]), num_columns=3, padding=2))
    keep = ("cycle_loss", "a2b_frechet_distance", "b2a_frechet_distance", "untranslated_a_vs_b_frechet_distance")
    result = {"generator_steps": steps, "batch_size": 64, "steps_per_second": round(steps_per_second, 2),
              **{k: metrics[k] for k in keep},
              "worst_cycle_errors_a2b": [round(float(e), 4) for e in cases["worst_errors_a2b"]],
              "worst_cycle_errors_b2a": [round(float(e), 4) for e in cases["worst_errors_b2a"]],
              "best_cycle_errors_a2b": [round(float(e), 4) for e in cases["best_errors_a2b"]],
              "failure_cases_png": os.path.relpath(picture, os.path.dirname(__file__))}
    print("cyclegan", result, flush=True)
    return {f"cyclegan/{name}": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-steps", type=int, default=300)
    parser.add_argument("--toy-steps", type=int, default=600)
    parser.add_argument("--toy-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cloud-steps", type=int, default=300)
    parser.add_argument("--cycle-steps", type=int, default=300)
    parser.add_argument("--cycle-seconds", type=float, default=None, help="optional CycleGAN training time cap")
    parser.add_argument("--num-eval", type=int, default=2000)
    parser.add_argument("--sections", nargs="+", default=["toy", "pointcloud", "fashion_mnist", "cyclegan"],
                        choices=["toy", "pointcloud", "fashion_mnist", "cyclegan"],
                        help="run only these sections; figures of the others already in --out are kept")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gans.json"))
    args = parser.parse_args()
    results = {}
    if os.path.exists(args.out) and set(args.sections) != {"toy", "pointcloud", "fashion_mnist", "cyclegan"}:
        with open(args.out, encoding="utf-8") as handle:  # a partial rerun updates the sections it runs
            results = json.load(handle)
    results["threads"] = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    command = "python benchmarks/gans.py " + " ".join(sys.argv[1:])
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    sections = (
        ("toy", lambda: toy_benchmarks(args.toy_steps, args.toy_seeds)),
        ("pointcloud", lambda: cloud_benchmarks(args.cloud_steps, os.path.join(folder, "pointcloud_interpolation.png"))),
        ("fashion_mnist", lambda: image_benchmarks(args.image_steps, args.num_eval)),
        ("cyclegan", lambda: cycle_benchmarks(args.cycle_steps, min(args.num_eval, 1000),
                                              os.path.join(folder, "cyclegan_failure_cases.png"), args.cycle_seconds)),
    )
    for section, run in sections:
        if section not in args.sections:
            continue
        start = time.perf_counter()
        try:
            results[section] = run()
        except Exception as error:  # keep the other sections' figures
            results[section] = {"error": f"{type(error).__name__}: {error}"}
            print(section, "failed:", results[section]["error"], flush=True)
        results.setdefault("seconds", {})[section] = round(time.perf_counter() - start, 1)
        results.setdefault("commands", {})[section] = command
        with open(args.out, "w", encoding="utf-8") as handle:  # after every section
            json.dump(results, handle, indent=2, sort_keys=True)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
