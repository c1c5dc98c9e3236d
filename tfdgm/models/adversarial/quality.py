"""The sample-quality harness of models without a likelihood: generated
against real examples in a feature space, by Fréchet distance (Heusel et al.
2017) and k-NN precision / recall / coverage (Kynkäänniemi et al. 2019;
Naeem et al. 2020; `tfdgm.metrics`)."""

import numpy as np
import tensorflow as tf

__all__ = ["collect_examples", "to_unit_range", "sample_quality"]


def collect_examples(dataset, num_examples):
    """Up to `num_examples` examples of a dataset (arrays, or batches of x or
    (x, labels)). -> (x [n, ...] float32, labels [n] or None)."""
    if isinstance(dataset, np.ndarray):
        return dataset[:num_examples].astype(np.float32), None
    xs, ys, count = [], [], 0
    for batch in dataset:
        x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
        xs.append(np.asarray(x, np.float32))
        if y is not None:
            ys.append(np.asarray(y))
        count += len(xs[-1])
        if count >= num_examples:
            break
    x = np.concatenate(xs)[:num_examples]
    labels = np.concatenate(ys)[:num_examples] if ys and len(ys) == len(xs) else None
    if labels is not None and labels.ndim == 1 and np.all(labels < 0):
        labels = None  # tfdgm.data marks unlabelled examples with -1
    return x, labels


def to_unit_range(model, x):
    """Model-space examples -> data space, divided by (levels - 1) for discrete data (images in [0, 1])."""
    x = np.asarray(model.data_transform.inverse(tf.convert_to_tensor(x, tf.float32)))
    levels = getattr(model.data_transform, "num_levels", None)
    return x / float(levels - 1) if levels else x


def sample_quality(model, real, fake, feature_extractor="default", image_shape=None):
    """Fréchet distance and precision / recall / coverage of model-space `fake` vs `real`.

    -> dict: `frechet_distance`, `precision`, `recall`, `coverage`,
    `feature_space` ("classifier:NAME" or "data"), `num_samples`.
    """
    from tfdgm.metrics import classifier, coverage, frechet

    real, fake = to_unit_range(model, real), to_unit_range(model, fake)
    shape = tuple(image_shape or real.shape[1:])
    name = "data"
    if feature_extractor == "default":
        feature_extractor = None
        dataset = classifier.default_dataset_for(shape)
        if dataset is not None:
            feature_extractor = classifier.load_classifier(dataset).features
            name = f"classifier:{dataset}"
    elif feature_extractor is not None:
        name = getattr(feature_extractor, "__name__", "custom")
    if feature_extractor is None:
        real_features, fake_features = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    else:
        real_features = np.asarray(feature_extractor(real.reshape(-1, *shape)))
        fake_features = np.asarray(feature_extractor(fake.reshape(-1, *shape)))
    results = {
        "frechet_distance": frechet.frechet_distance(real_features, fake_features),
        "feature_space": name,
        "num_samples": int(len(real)),
    }
    results.update(coverage.precision_recall_coverage(real_features, fake_features))
    return results
