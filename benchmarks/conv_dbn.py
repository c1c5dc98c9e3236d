"""Two-layer convolutional DBN (probabilistic max-pooling) on digits and Fashion-MNIST:
part-based features, their pictures, a linear classifier with few labels, and the
speed of the layer-1 CD-1 step against the previous implementation.

Lee, Grosse, Ranganath & Ng (ICML 2009) show that a CDBN learns localized
first-layer bases (strokes, edges), second-layer bases that combine them into
parts, and pooled features that help a linear classifier with few labels. This
script measures each at a small budget:

* a `ConvDBN` with the library's default layers for the dataset is trained
  greedily inside one `fit` (`epochs_per_layer` epochs per convolutional
  layer, `--top-epochs` for a dense top layer) on the dataset's default input
  for the chosen visible units (`--visible`: binary visibles on statically
  binarized images, or Gaussian visibles on standardized intensities);
  on 28 x 28 images the defaults end in a dense top RBM over the pooled
  layer-2 maps (the DBN's associative memory), which is what the samples
  start from;
* with `--gaussian global|image|zca`: the same DBN with Gaussian visibles on
  the grey levels standardized that way (`standardize`; "zca" is
  `tfdgm.data.ZCAWhitening`, the whitening Lee et al. applied to natural
  images), measured in the same ways, the binarized pixels added to its
  classifier inputs;
* filter localization: for each layer-1 filter, the fraction of its energy
  sum w^2 in its strongest 3x3 window, averaged over the filters, against the
  same for 1,000 random Gaussian filters of the same shape; and the mean
  |cosine| between pairs of filters (near 1: the filters collapsed to one);
* layer-1 filters, layer-2 receptive fields (weighted combinations of layer-1
  filters) and samples as PNG grids under `benchmarks/results/`: the samples
  picture has four rows of 8, the first 8 test images, chains started at
  their pooled codes below the top and two rows of chains started at the top
  RBM's base rates (another seed),
  each after `--sample-steps` Gibbs sweeps in the top layer, then the sampled
  down pass and the first layer's mean E[v | h];
* scikit-learn `LogisticRegression` (multinomial, L2 strength chosen on the
  validation split from {0.01, 0.1, 1}, features standardized on the training
  examples) on raw pixels in [0, 1], on the pixels the DBN sees, on layer-1
  and layer-2 pooling units and on both concatenated (the paper's feature
  vector); test accuracy with few labels (100 digits, 1,000 Fashion-MNIST)
  and with every training example used (Fashion-MNIST: the first
  `--num-classifier` of the training examples);
* speed, side by side in one run: images/s of layer-1 ConvRBM CD-1 training
  (`fit`, Fashion-MNIST 28x28, 24 filters of 9x9, pooling 2) of this version
  (at the batch size of the baseline and at a larger one, with and without
  XLA) against the version at `--baseline-commit` (loaded from git: the CD
  gradient by autodiff of the free energy and the pooling softmax over a
  transposed block axis) and the one at `--middle-commit` (closed-form CD
  with TensorFlow's convolution ops), interleaved rounds, best of each; the
  fraction of the float32 GEMM rate (a 2048^2 `tf.matmul`, measured in the
  same run) that the step reaches, counted both as the convolution arithmetic
  (5 products of 2 H'W' f^2 K flops per image) and as the block matrix
  products it actually runs (`BlockedCorrelation`: 144/81 of that for 9 x 9
  filters in 4 x 4 blocks); and the process CPU seconds per image of each
  variant (the machine is shared, so wall-clock rates move with the load).

Run (the figures in benchmarks/README.md):
  cd /work/main && flock /tmp/tfdgm-bench.lock nice -n 5 .venv/bin/python benchmarks/conv_dbn.py
or in two parts, the quality runs without the lock and the speed under it:
  nice .venv/bin/python benchmarks/conv_dbn.py --skip-speed
  flock /tmp/tfdgm-bench.lock nice .venv/bin/python benchmarks/conv_dbn.py --speed-only
"""

