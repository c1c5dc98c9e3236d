"""The fixed feature classifier behind tfdgm's Fréchet distance.

A small convolutional classifier with a fixed architecture ("convnet-v1")
and seed, trained by tfdgm on a registered image dataset (data scaled to
[0, 1]); its 128-unit penultimate layer gives the features. Weights are
cached in $TFDGM_CACHE (default ~/.cache/tfdgm)/classifiers, so every run on
a machine uses the same network and Fréchet distances compare across runs.
This is NOT Inception-v3: the numbers are not comparable with published FIDs.
"""

import json
import os

import keras
import numpy as np

__all__ = ["ARCHITECTURE", "build_classifier", "train_classifier", "load_classifier", "default_dataset_for",
           "FeatureClassifier"]

ARCHITECTURE = "convnet-v1"
FEATURE_DIM = 128
_DATASET_FOR_SHAPE = {(28, 28, 1): "fashion_mnist", (8, 8, 1): "digits"}


def default_dataset_for(image_shape):
    """The dataset whose classifier gives default features for `image_shape` (or None)."""
    return _DATASET_FOR_SHAPE.get(tuple(int(d) for d in image_shape))


def build_classifier(image_shape, num_classes, seed=0):
    """convnet-v1: Conv(32, 3, stride 2) - Conv(64, 3, stride 2) - Dense(128) = features - Dense(K).

    Stride-2 stages only where the size allows (8x8 inputs get one)."""
    height, width, _ = image_shape
    inputs = keras.Input(tuple(image_shape), name="images")
    h = inputs
    for i, filters in enumerate((32, 64)):
        strides = 2 if min(height, width) // 2 ** (i + 1) >= 4 else 1
        h = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu",
                                kernel_initializer=keras.initializers.GlorotUniform(seed + i), name=f"conv_{i}")(h)
    h = keras.layers.Flatten()(h)
    features = keras.layers.Dense(FEATURE_DIM, activation="relu", name="features",
                                  kernel_initializer=keras.initializers.GlorotUniform(seed + 10))(h)
    logits = keras.layers.Dense(num_classes, name="logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed + 11))(features)
    return keras.Model(inputs, logits, name=f"classifier_{ARCHITECTURE}")


class FeatureClassifier:
    """A trained classifier: `features(images)` -> [n, 128], `predict(images)` -> labels [n].

    images: [n, H, W, C] in [0, 1] (data divided by its number of levels - 1).
    """

    def __init__(self, model, dataset, test_accuracy=None):
        self.model = model
        self.dataset = dataset
        self.test_accuracy = test_accuracy
        self._features = keras.Model(model.inputs, model.get_layer("features").output)

    def features(self, images, batch_size=500):
        return self._features.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)

    def predict(self, images, batch_size=500):
        return np.argmax(self.model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0), -1)


def _unit_arrays(dataset, split, num_examples=None):
    from tfdgm.data import dataset_info, load_arrays

    info = dataset_info(dataset)
    x, y = load_arrays(dataset, split)
    if info.num_levels is None or info.kind != "image" or y is None:
        raise ValueError(f"expected a labelled image dataset with discrete levels, got {dataset!r}")
    x, y = x[:num_examples], y[:num_examples]
    return x / float(info.num_levels - 1), y, info


def train_classifier(dataset="fashion_mnist", epochs=3, seed=0, num_examples=None, verbose=0):
    """Trains convnet-v1 on `dataset` (Adam 1e-3, batch 128, epochs permuted with `seed`).

    Returns:
      FeatureClassifier with its test accuracy.
    """
    x, y, info = _unit_arrays(dataset, "train", num_examples)
    model = build_classifier(x.shape[1:], info.num_classes, seed)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        model.fit(x[order], y[order], batch_size=128, epochs=1, shuffle=False, verbose=verbose)
    x_test, y_test, _ = _unit_arrays(dataset, "test")
    accuracy = float(np.mean(np.argmax(model.predict(x_test, batch_size=500, verbose=0), -1) == y_test))
    return FeatureClassifier(model, dataset, accuracy)


def _cache_dir():
    return os.path.join(os.environ.get("TFDGM_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "tfdgm")),
                        "classifiers")


_LOADED = {}


def load_classifier(dataset="fashion_mnist", epochs=3, seed=0):
    """The cached classifier of `dataset` (trained on first use, then loaded from the cache)."""
    key = (dataset, epochs, seed)
    if key in _LOADED:
        return _LOADED[key]
    stem = os.path.join(_cache_dir(), f"{dataset}-{ARCHITECTURE}-epochs{epochs}-seed{seed}")
    weights, meta = stem + ".weights.h5", stem + ".json"
    if os.path.exists(weights) and os.path.exists(meta):
        with open(meta, encoding="utf-8") as handle:
            info = json.load(handle)
        model = build_classifier(tuple(info["image_shape"]), info["num_classes"], seed)
        model.load_weights(weights)
        classifier = FeatureClassifier(model, dataset, info["test_accuracy"])
    else:
        print(f"tfdgm: training the {ARCHITECTURE} feature classifier on {dataset} (once; cached in {_cache_dir()})")
        classifier = train_classifier(dataset, epochs=epochs, seed=seed)
        os.makedirs(_cache_dir(), exist_ok=True)
        temporary = stem + ".partial.weights.h5"
        classifier.model.save_weights(temporary)
        os.replace(temporary, weights)
        with open(meta, "w", encoding="utf-8") as handle:
            json.dump({"image_shape": list(classifier.model.input_shape[1:]),
                       "num_classes": int(classifier.model.output_shape[-1]),
                       "test_accuracy": classifier.test_accuracy}, handle)
    _LOADED[key] = classifier
    return classifier
