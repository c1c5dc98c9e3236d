"""Two-layer convolutional DBN (probabilistic max-pooling) on digits and Fashion-MNIST:
training speed per layer, feature grids, and linear classifiers on the pooled
features against raw pixels.

Lee, Grosse, Ranganath & Ng (ICML 2009) show that a CDBN's pooled features are
useful by training a linear classifier on them with few labels (their MNIST
table: test error with 1,000 ... 60,000 labelled examples). This script does
the same at a small budget:

* a `ConvDBN` with the library's default layers for the dataset is trained
  greedily inside one `fit` (`epochs_per_layer` epochs per layer) on
  statically binarized images (`--preprocess`); training images/s is reported
  per layer from the last epoch of each layer (the first includes XLA
  compilation; a layer-2 step includes the layer-1 up pass);
* layer-1 filters, layer-2 receptive fields (weighted combinations of layer-1
  filters) and 16 samples are written as PNG grids under `benchmarks/results/`;
* scikit-learn `LogisticRegression` (multinomial, L2 strength chosen on the
  validation split from {0.01, 0.1, 1}, features standardized on the training
  examples) is trained on raw pixels in [0, 1], on the binarized pixels the DBN
  sees, on the layer-2 pooling units, and on layers 1 + 2 concatenated (the
  paper's feature vector); test accuracy with few labels (100 digits, 1,000
  Fashion-MNIST) and with every training example used;
* the side-by-side speed ratio: layer-1 ConvRBM CD-1 training with XLA against
  the same without XLA, interleaved rounds in one run.

Run (the figures in benchmarks/README.md):
  .venv/bin/python benchmarks/conv_dbn.py
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfdgm  # noqa: E402
from tfdgm.models import ConvDBN, ConvRBM  # noqa: E402
from tfdgm.training import EpochTimer  # noqa: E402
from tfdgm.visualize import conv_filter_grid, image_grid, second_layer_receptive_fields, write_png  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

def _layers(name):
    """The library defaults for the dataset (what `tfdgm train conv_dbn` uses):
    digits 8x8: 16 filters 3x3 -> 6x6 -> pooled 3x3, 24 filters 2x2 -> 2x2 -> pooled 1x1;
    Fashion-MNIST 28x28: 24 filters 9x9 -> 20x20 -> pooled 10x10, 40 filters 5x5 -> 6x6 -> pooled 3x3
    (layer-2 receptive fields 5 * 2 + 9 - 1 = 18 pixels wide)."""
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


def _xla_ratio(x, config, steps, batch_size, steps_per_execution, rounds=3):
    """Steps/s of layer-1 ConvRBM CD-1 training with and without XLA, interleaved rounds; best of each."""
    rates = {True: [], False: []}
    models = {}
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        model = ConvRBM(image_shape=x.shape[1:], num_filters=config["num_filters"][0],
                        filter_size=config["filter_size"][0], pool_size=config["pool_size"][0])
        model.compile(jit_compile=jit, steps_per_execution=steps_per_execution)
        model.fit(x[: batch_size * 2], batch_size=batch_size, epochs=1, verbose=0)  # compile
        models[jit] = model
    batch = x[: steps * batch_size]
    for _ in range(rounds):
        for jit, model in models.items():
            start = time.perf_counter()
            model.fit(batch, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
            rates[jit].append(len(batch) / (time.perf_counter() - start))
    xla, plain = max(rates[True]), max(rates[False])
    return {"images_per_second_xla": round(xla, 1), "images_per_second_no_xla": round(plain, 1),
            "xla_speedup": round(xla / plain, 2), "steps": steps, "batch_size": batch_size, "rounds": rounds}


def run_dataset(name, args):
    config = _layers(name)
    num_train = args.num_train if name == "fashion_mnist" else None
    num_test = args.num_test if name == "fashion_mnist" else None
    x, y = _arrays(name, "train", args.preprocess, num_train)
    xv, yv = _arrays(name, "validation", args.preprocess, num_test)
    xt, yt = _arrays(name, "test", args.preprocess, num_test)
    epochs_per_layer = args.digits_epochs_per_layer if name == "digits" else args.epochs_per_layer
    epochs = epochs_per_layer * 2
    keras.utils.set_random_seed(0)
    model = ConvDBN(image_shape=x.shape[1:], cd_steps=1, epochs_per_layer=epochs_per_layer, **config)
    model.compile(steps_per_execution=args.steps_per_execution)
    timer = EpochTimer()
    start = time.perf_counter()
    history = model.fit(x, batch_size=args.batch_size, epochs=epochs, verbose=0, callbacks=[timer])
    train_seconds = time.perf_counter() - start
    speed = []
    for layer in range(2):
        seconds = timer.seconds[(layer + 1) * epochs_per_layer - 1]  # last epoch of this layer
        speed.append({"layer": layer + 1, "images_per_second": round(len(x) / seconds, 1),
                      "epoch_seconds": round(seconds, 2)})
    print(name, "speed", speed, flush=True)

    pictures = {}
    for layer in range(2):
        path = os.path.join(RESULTS, f"conv_dbn_{name}_layer{layer + 1}.png")
        pictures[f"layer{layer + 1}"] = os.path.relpath(_write_layer_picture(model, name, layer, path), RESULTS)
    samples = np.asarray(model.sample(16, num_steps=args.sample_steps, seed=0))
    pictures["samples"] = os.path.relpath(
        write_png(os.path.join(RESULTS, f"conv_dbn_{name}_samples.png"), _enlarged(image_grid(samples, num_columns=8))),
        RESULTS)

    # Raw pixels: intensities in [0, 1] (a stronger baseline than the binarized images the DBN sees).
    raw = [_arrays(name, split, "scale", num)[0].reshape(-1, int(np.prod(x.shape[1:])))
           for split, num in (("train", num_train), ("validation", num_test), ("test", num_test))]
    feature_sets = {"raw pixels [0, 1]": raw}
    if args.preprocess != "scale":
        feature_sets[f"raw pixels {args.preprocess} (the DBN's input)"] = [a.reshape(len(a), -1) for a in (x, xv, xt)]
    layer_features, activity = {}, []  # activity: mean P(p = 1 | v) of each layer on the training images
    for layer in (0, 1):
        layer_features[layer] = [_features(model, data, layer) for data in (x, xv, xt)]
        if layer == 1:  # (layer 1 alone is left out: its fits cost as much as the concatenation's)
            feature_sets["ConvDBN layer 2 pooling units"] = layer_features[layer]
        activity.append(round(float(layer_features[layer][0].mean()), 4))
    feature_sets["ConvDBN layers 1+2 pooling units"] = [np.concatenate([a, b], 1) for a, b in
                                                        zip(layer_features[0], layer_features[1])]
    classification = []
    for features_name, (f, fv, ft) in feature_sets.items():
        for num_labels in (args.few_labels[name], len(x)):
            row = {"features": features_name, **_linear_accuracy((f, y), (fv, yv), (ft, yt), num_labels)}
            classification.append(row)
            print(name, json.dumps(row), flush=True)
    return {"hyperparameters": model.hyperparameters(),
            "num_train": int(len(x)), "num_validation": int(len(xv)), "num_test": int(len(xt)),
            "epochs_per_layer": epochs_per_layer, "batch_size": args.batch_size,
            "train_seconds": round(train_seconds, 1),
            "final_metrics": {k: round(float(v[-1]), 4) for k, v in history.history.items()},
            "preprocess": args.preprocess, "mean_pooling_activation": activity,
            "speed": speed, "pictures": pictures, "classification": classification}


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


def _table(results, args):
    lines = ["| data | features | dims | test acc., few labels | test acc., all labels |", "|---|---|---:|---:|---:|"]
    for name in args.datasets.split(","):
        rows = results[name]["classification"]
        for features in dict.fromkeys(row["features"] for row in rows):
            few, full = [row for row in rows if row["features"] == features]
            lines.append(f"| {name} | {features} | {few['num_features']} | {few['test_accuracy']:.3f} "
                         f"({few['num_labels']}) | {full['test_accuracy']:.3f} ({full['num_labels']}) |")
    lines += ["", "| data | layer | training images/s |", "|---|---:|---:|"]
    for name in args.datasets.split(","):
        for row in results[name]["speed"]:
            lines.append(f"| {name} | {row['layer']} | {row['images_per_second']:.0f} |")
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="digits,fashion_mnist")
    parser.add_argument("--num-train", type=int, default=3000, help="Fashion-MNIST training examples (digits: all)")
    parser.add_argument("--num-test", type=int, default=2000, help="Fashion-MNIST validation and test examples")
    parser.add_argument("--epochs-per-layer", type=int, default=2, help="Fashion-MNIST")
    parser.add_argument("--digits-epochs-per-layer", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps-per-execution", type=int, default=10, help="as the CLI's default")
    parser.add_argument("--preprocess", default="binarize:static",
                        help="the DBN's input: binarize:static (the library default) or scale (intensities in [0, 1] "
                             "used as Bernoulli means)")
    parser.add_argument("--sample-steps", type=int, default=500)
    parser.add_argument("--xla-steps", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(RESULTS, "conv_dbn.json"))
    args = parser.parse_args()
    args.few_labels = {"digits": 100, "fashion_mnist": 1000}
    results = {"args": {k: v for k, v in vars(args).items()}}
    for name in args.datasets.split(","):
        results[name] = run_dataset(name, args)
        _write(results, args.out)  # after each dataset, so an interrupted run keeps what it measured
        if name == "fashion_mnist" or args.datasets == "digits":
            x, _ = _arrays(name, "train", args.preprocess, args.xla_steps * args.batch_size)
            results[name]["xla"] = _xla_ratio(x, _layers(name), args.xla_steps, args.batch_size,
                                               args.steps_per_execution)
            print(name, "xla", results[name]["xla"], flush=True)
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
