"""TFDS passthrough: any TensorFlow Datasets name as (x, y) pairs, with a how-to when data are missing."""

import numpy as np

from tfdgm.data.errors import DatasetError

__all__ = ["tfds_info", "tfds_dataset", "tfds_arrays"]

# What TFDS raises for an unknown name, a bad split, or data that are not prepared
# (AssertionError with download=False on an empty data_dir).
_TFDS_FAILURES = (AssertionError, ValueError, OSError)


def _how_to_get(tfds_name, data_dir, error):
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DatasetError(
        f"TFDS dataset '{tfds_name}' is not available (data_dir={data_dir or 'TFDS default'}): "
        f"{first_line} To get it, run `tfds build {tfds_name.split(':')[0]}` (or "
        f"tensorflow_datasets.load('{tfds_name}', download=True)) on a machine with network and "
        f"pass its data_dir, or call tfdgm.data.load(..., download=True).")


def _select_features(keys):
    """(x key, label key or None) of a TFDS features dict: "image", else the first non-label one."""
    keys = list(keys)
    label_key = "label" if "label" in keys else None
    x_keys = ["image"] if "image" in keys else [k for k in keys if k != "label"]
    if not x_keys:
        raise DatasetError(f"TFDS features {keys}: expected an 'image' or another non-label feature")
    return x_keys[0], label_key


def tfds_info(tfds_name, data_dir=None):
    """Metadata of a TFDS dataset from its builder (no data needed).

    Returns:
      dict with event_shape, kind ("image" | "vector"), num_classes, num_levels (256
      for uint8 features, else None), splits (empty when not prepared), description.
    """
    import tensorflow_datasets as tfds

    try:
        info = tfds.builder(tfds_name, data_dir=data_dir).info
    except _TFDS_FAILURES as error:
        raise _how_to_get(tfds_name, data_dir, error) from error
    x_key, label_key = _select_features(info.features.keys())
    feature = info.features[x_key]
    label = info.features[label_key] if label_key else None
    description = (info.description or tfds_name).strip().splitlines()
    return {
        "event_shape": tuple(feature.shape),
        "kind": "image" if isinstance(feature, tfds.features.Image) else "vector",
        "num_classes": getattr(label, "num_classes", None),
        "num_levels": 256 if feature.dtype == np.uint8 else None,
        "splits": tuple(info.splits.keys()),
        "description": description[0] if description else tfds_name,
    }


def tfds_dataset(tfds_name, split, data_dir=None, download=False):
    """A TFDS split as a tf.data.Dataset of (x, y): x in its stored dtype, y int64 (-1 if unlabelled).

    Arguments:
      tfds_name: TFDS name with optional config and version, e.g. "mnist", "mnist:3.0.1".
      split: any TFDS split expression, e.g. "train" or "train[:1000]".
      data_dir: TFDS data directory (None = TFDS default).
      download: let TFDS download and prepare the data (needs network).

    Returns:
      (dataset, has_labels)
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        ds = tfds.load(tfds_name, split=split, data_dir=data_dir, download=download, shuffle_files=False)
    except _TFDS_FAILURES as error:
        raise _how_to_get(tfds_name, data_dir, error) from error
    x_key, label_key = _select_features(ds.element_spec.keys())

    def to_pair(example):
        y = tf.cast(example[label_key], tf.int64) if label_key else tf.constant(-1, tf.int64)
        return example[x_key], y

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE), label_key is not None


def tfds_arrays(tfds_name, split, data_dir=None, download=False):
    """A whole TFDS split as NumPy arrays (x in its stored dtype, y int64 or None)."""
    ds, has_labels = tfds_dataset(tfds_name, split, data_dir, download)
    xs, ys = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DatasetError(f"TFDS split '{split}' of '{tfds_name}' is empty: expected at least one example")
    return np.concatenate(xs), (np.concatenate(ys).astype(np.int64) if has_labels else None)
