"""Adversarial models: sample quality after fixed budgets, and training speed.

* Fashion-MNIST: Fréchet distance in the features of tfdgm's fixed
  convnet-v1 classifier (`tfdgm.metrics.classifier`; NOT Inception FID) and
  k-NN precision / recall, for DCGAN, WGAN-GP (DCGAN players, layer-norm
  critic) and ConditionalGAN, after `--image-steps` generator steps.
* 8gaussians / rings: mode coverage of GAN and WGAN-GP.
* pointcloud_digits: Chamfer-based minimum matching distance (MMD-CD) of
  PointCloudGAN clouds to test clouds.
* Steps/s of every training run (one step = n_critic critic updates + one
  generator update), XLA on.

Run (small budget, as in benchmarks/results/gans.json):
  flock /tmp/tfdgm-cpu.lock python benchmarks/gans.py --image-steps 300 --toy-steps 600 --cloud-steps 300
"""

import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfdgm import data
from tfdgm.metrics import coverage, pointcloud
from tfdgm.models import DCGAN, GAN, WGANGP, ConditionalGAN, PointCloudGAN


def _train(model, dataset, steps, optimizer=None):
    """Fits for `steps` steps; returns steps/s measured after the first (compiling) call."""
    model.compile(optimizer=optimizer, steps_per_execution=10)
    model.fit(dataset.take(10), epochs=1, verbose=0)  # compile
    start = time.perf_counter()
    model.fit(dataset.take(steps), epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


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
        steps_per_second = _train(model, _repeat("fashion_mnist", 64, labels=labels, preprocess=transform), steps)
        metrics = model.evaluation(test, num_samples=num_eval)
        results[name] = {"generator_steps": steps, "batch_size": 64, "steps_per_second": round(steps_per_second, 2),
                         **{k: metrics[k] for k in ("frechet_distance", "precision", "recall", "coverage", "feature_space")}}
        print(name, results[name], flush=True)
    # Reference points: the same test examples against the training set, and uniform noise.
    from tfdgm.models.adversarial.base import collect_examples, sample_quality

    real, _ = collect_examples(test, num_eval)
    train, _ = collect_examples(data.load("fashion_mnist", preprocess=transform.for_evaluation(), batch_size=500), num_eval)
    probe = DCGAN(data_transform=transform)
    results["reference_train_vs_test"] = {k: v for k, v in sample_quality(probe, real, train).items() if k != "num_samples"}
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
    results["reference_uniform_noise"] = {k: v for k, v in sample_quality(probe, real, noise).items() if k != "num_samples"}
    return results


def toy_benchmarks(steps):
    results = {}
    for dataset in ("8gaussians", "rings"):
        for name, model_class, optimizer in (
            ("gan", GAN, lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)),
            ("wgan_gp", WGANGP, lambda: keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9)),
        ):
            keras.utils.set_random_seed(0)
            model = model_class(event_shape=(2,), hidden_units=(64, 64), noise_dim=8)
            steps_per_second = _train(model, _repeat(dataset, 256), steps, optimizer())
            result = coverage.mode_coverage(model.generate(5000, seed=0).numpy(), dataset)
            results[f"{name}/{dataset}"] = {"generator_steps": steps, "steps_per_second": round(steps_per_second, 1),
                                            **{k: v for k, v in result.items() if k != "mode_fractions"}}
            print(name, dataset, results[f"{name}/{dataset}"], flush=True)
    return results


def cloud_benchmarks(steps, num_eval=200):
    keras.utils.set_random_seed(0)
    model = PointCloudGAN(event_shape=(64, 2))
    steps_per_second = _train(model, _repeat("pointcloud_digits", 64), steps,
                              keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9))
    test, _ = data.load_arrays("pointcloud_digits", "test")
    generated = model.generate(num_eval, seed=0)
    train, _ = data.load_arrays("pointcloud_digits", "train")
    return {"pointcloud_gan/pointcloud_digits": {
        "generator_steps": steps, "steps_per_second": round(steps_per_second, 2),
        "mmd_cd": float(pointcloud.minimum_matching_distance(test[:num_eval], generated)),
        "reference_mmd_cd_train_clouds": float(pointcloud.minimum_matching_distance(test[:num_eval], train[:num_eval])),
        "mean_chamfer_to_nearest_test_cloud": float(pointcloud.minimum_matching_distance(generated, test[:num_eval])),
    }}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-steps", type=int, default=300)
    parser.add_argument("--toy-steps", type=int, default=600)
    parser.add_argument("--cloud-steps", type=int, default=300)
    parser.add_argument("--num-eval", type=int, default=2000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gans.json"))
    args = parser.parse_args()
    results = {"threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()}
    results["toy"] = toy_benchmarks(args.toy_steps)
    results["pointcloud"] = cloud_benchmarks(args.cloud_steps)
    results["fashion_mnist"] = image_benchmarks(args.image_steps, args.num_eval)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