import argparse
import json
import os
import subprocess
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfdgm  # noqa: E402
from tfdgm.data import ZCAWhitening  # noqa: E402
from tfdgm.models import ConvDBN, ConvRBM  # noqa: E402
from tfdgm.visualize import conv_filter_grid, image_grid, second_layer_receptive_fields, write_png  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _layers(name):
    """The library defaults for the dataset (what `tfdgm train conv_dbn` uses)."""
    return ConvDBN.default_hyperparameters(tfdgm.data.dataset_info(name))


def _arrays(name, split, preprocess, num):
    data = tfdgm.data.load(name, split=split, preprocess=preprocess, batch_size=5000, with_labels=True,
                           num_examples=num)
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in data])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def _features(model, x, layer, batch_size=500):
    parts = [np.asarray(model.features(x[i : i + batch_size], layer=layer)) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).reshape(len(x), -1)


def _linear_accuracy(train, validation, test, num_labels, seed=0):
    """Test accuracy of a standardized multinomial logistic regression trained on
    the first `num_labels` training examples (C picked on the validation split)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    (x, y), (xv, yv), (xt, yt) = train, validation, test
    x, y = x[:num_labels], y[:num_labels]
    scaler = StandardScaler().fit(x)
    x, xv, xt = scaler.transform(x), scaler.transform(xv), scaler.transform(xt)
    best = None
    for strength in (0.01, 0.1, 1.0):
        classifier = LogisticRegression(C=strength, max_iter=300, random_state=seed).fit(x, y)
        accuracy = classifier.score(xv, yv)
        if best is None or accuracy > best[0]:
            best = (accuracy, strength, classifier)
    return {"test_accuracy": round(float(best[2].score(xt, yt)), 4), "validation_accuracy": round(best[0], 4),
            "C": best[1], "num_labels": int(len(x)), "num_features": int(x.shape[1])}


def localization(filters, window=3):
    """Per filter [fh, fw, C, K]: the largest fraction of sum w^2 inside one
    `window` x `window` square. -> [K]."""
    energy = np.square(np.asarray(filters, np.float64)).sum(2)  # [fh, fw, K]
    height, width = energy.shape[:2]
    windows = [energy[i:i + window, j:j + window].sum((0, 1))
               for i in range(height - window + 1) for j in range(width - window + 1)]
    return np.max(windows, 0) / np.maximum(energy.sum((0, 1)), 1e-30)


def _filter_statistics(filters, seed=0):
    """Localization of the filters (in windows a third of the filter wide) and of
    1,000 random Normal filters of the same shape, and the mean |cosine| between
    distinct filters."""
    filters = np.asarray(filters)
    window = max(1, filters.shape[0] // 3)
    random = np.random.default_rng(seed).normal(size=(*filters.shape[:3], 1000))
    flat = filters.reshape(-1, filters.shape[-1])
    unit = flat / np.maximum(np.linalg.norm(flat, axis=0), 1e-30)
    cosine = np.abs(unit.T @ unit)[np.triu_indices(flat.shape[1], 1)]
    return {"window": window, "localization": round(float(localization(filters, window).mean()), 3),
            "localization_random_filters": round(float(localization(random, window).mean()), 3),
            "mean_abs_cosine_between_filters": round(float(cosine.mean()), 3)}


def run_dataset(name, args, gaussian=None):
    """Trains the dataset's default `ConvDBN` and measures it. `gaussian`: None
    for the `--visible` units on their default input, or a standardization of
    the grey levels ("zca", "global", "image", see `standardize`) for
    Gaussian visibles (`--gaussian`), whose pictures are named
    `conv_dbn_<name>_gaussian_*.png`."""
    config = _layers(name)
    fashion = name == "fashion_mnist"
    num_train = args.num_train if fashion else None
    num_test = args.num_test if fashion else None
    info = tfdgm.data.dataset_info(name)
    visible = args.visible if gaussian is None else "gaussian"
    preprocess = ConvDBN.default_preprocess(info, {"visible": visible}) if gaussian is None else "scale"
    (x, y), (xv, yv), (xt, yt) = [_arrays(name, split, preprocess, num) for split, num in
                                  (("train", num_train), ("validation", num_test), ("test", num_test))]
    to_images = (lambda s: np.clip((s + 0.8) / 2.8, 0.0, 1.0)) if visible == "gaussian" else (lambda s: s)
    if gaussian is not None:
        transform, inverse, preprocess = standardize(x, gaussian)
        x, xv, xt = (transform(a).reshape(a.shape).astype(np.float32) for a in (x, xv, xt))
        to_images = inverse
        # higher layers are binary: the binary CD step there
        config["learning_rate"] = [args.gaussian_learning_rate] + [1.0] * (len(config["num_filters"]) - 1)
    tag = name if gaussian is None else f"{name}_gaussian"
    epochs_per_layer = args.digits_epochs_per_layer if name == "digits" else args.epochs_per_layer
    top_epochs = args.digits_top_epochs if name == "digits" else args.top_epochs
    num_layers = len(config["num_filters"])
    epochs = (num_layers - 1) * epochs_per_layer + top_epochs
    keras.utils.set_random_seed(0)
    model = ConvDBN(image_shape=x.shape[1:], epochs_per_layer=epochs_per_layer, visible=visible, **config)
    model.compile(steps_per_execution=args.steps_per_execution)
    start = time.perf_counter()
    history = model.fit(x, batch_size=args.batch_size, epochs=epochs, verbose=0)
    train_seconds = time.perf_counter() - start
    print(tag, "trained in", round(train_seconds, 1), "s", flush=True)

    pictures = {}
    for layer in range(2):
        path = os.path.join(RESULTS, f"conv_dbn_{tag}_layer{layer + 1}.png")
        pictures[f"layer{layer + 1}"] = os.path.relpath(_write_layer_picture(model, name, layer, path), RESULTS)
    # rows: 8 test images; chains started at their pooled codes; 16 chains started at the top RBM's base rates
    # (another seed: chains that share their random numbers coalesce, whatever their start)
    starts = xt[:8]
    samples = np.concatenate([starts, np.asarray(model.sample(8, num_steps=args.sample_steps, seed=0, start=starts)),
                              np.asarray(model.sample(16, num_steps=args.sample_steps, seed=1))])
    pictures["samples"] = os.path.relpath(
        write_png(os.path.join(RESULTS, f"conv_dbn_{tag}_samples.png"),
                  _enlarged(image_grid(to_images(samples), num_columns=8))), RESULTS)

    num_classifier = min(len(x), args.num_classifier) if fashion else len(x)
    raw = [_arrays(name, split, "scale", num)[0].reshape(-1, int(np.prod(x.shape[1:])))
           for split, num in (("train", num_train), ("validation", num_test), ("test", num_test))]
    raw[0] = raw[0][:num_classifier]
    seen = [a.reshape(len(a), -1) for a in (x[:num_classifier], xv, xt)]
    feature_sets = {"raw pixels [0, 1]": raw, f"pixels the DBN sees ({preprocess})": seen}
    if gaussian is not None:
        binary = ConvDBN.default_preprocess(info, {"visible": "binary"})
        feature_sets[f"binarized pixels ({binary})"] = [
            _arrays(name, split, binary, num)[0].reshape(-1, int(np.prod(x.shape[1:])))[:limit]
            for split, num, limit in (("train", num_train, num_classifier), ("validation", num_test, None),
                                      ("test", num_test, None))]
    layer_features, activity = {}, []
    for layer in range(num_layers):
        layer_features[layer] = [_features(model, data, layer) for data in (x[:num_classifier], xv, xt)]
        kind = ("hidden units (dense top RBM)" if model.is_dense(layer)
                else "pooling units" if model.pool_sizes[layer] > 1 else "units (not pooled)")
        feature_sets[f"ConvDBN layer {layer + 1} {kind}"] = layer_features[layer]
        activity.append(round(float(layer_features[layer][0].mean()), 4))
    feature_sets["ConvDBN layers 1+2"] = [np.concatenate([a, b], 1)
                                          for a, b in zip(layer_features[0], layer_features[1])]
    detection = float(np.mean(np.asarray(model.hidden_probs(x[:500], layer=0))))
    classification = []
    for features_name, (f, fv, ft) in feature_sets.items():
        for num_labels in (args.few_labels[name], num_classifier):
            row = {"features": features_name, **_linear_accuracy((f, y[:num_classifier]), (fv, yv), (ft, yt),
                                                                 num_labels)}
            classification.append(row)
            print(tag, json.dumps(row), flush=True)
    return {"hyperparameters": model.hyperparameters(), "preprocess": preprocess,
            "num_train": int(len(x)), "num_validation": int(len(xv)), "num_test": int(len(xt)),
            "epochs_per_layer": epochs_per_layer, "epochs": epochs, "batch_size": args.batch_size,
            "train_seconds": round(train_seconds, 1),
            "final_metrics": {k: round(float(v[-1]), 4) for k, v in history.history.items()},
            "mean_detection_activation_layer1": round(detection, 4),
            "mean_pooling_activation": activity,
            "filters_layer1": _filter_statistics(np.asarray(model.layer_filters(0))),
            "pictures": pictures, "classification": classification}


def standardize(images, how):
    """Grey levels [n, H, W, 1] in [0, 1] -> about zero mean, unit variance for
    Gaussian visibles of unit variance (Lee et al. 2009, eq. 2), fitted on
    `images`. "global": one mean and standard deviation over every pixel;
    "image": each image minus its own mean, divided by its own standard
    deviation (contrast normalization); "zca": `tfdgm.data.ZCAWhitening`
    (each image's mean removed, then zero-phase whitening, epsilon 0.01 of the
    largest eigenvalue), the whitening of the paper's natural images.
    -> (transform, inverse for pictures (to [0, 1]), description)."""
    if how == "global":
        mean, std = float(images.mean()), float(images.std())
        return ((lambda x: (x - mean) / std), (lambda z: np.clip(z * std + mean, 0.0, 1.0)),
                f"(x - {mean:.3f}) / {std:.3f}")
    if how == "image":
        return _per_image, _min_max, "per-image (x - mean(x)) / std(x)"
    white = ZCAWhitening(epsilon=0.01)
    white.adapt(images)
    return ((lambda x: np.asarray(white(x.astype(np.float32)))), (lambda z: _min_max(np.asarray(white.inverse(z)))),
            "ZCAWhitening(epsilon=0.01): per-image mean removed, ZCA-whitened")


def _per_image(x):
    x = x.reshape(len(x), -1).astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    return x / np.sqrt(np.square(x).mean(1, keepdims=True) + 1e-2)


def _min_max(images):
    """Each image stretched to [0, 1] (pictures of images whose brightness was removed)."""
    low = images.min(tuple(range(1, images.ndim)), keepdims=True)
    high = images.max(tuple(range(1, images.ndim)), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-6)


def _write_layer_picture(model, name, layer, path):
    """Layer-1 filters, or layer-2 receptive fields (weighted combinations of
    layer-1 filters, `tfdgm.visualize.second_layer_receptive_fields`), as a PNG grid."""
    filters = np.asarray(model.layer_filters(0))
    if layer == 1:
        pool_size = _layers(name)["pool_size"][0]
        filters = second_layer_receptive_fields(filters, np.asarray(model.layer_filters(1)), pool_size)
    return write_png(path, _enlarged(conv_filter_grid(filters)))


def _enlarged(picture, tile_pixels=36):
    """Pixel-repeats a small picture (up to 4x) so that tiles of a few pixels stay visible in the README."""
    factor = max(1, tile_pixels // max(1, min(picture.shape[:2]) // 4))
    factor = min(factor, 4)
    return np.repeat(np.repeat(picture, factor, 0), factor, 1)


# ------------------------------------------------------------------- speed
#: Imports of the previous version whose modules moved since (old -> new).
MOVED_IMPORTS = {
    "from tfdgm.inference import exact": "from tfdgm.distributions import enumeration as exact",
    "from tfdgm.inference.ais import AnnealingPath": "from tfdgm.distributions.annealing import AnnealingPath",
    "from tfdgm.inference.gibbs import": "from tfdgm.distributions.gibbs import",
}


def previous_conv_rbm(commit):
    """The `ConvRBM` class as it was at `commit`, loaded from git (its
    distribution module too, with `MOVED_IMPORTS` applied), for a side-by-side
    speed ratio."""
    def source(path):
        text = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True, check=True,
                              cwd=REPOSITORY).stdout
        for old, new in MOVED_IMPORTS.items():
            text = text.replace(old, new)
        return text

    distribution = types.ModuleType("previous_conv_rbm_distribution")
    exec(compile(source("tfdgm/distributions/conv_rbm.py"), "previous conv_rbm distribution", "exec"),  # noqa: S102
         distribution.__dict__)
    sys.modules[distribution.__name__] = distribution
    model_source = source("tfdgm/models/energy/conv_rbm.py").replace(
        "from tfdgm.distributions.conv_rbm import", f"from {distribution.__name__} import")
    module = types.ModuleType("previous_conv_rbm_model")
    exec(compile(model_source, "previous conv_rbm model", "exec"), module.__dict__)  # noqa: S102
    return module.ConvRBM


def gemm_rate(size=2048, repeats=10):
    """GFLOP/s of a float32 [size, size] @ [size, size] `tf.matmul`, best of `repeats`."""
    a = tf.random.normal([size, size])
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)))
    product()
    best = min(_seconds(product) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def step_flops(image_shape, filter_size, num_filters):
    """Multiply-adds x 2 of the convolution-shaped products of one CD-1 step per
    image: the data's bottom-up input, the top-down input, the negatives'
    bottom-up input and the two filter correlations (data and negatives)."""
    height, width = image_shape[0] - filter_size + 1, image_shape[1] - filter_size + 1
    return 5 * 2 * height * width * filter_size * filter_size * image_shape[2] * num_filters


def run_speed(args):
    preprocess = "binarize:static"
    x, _ = _arrays("fashion_mnist", "train", preprocess, args.speed_images)
    config = {"image_shape": (28, 28, 1), "num_filters": 24, "filter_size": 9, "pool_size": 2}
    previous = previous_conv_rbm(args.baseline_commit)
    middle = previous_conv_rbm(args.middle_commit)
    batch, large = args.batch_size, args.large_batch_size
    variants = {f"this version, batch {batch}": (ConvRBM, False, batch),
                f"this version, batch {large}": (ConvRBM, False, large),
                f"this version, batch {batch}, XLA": (ConvRBM, True, batch),
                f"closed-form conv ops ({args.middle_commit}), batch {batch}": (middle, False, batch),
                f"previous ({args.baseline_commit}), batch {batch}": (previous, False, batch),
                f"previous ({args.baseline_commit}), batch {batch}, XLA": (previous, True, batch)}
    models, rates, cpu = {}, {name: [] for name in variants}, {name: [] for name in variants}
    for name, (cls, jit, batch_size) in variants.items():
        keras.utils.set_random_seed(0)
        model = cls(**config)
        model.compile(jit_compile=jit, steps_per_execution=args.steps_per_execution)
        model.fit(x[: 2 * args.steps_per_execution * batch_size], batch_size=batch_size, epochs=1,
                  verbose=0)  # trace and compile
        models[name] = (model, batch_size, not jit and cls is not previous)
    gemm = []
    for _ in range(args.speed_rounds):
        gemm.append(gemm_rate())
        for name, (model, batch_size, fast) in models.items():
            count = len(x) if fast else len(x) // 5
            start_cpu = time.process_time()
            seconds = _seconds(lambda: model.fit(x[:count], batch_size=batch_size, epochs=1, verbose=0,
                                                 shuffle=False))
            cpu[name].append((time.process_time() - start_cpu) / count)
            rates[name].append(count / seconds)
    best = {name: max(values) for name, values in rates.items()}
    cpu_best = {name: min(values) for name, values in cpu.items()}
    baseline = best[f"previous ({args.baseline_commit}), batch {batch}"]
    flops = step_flops(config["image_shape"], config["filter_size"], config["num_filters"])
    blocked = 144.0 / 81.0  # BlockedCorrelation's products per convolution flop (9 x 9 filters, 4 x 4 blocks)
    gemm_best = max(gemm)
    cpu_baseline = cpu_best[f"previous ({args.baseline_commit}), batch {batch}"]
    rows = [{"variant": name, "images_per_second": round(rate, 1), "speedup": round(rate / baseline, 2),
             "gflops": round(rate * flops / 1e9, 2), "fraction_of_gemm": round(rate * flops / 1e9 / gemm_best, 4),
             "fraction_of_gemm_block_products": round(blocked * rate * flops / 1e9 / gemm_best, 4)
             if name.startswith("this version") else None,
             "cpu_ms_per_image": round(1e3 * cpu_best[name], 3),
             "speedup_in_cpu_time": round(cpu_baseline / cpu_best[name], 2)}
            for name, rate in best.items()]
    for row in rows:
        print("speed", json.dumps(row), flush=True)
    return {"rows": rows, "gemm_gflops": round(gemm_best, 1), "step_mflop_per_image": round(flops / 1e6, 2),
            "batch_size": args.batch_size, "steps_per_execution": args.steps_per_execution,
            "rounds": args.speed_rounds, "images": int(len(x)), "baseline_commit": args.baseline_commit,
            "middle_commit": args.middle_commit, "load_average_after": list(os.getloadavg()),
            "all_rounds": {name: [round(r, 1) for r in values] for name, values in rates.items()}}


def _table(results, args):
    lines = ["| data | features | dims | test acc., few labels | test acc., more labels |",
             "|---|---|---:|---:|---:|"]
    for name in [key for name in args.datasets.split(",") for key in (name, f"{name}_gaussian") if key in results]:
        rows = results[name]["classification"]
        for features in dict.fromkeys(row["features"] for row in rows):
            few, full = [row for row in rows if row["features"] == features]
            lines.append(f"| {name} | {features} | {few['num_features']} | {few['test_accuracy']:.3f} "
                         f"({few['num_labels']}) | {full['test_accuracy']:.3f} ({full['num_labels']}) |")
    lines += ["", "| data | layer-1 filters: energy in the strongest window | random filters | "
                  "mean abs. cosine |", "|---|---:|---:|---:|"]
    for name in args.datasets.split(","):
        stats = results[name]["filters_layer1"]
        window = f"{stats['window']}x{stats['window']}"
        lines.append(f"| {name} | {stats['localization']:.3f} ({window}) | {stats['localization_random_filters']:.3f} "
                     f"| {stats['mean_abs_cosine_between_filters']:.3f} |")
    for name in args.datasets.split(","):
        if f"{name}_gaussian" in results:
            stats = results[f"{name}_gaussian"]["filters_layer1"]
            lines.append(f"| {name}, Gaussian visibles ({results[name + '_gaussian']['preprocess']}) "
                         f"| {stats['localization']:.3f} | {stats['localization_random_filters']:.3f} "
                         f"| {stats['mean_abs_cosine_between_filters']:.3f} |")
    if "speed" in results:
        speed = results["speed"]
        lines += ["", "| layer-1 CD-1, 28x28, 24 filters 9x9 | images/s | ratio | CPU ms/image | ratio in CPU time | "
                      f"fraction of GEMM ({speed['gemm_gflops']:.0f} GFLOP/s): conv. flops / products run |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in speed["rows"]:
            run = row["fraction_of_gemm_block_products"]
            lines.append(f"| {row['variant']} | {row['images_per_second']:.0f} | {row['speedup']:.2f}x | "
                         f"{row['cpu_ms_per_image']:.2f} | {row['speedup_in_cpu_time']:.2f}x | "
                         f"{row['fraction_of_gemm']:.1%}" + ("" if run is None else f" / {run:.1%}") + " |")
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="digits,fashion_mnist")
    parser.add_argument("--visible", default="binary", choices=["binary", "gaussian"])
    parser.add_argument("--num-train", type=int, default=20000, help="Fashion-MNIST training examples (digits: all)")
    parser.add_argument("--num-classifier", type=int, default=5000,
                        help="Fashion-MNIST training examples for the 'more labels' classifiers")
    parser.add_argument("--num-test", type=int, default=2000, help="Fashion-MNIST validation and test examples")
    parser.add_argument("--epochs-per-layer", type=int, default=3, help="Fashion-MNIST")
    parser.add_argument("--digits-epochs-per-layer", type=int, default=20)
    parser.add_argument("--top-epochs", type=int, default=6, help="Fashion-MNIST: epochs of the top layer")
    parser.add_argument("--digits-top-epochs", type=int, default=20)
    parser.add_argument("--gaussian", default="none", choices=["none", "global", "image", "zca"],
                        help="also train each dataset's DBN with Gaussian visibles on its grey levels standardized "
                             "this way (global mean and standard deviation, each image's own, or ZCA-whitened)")
    parser.add_argument("--gaussian-only", action="store_true",
                        help="train only the --gaussian DBNs, keeping the binary ones' results in --out")
    parser.add_argument("--gaussian-learning-rate", type=float, default=0.3,
                        help="its first layer's CD step (the library's default for Gaussian visibles is 0.1; "
                             "whitened images take 0.3)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps-per-execution", type=int, default=10, help="as the CLI's default")
    parser.add_argument("--sample-steps", type=int, default=500)
    parser.add_argument("--speed-images", type=int, default=5000)
    parser.add_argument("--large-batch-size", type=int, default=250, help="a second batch size for this version")
    parser.add_argument("--speed-rounds", type=int, default=3)
    parser.add_argument("--baseline-commit", default="4987f95")
    parser.add_argument("--middle-commit", default="23e0754", help="closed-form CD with TensorFlow's conv ops")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true",
                        help="measure the speed only and add it to the datasets' results already in --out "
                             "(the quality runs need no benchmark lock)")
    parser.add_argument("--out", default=os.path.join(RESULTS, "conv_dbn.json"))
    args = parser.parse_args()
    args.few_labels = {"digits": 100, "fashion_mnist": 1000}
    results = {"args": {k: v for k, v in vars(args).items()}}
    if args.speed_only:
        with open(args.out, encoding="utf-8") as handle:
            results = {**json.load(handle), "speed_args": results["args"]}
    elif args.skip_speed and os.path.exists(args.out):  # keep the speed measured by a separate --speed-only run
        with open(args.out, encoding="utf-8") as handle:
            previous = json.load(handle)
        results.update({key: previous[key] for key in ("speed", "speed_args") if key in previous})
    if args.gaussian_only:  # keep the binary DBNs' results already in --out
        with open(args.out, encoding="utf-8") as handle:
            results = {**json.load(handle), "gaussian_args": results["args"]}
    for name in [] if args.speed_only else args.datasets.split(","):
        if not args.gaussian_only:
            results[name] = run_dataset(name, args)
        _write(results, args.out)  # after each dataset, so an interrupted run keeps what it measured
        if args.gaussian != "none":
            results[f"{name}_gaussian"] = run_dataset(name, args, gaussian=args.gaussian)
            _write(results, args.out)
    if not args.skip_speed:
        results["speed"] = run_speed(args)
    results["table"] = _table(results, args)
    print("\n".join(results["table"]))
    _write(results, args.out)
    print("wrote", args.out)


def _write(results, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
