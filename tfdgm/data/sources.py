"""Raw data sources: Fashion-MNIST IDX files (with a TFDS fallback) and scikit-learn's 8x8 digits."""

import functools
import gzip
import os
import struct
import zlib

import numpy as np

from tfdgm.data.errors import DatasetError
from tfdgm.data.tfds_source import tfds_arrays

__all__ = [
    "FASHION_MNIST_DIR",
    "read_idx",
    "fashion_mnist_split",
    "digits_split",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian package `dataset-fashion-mnist`
_FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_FASHION_MNIST_NUM_TRAIN = 50_000  # the last 10,000 of the official train set are "validation"
# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_DIGITS_SIZES = (1257, 270, 270)  # train, validation, test after a fixed permutation (seed 0)


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_idx(path):
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code, the number of dimensions, then each
    dimension as a big-endian uint32; the data follow in row-major big-endian order.

    References:
      LeCun et al. (1998), the MNIST database: http://yann.lecun.com/exdb/mnist/

    Arguments:
      path: file path; compression is detected from the gzip magic bytes, not the name.

    Returns:
      np.ndarray of the stored dtype (native byte order) and dimensions.

    Raises:
      DatasetError: unreadable or truncated gzip, bad magic number, or a data size
        that does not match the dimensions in the header.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"cannot read IDX file {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DatasetError(
            f"corrupt IDX file {path}: expected magic bytes 00 00 <type in "
            f"{sorted(_IDX_DTYPES)}> <ndim >= 1>, got {raw[:4].hex(' ') or 'an empty file'}")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetError(f"corrupt IDX file {path}: header of {ndim} dimensions is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise DatasetError(
            f"corrupt IDX file {path}: header says dims {dims} ({expected} bytes of data), "
            f"file holds {len(raw) - header_size} bytes")
    return np.frombuffer(raw, dtype, offset=header_size).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory, stem):
    for candidate in (stem + ".gz", stem):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


@functools.lru_cache(maxsize=4)
def _fashion_mnist_from_idx(directory):
    """{"train": (x, y), "test": (x, y)} decoded from the four IDX files, read-only arrays."""
    arrays = {key: read_idx(_find_idx(directory, stem)) for key, stem in _FASHION_MNIST_FILES.items()}
    result = {}
    for part, expected_n in (("train", 60_000), ("test", 10_000)):
        images, labels = arrays[part + "_images"], arrays[part + "_labels"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DatasetError(f"Fashion-MNIST {part} images in {directory}: expected uint8 "
                               f"[n, 28, 28], got {images.dtype} {list(images.shape)}")
        if labels.dtype != np.uint8 or labels.shape != (images.shape[0],) or labels.max(initial=0) > 9:
            raise DatasetError(f"Fashion-MNIST {part} labels in {directory}: expected uint8 "
                               f"[{images.shape[0]}] in 0..9, got {labels.dtype} {list(labels.shape)}")
        if images.shape[0] != expected_n:
            raise DatasetError(f"Fashion-MNIST {part} in {directory}: expected {expected_n} examples, "
                               f"got {images.shape[0]}")
        result[part] = (images[..., None], labels.astype(np.int64))
    for x, y in result.values():
        x.setflags(write=False)
        y.setflags(write=False)
    return result


@functools.lru_cache(maxsize=4)
def _fashion_mnist_from_tfds(data_dir, download):
    result = {}
    for part in ("train", "test"):
        x, y = tfds_arrays("fashion_mnist", part, data_dir, download=download)
        x.setflags(write=False)
        y.setflags(write=False)
        result[part] = (x, y)
    return result


def fashion_mnist_split(split, data_dir=None, download=False):
    """Fashion-MNIST arrays of one split: uint8 images [n, 28, 28, 1] and int64 labels [n].

    Splits: "train" = the first 50,000 of the official training set, "validation" =
    its last 10,000, "test" = the official 10,000 test images.

    Sources, in order: (1) the IDX files of Debian's `dataset-fashion-mnist` in
    `data_dir`, else $TFDGM_FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist;
    (2) TFDS's `fashion_mnist`, prepared already or, with `download=True`,
    downloaded and prepared now (TFDS stores examples in its own order, so the
    train/validation cut differs from the IDX one).
    Decoded arrays are cached in-process.

    References:
      Xiao, Rasul and Vollgraf (2017), Fashion-MNIST, arXiv:1708.07747.

    Arguments:
      split: "train", "validation" or "test".
      data_dir: directory with the IDX files (also passed to TFDS as its data_dir).
      download: let TFDS download the data if neither source has them (needs network).
    """
    directory = data_dir or os.environ.get("TFDGM_FASHION_MNIST_DIR") or FASHION_MNIST_DIR
    if all(_find_idx(directory, stem) for stem in _FASHION_MNIST_FILES.values()):
        parts = _fashion_mnist_from_idx(os.path.abspath(directory))
    else:
        try:
            parts = _fashion_mnist_from_tfds(data_dir, bool(download))
        except DatasetError as error:
            raise DatasetError(
                f"Fashion-MNIST not found: expected the IDX files "
                f"{', '.join(s + '[.gz]' for s in _FASHION_MNIST_FILES.values())} in {directory} "
                f"(set by data_dir, else $TFDGM_FASHION_MNIST_DIR, else {FASHION_MNIST_DIR}), "
                f"and TFDS has no prepared 'fashion_mnist' ({_first_line(error.__cause__ or error)}). "
                f"Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
                f"or let TFDS download them with network: tfdgm.data.load('fashion_mnist', download=True) "
                f"(`tfdgm train ... --download`).") from None
    if split == "test":
        return parts["test"]
    x, y = parts["train"]
    cut = slice(None, _FASHION_MNIST_NUM_TRAIN) if split == "train" else slice(_FASHION_MNIST_NUM_TRAIN, None)
    return x[cut], y[cut]


@functools.lru_cache(maxsize=1)
def _digits_permuted():
    from sklearn.datasets import load_digits  # ships inside the scikit-learn wheel; no network

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    x = digits.images[order].astype(np.uint8)[..., None]  # integer levels 0..16
    y = digits.target[order].astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def digits_split(split, data_dir=None):
    """scikit-learn's 1,797 8x8 digits (levels 0..16): uint8 [n, 8, 8, 1] and int64 labels [n].

    The images are permuted once with `np.random.default_rng(0).permutation`, then cut
    into 1,257 train / 270 validation / 270 test examples.

    References:
      Alpaydin and Kaynak (1998), UCI Optical Recognition of Handwritten Digits.

    Arguments:
      split: "train", "validation" or "test".
      data_dir: ignored (the data ship with scikit-learn).
    """
    del data_dir
    x, y = _digits_permuted()
    start = {"train": 0, "validation": _DIGITS_SIZES[0], "test": sum(_DIGITS_SIZES[:2])}[split]
    stop = start + _DIGITS_SIZES[("train", "validation", "test").index(split)]
    return x[start:stop], y[start:stop]
