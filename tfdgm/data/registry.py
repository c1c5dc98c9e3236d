"""Dataset registry: names and metadata, arrays in data space, tf.data pipelines in model space."""

import dataclasses
import functools
import inspect
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from tfdgm.data import sources, text, tfds_source, toy2d
from tfdgm.data import audio
from tfdgm.data.errors import DatasetError
from tfdgm.data.preprocess import parse_preprocessing

__all__ = ["DatasetInfo", "list_datasets", "dataset_info", "load_arrays", "load", "vocabulary"]

SPLITS = ("train", "validation", "test")
_TFDS_PREFIX = "tfds:"
_TFDS_SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Arguments:
      name: registry name ("fashion_mnist", "moons", "tfds:mnist", ...).
      event_shape: shape of one example: (H, W, C) for images, (2,) for toy sets.
      kind: "image", "vector", "counts" (bags of words), "audio" (mu-law levels)
        or "pointcloud".
      num_classes: number of label values, None if unlabelled.
      num_levels: number of integer levels (256 for 8-bit images, 17 for digits with
        values 0..16), None for continuous data.
      splits: split names ("train", "validation", "test" for registered sets).
      description: one line.
    """

    name: str
    event_shape: Tuple[Optional[int], ...]
    kind: str
    num_classes: Optional[int]
    num_levels: Optional[int]
    splits: Tuple[str, ...] = SPLITS
    description: str = ""


_REGISTRY = {
    "fashion_mnist": (
        DatasetInfo("fashion_mnist", (28, 28, 1), "image", 10, 256, SPLITS,
                    "Zalando Fashion-MNIST 28x28 grey images of 10 clothing classes (50k/10k/10k)"),
        sources.fashion_mnist_split),
    "digits": (
        DatasetInfo("digits", (8, 8, 1), "image", 10, 17, SPLITS,
                    "scikit-learn 8x8 handwritten digits, levels 0..16 (1257/270/270, permuted with seed 0)"),
        sources.digits_split),
    "fortunes": (
        DatasetInfo("fortunes", (text.FORTUNES_VOCABULARY,), "counts", None, None, SPLITS,
                    "word counts of Debian's fortunes-min corpus, 1000-word vocabulary (80/10/10 split)"),
        text.fortunes_split),
    "speech": (
        DatasetInfo("speech", (audio.WINDOW,), "audio", len(audio.VOICES), 256, SPLITS,
                    "espeak-ng speech, 4 voices, 16 kHz mu-law 256 levels, 4096-sample windows (data_dir: any WAV folder)"),
        audio.speech_split),
    **{name: (DatasetInfo(name, (2,), "vector", num_classes, None, SPLITS, description),
              functools.partial(toy2d.toy_split, name))
       for name, (_, num_classes, description) in toy2d.TOY_DATASETS.items()},
}

# Adversarial-family datasets: point clouds from images, two-domain couples (CycleGAN).
from tfdgm.data import domains, pointcloud  # noqa: E402

_REGISTRY.update({name: (DatasetInfo(name, splits=SPLITS, **fields), loader)
                  for name, (fields, loader) in {**pointcloud.DATASETS, **domains.DATASETS}.items()})


def list_datasets():
    """Sorted names of the registered datasets ("tfds:NAME" is accepted by `load` but not listed)."""
    return sorted(_REGISTRY)


#: Word lists of the "counts" datasets (column order of their count vectors).
_VOCABULARIES = {"fortunes": text.fortunes_vocabulary}


def vocabulary(name, data_dir=None):
    """The words of a bag-of-words dataset's columns, or None when `name` has none."""
    return _VOCABULARIES[name](data_dir) if name in _VOCABULARIES else None


def _tfds_name(name):
    """The TFDS part of "tfds:NAME[:VERSION]", or None for a registry name."""
    if not isinstance(name, str):
        raise DatasetError(f"dataset name: expected a string, got {type(name).__name__}")
    if not name.startswith(_TFDS_PREFIX):
        return None
    tfds_name = name[len(_TFDS_PREFIX):].strip()
    if not tfds_name:
        raise DatasetError(f"dataset name {name!r}: expected 'tfds:NAME' or 'tfds:NAME:VERSION'")
    return tfds_name


def _entry(name):
    if name not in _REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}: expected one of {', '.join(list_datasets())}, "
                           f"or 'tfds:NAME' for a TensorFlow Datasets name")
    return _REGISTRY[name]


def dataset_info(name, data_dir=None):
    """The DatasetInfo of a registered name or of "tfds:NAME" (read from the TFDS builder).

    Arguments:
      name: a name from `list_datasets()` or "tfds:NAME[:VERSION]".
      data_dir: TFDS data directory (tfds names only).
    """
    tfds_name = _tfds_name(name)
    if tfds_name is None:
        return _entry(name)[0]
    if domains.is_tfds_two_domain(tfds_name):  # CycleGAN sets: couples [A | B]
        return DatasetInfo(name=name, splits=SPLITS, **domains.tfds_couples_info(tfds_name, data_dir))
    return DatasetInfo(name=name, **tfds_source.tfds_info(tfds_name, data_dir))


def _raw_arrays(name, split, data_dir, download=False):
    """Checked arrays of a registered split in their stored dtype (read-only; not copied).
    `download` reaches the loaders with a TFDS fallback (Fashion-MNIST)."""
    info, loader = _entry(name)
    if split not in info.splits:
        raise DatasetError(f"dataset {name!r} has no split {split!r}: "
                           f"expected one of {', '.join(info.splits)}")
    takes_download = "download" in inspect.signature(loader).parameters
    x, y = loader(split, data_dir, download=download) if takes_download else loader(split, data_dir)
    _check_arrays(name, split, x, y)
    return x, y


def _check_arrays(name, split, x, y):
    if len(x) == 0:
        raise DatasetError(f"split {split!r} of {name!r} is empty: expected at least one example")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise DatasetError(f"split {split!r} of {name!r} contains NaN or inf: expected finite values")
    if y is not None and len(y) != len(x):
        raise DatasetError(f"split {split!r} of {name!r}: expected one label per example, "
                           f"got {len(y)} labels for {len(x)} examples")


def load_arrays(name, split="train", data_dir=None, download=False):
    """One split as NumPy arrays in the ORIGINAL data space (no preprocessing).

    Arguments:
      name: a name from `list_datasets()` or "tfds:NAME[:VERSION]".
      split: "train", "validation" or "test" (any TFDS split expression for tfds names).
      data_dir: directory with the raw files (Fashion-MNIST IDX files, or TFDS data).
      download: let TFDS download missing data (tfds names, and Fashion-MNIST when its
        IDX files are missing; needs network).

    Returns:
      x: [N, *event_shape] float32 (0..255 for fashion_mnist, 0..16 for digits), a copy.
      y: [N] int64 labels, or None for unlabelled sets.
    """
    tfds_name = _tfds_name(name)
    if tfds_name is None:
        x, y = _raw_arrays(name, split, data_dir, download)
    elif domains.is_tfds_two_domain(tfds_name):
        batches = [batch for batch, _ in domains.tfds_couples(tfds_name, split, data_dir, download).batch(256)
                   .as_numpy_iterator()]
        x, y = (np.concatenate(batches) if batches else np.zeros([0, *dataset_info(name).event_shape])), None
        _check_arrays(name, split, x, y)
    else:
        x, y = tfds_source.tfds_arrays(tfds_name, split, data_dir, download)
        _check_arrays(name, split, x, y)
    return np.array(x, dtype=np.float32), (None if y is None else np.array(y, dtype=np.int64))


def _positive_int(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"{what}: expected a positive integer or None, got {value!r}")
    return int(value)


def load(name, split="train", preprocess=None, batch_size=None, shuffle=False, with_labels=False, seed=0,
         num_examples=None, data_dir=None, drop_remainder=False, download=False):
    """A tf.data pipeline of one split in model space.

    Order: first `num_examples` of the split, enumerate (the index drives static
    binarization), shuffle (buffer = whole split, 10,000 for tfds names; reshuffled each
    epoch from `seed`), batch, preprocess (per batch; fresh noise per epoch,
    reproducible from `seed`), prefetch(AUTOTUNE).

    Arguments:
      name: a name from `list_datasets()` or "tfds:NAME[:VERSION]".
      split: "train", "validation" or "test" (any TFDS split expression for tfds names).
      preprocess: None, a spec string ("dequantize,scale,logit"), a list of steps, or a
        Preprocessing; parsed with `parse_preprocessing(preprocess, dataset_info(name))`.
      batch_size: examples per batch, None for unbatched examples.
      shuffle: shuffle the examples.
      with_labels: yield (x, y) instead of x.
      seed: integer seed of the shuffle and of the preprocessing noise.
      num_examples: keep only the first N examples of the split.
      data_dir: directory with the raw files (Fashion-MNIST IDX files, or TFDS data).
      drop_remainder: drop the last incomplete batch.
      download: let TFDS download missing data (tfds names, and Fashion-MNIST when its
        IDX files are missing; needs network).

    Returns:
      tf.data.Dataset of x: [batch, *event_shape] float32, or of (x, y) with y: [batch] int64.
    """
    info = dataset_info(name, data_dir=data_dir)
    pipeline = parse_preprocessing(preprocess, info)
    batch_size = _positive_int(batch_size, "batch_size")
    num_examples = _positive_int(num_examples, "num_examples")
    tfds_name = _tfds_name(name)
    if tfds_name is None:
        x, y = _raw_arrays(name, split, data_dir, download)
        has_labels = y is not None
        x = x[:num_examples]
        y = y[:num_examples] if has_labels else np.full(len(x), -1, np.int64)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        buffer_size = len(x)
    else:
        if domains.is_tfds_two_domain(tfds_name):
            ds, has_labels = domains.tfds_couples(tfds_name, split, data_dir, download), False
            buffer_size = domains.TFDS_SHUFFLE_BUFFER
        else:
            ds, has_labels = tfds_source.tfds_dataset(tfds_name, split, data_dir, download)
            buffer_size = _TFDS_SHUFFLE_BUFFER
        if num_examples is not None:
            ds = ds.take(num_examples)
    if with_labels and not has_labels:
        raise DatasetError(f"with_labels=True: expected a labelled dataset, {name!r} has no labels")

    ds = ds.enumerate()
    if shuffle:
        ds = ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:  # preprocess whole batches: vectorized noise, one map call per batch
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def prepare(index, example, noise_seed=None):
        x, y = example
        noise_seed = None if noise_seed is None else tf.stack([noise_seed, index if batch_size is None else 0])
        x = pipeline(x, index=index, seed=noise_seed)
        return (x, y) if with_labels else x

    if pipeline.is_random:
        noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, noise_seeds).map(
            lambda element, noise_seed: prepare(*element, noise_seed),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
