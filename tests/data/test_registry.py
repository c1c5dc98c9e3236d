"""Dataset registry: names, metadata, splits, raw sources, TFDS passthrough and error messages."""

import gzip
import os
import struct

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.data import DatasetError, dataset_info, list_datasets, load, load_arrays
from tfdgm.data import sources, toy2d



def _has_fashion_mnist_files():
    directory = os.environ.get("TFDGM_FASHION_MNIST_DIR") or sources.FASHION_MNIST_DIR
    return all(sources._find_idx(directory, stem) for stem in sources._FASHION_MNIST_FILES.values())


needs_fashion_mnist = pytest.mark.skipif(
    not _has_fashion_mnist_files(),
    reason=f"Fashion-MNIST IDX files absent from {sources.FASHION_MNIST_DIR} "
           f"(install with `sudo apt-get install dataset-fashion-mnist`)")


def _write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    payload = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(payload)


def test_list_datasets_is_the_sorted_registry():
    names = list_datasets()
    assert names == sorted(names)
    assert {"8gaussians", "checkerboard", "digits", "fashion_mnist", "moons", "pinwheel", "rings",
            "spirals", "fortunes", "speech", "pointcloud_digits"} <= set(names)


def test_metadata_describes_the_arrays():
    for name in list_datasets():
        if name == "fashion_mnist" and not _has_fashion_mnist_files():
            continue
        info = dataset_info(name)
        try:
            x, y = load_arrays(name, "validation")
        except DatasetError as error:  # a source this machine has not installed
            if "install" in str(error):
                continue
            raise
        assert x.dtype == np.float32 and x.shape[1:] == info.event_shape
        assert info.splits == ("train", "validation", "test") and info.description
        if info.num_levels is not None:  # integer levels 0..num_levels-1 in the original data space
            assert x.min() >= 0 and x.max() <= info.num_levels - 1 and np.all(x == np.round(x))
            if info.kind == "image":  # every grey level range is used in full
                assert x.min() == 0 and x.max() == info.num_levels - 1
        if info.num_classes is None:
            assert y is None
        else:
            assert y.dtype == np.int64 and set(np.unique(y)) == set(range(info.num_classes))
    assert dataset_info("fashion_mnist").num_levels == 256 and dataset_info("digits").num_levels == 17
    assert dataset_info("moons").num_levels is None and dataset_info("moons").kind == "vector"


def test_digits_splits_partition_the_1797_images_as_documented():
    from sklearn.datasets import load_digits

    parts = [load_arrays("digits", split) for split in ("train", "validation", "test")]
    assert [len(x) for x, _ in parts] == [1257, 270, 270]
    # Together the splits are exactly the sklearn set (a multiset of (image, label) rows): disjoint, complete.
    ours = sorted(x.astype(np.uint8).tobytes() + bytes([label]) for xs, ys in parts for x, label in zip(xs, ys))
    digits = load_digits()
    reference = sorted(x.astype(np.uint8).tobytes() + bytes([label])
                       for x, label in zip(digits.images[..., None], digits.target))
    assert ours == reference


@needs_fashion_mnist
def test_fashion_mnist_splits_are_the_official_files_cut_50k_10k_10k():
    directory = os.environ.get("TFDGM_FASHION_MNIST_DIR") or sources.FASHION_MNIST_DIR
    train_x, train_y = load_arrays("fashion_mnist", "train")
    valid_x, valid_y = load_arrays("fashion_mnist", "validation")
    test_x, test_y = load_arrays("fashion_mnist", "test")
    assert (len(train_x), len(valid_x), len(test_x)) == (50_000, 10_000, 10_000)
    official = sources.read_idx(sources._find_idx(directory, "train-images-idx3-ubyte"))
    np.testing.assert_array_equal(np.concatenate([train_x, valid_x])[..., 0], official)
    official_test = sources.read_idx(sources._find_idx(directory, "t10k-images-idx3-ubyte"))
    np.testing.assert_array_equal(test_x[..., 0], official_test)
    for x, y in ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)):
        assert x.min() == 0 and x.max() == 255 and np.all(x == np.round(x))  # uint8 levels
        assert set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize("compress", [True, False])
def test_idx_reader_round_trips_gzip_and_plain_files(tmp_path, compress):
    images = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    labels = np.array([7, -1, 70000], dtype=">i4")
    _write_idx(tmp_path / "images", images, compress)
    _write_idx(tmp_path / "labels", labels, compress)
    np.testing.assert_array_equal(sources.read_idx(tmp_path / "images"), images)
    np.testing.assert_array_equal(sources.read_idx(tmp_path / "labels"), [7, -1, 70000])


@pytest.mark.parametrize("corruption, message", [
    # Named ids and mtime=0: ids made from the gzip bytes held the clock, and ids that
    # differ between the two xdist workers (collecting in different seconds) abort the run.
    (b"\x08\x03\x00\x00" + bytes(20), "magic"),                          # bad magic number
    (bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 2, 2) + bytes(5), "dims"),  # fewer bytes than the header says
    (gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]), mtime=0)[:-9], "cannot read"),  # truncated gzip
], ids=["magic", "dims", "truncated-gzip"])
def test_corrupt_idx_file_raises(tmp_path, corruption, message):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(corruption)
    with pytest.raises(DatasetError, match=message):
        sources.read_idx(path)
    for stem in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(corruption)
    with pytest.raises(DatasetError, match=message):  # corrupt files are reported, not silently skipped
        load_arrays("fashion_mnist", data_dir=str(tmp_path))


def test_missing_fashion_mnist_raises_with_how_to(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist") as error:
        load_arrays("fashion_mnist", data_dir=str(tmp_path))
    assert str(tmp_path) in str(error.value)


def test_load_yields_model_space_examples_in_order():
    x, y = load_arrays("moons")
    batches = list(load("moons", batch_size=4, num_examples=10, with_labels=True))
    assert [b[0].shape.as_list() for b in batches] == [[4, 2], [4, 2], [2, 2]]
    assert batches[0][0].dtype == tf.float32 and batches[0][1].dtype == tf.int64
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x[:10])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y[:10])
    assert len(list(load("moons", batch_size=4, num_examples=10, drop_remainder=True))) == 2
    assert load("digits", num_examples=3).element_spec.shape == (8, 8, 1)


def test_shuffle_is_a_permutation_reproducible_from_the_seed():
    def order(seed):
        return np.concatenate(list(load("rings", shuffle=True, seed=seed, num_examples=100, batch_size=100)))

    first, again, other = order(0), order(0), order(1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    unshuffled = load_arrays("rings")[0][:100]
    assert not np.array_equal(first, unshuffled)
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(unshuffled, axis=0))


def test_unknown_name_raises_listing_the_names():
    with pytest.raises(DatasetError, match="expected one of 8gaussians, checkerboard, digits"):
        load_arrays("mnist")
    with pytest.raises(DatasetError, match="tfds:NAME"):
        dataset_info("tfds:")


def test_unknown_split_raises_listing_the_splits():
    with pytest.raises(DatasetError, match="expected one of train, validation, test"):
        load("moons", split="valid")


def test_bad_load_arguments_raise():
    with pytest.raises(DatasetError, match="no labels"):
        load("checkerboard", with_labels=True)
    with pytest.raises(DatasetError, match="batch_size: expected a positive integer"):
        load("moons", batch_size=0)
    with pytest.raises(DatasetError, match="num_examples: expected a positive integer"):
        load("moons", num_examples=2.5)


def test_non_finite_or_empty_data_raise(monkeypatch):
    monkeypatch.setattr(toy2d, "_generate", lambda name, split: (np.array([[0.0, np.nan]], np.float32), None))
    with pytest.raises(DatasetError, match="NaN or inf"):
        load_arrays("moons")
    monkeypatch.setattr(toy2d, "_generate", lambda name, split: (np.zeros([0, 2], np.float32), None))
    with pytest.raises(DatasetError, match="empty"):
        load("moons", split="test")


def test_tfds_mnist_loads_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        info = dataset_info("tfds:mnist")
        assert (info.event_shape, info.kind) == ((28, 28, 1), "image")
        assert (info.num_classes, info.num_levels) == (10, 256)
        x, y = next(iter(load("tfds:mnist", split="train", batch_size=6, with_labels=True, preprocess="binarize")))
        assert x.shape == (6, 28, 28, 1) and x.dtype == tf.float32 and y.dtype == tf.int64
        assert set(np.unique(x)) <= {0.0, 1.0} and set(np.unique(y)) <= set(range(10))
        arrays, labels = load_arrays("tfds:mnist:3.0.1", split="test")
        assert arrays.shape == (6, 28, 28, 1) and arrays.dtype == np.float32 and labels.dtype == np.int64
        assert arrays.min() >= 0 and arrays.max() <= 255
        # The scale step maps the uint8 levels 0..255 onto [0, 1].
        scaled = np.concatenate(list(load("tfds:mnist", split="test", preprocess="scale", batch_size=6)))
        assert scaled.min() >= 0.0 and scaled.max() <= 1.0


def test_unprepared_tfds_dataset_raises_with_how_to(tmp_path):
    with pytest.raises(DatasetError, match="tfds build mnist"):
        load("tfds:mnist", data_dir=str(tmp_path))
    with pytest.raises(DatasetError, match="not available"):
        dataset_info("tfds:no_such_dataset_xyz")


def test_download_reaches_tfds_when_fashion_mnist_files_are_missing(tmp_path, monkeypatch):
    from tfdgm.data import sources

    calls = []

    def fake_tfds_arrays(name, split, data_dir, download):
        calls.append((name, split, data_dir, download))
        if not download:
            raise sources.DatasetError("not prepared")
        return np.zeros([60_000 if split == "train" else 10_000, 28, 28, 1], np.uint8), np.zeros(
            [60_000 if split == "train" else 10_000], np.int64)

    monkeypatch.setattr(sources, "tfds_arrays", fake_tfds_arrays)
    sources._fashion_mnist_from_tfds.cache_clear()
    empty = str(tmp_path)
    with pytest.raises(DatasetError, match=r"download=True"):
        load("fashion_mnist", data_dir=empty)
    x = next(iter(load("fashion_mnist", data_dir=empty, download=True, batch_size=4)))
    assert x.shape == (4, 28, 28, 1)
    assert calls[-1] == ("fashion_mnist", "test", empty, True) and calls[0][3] is False
    sources._fashion_mnist_from_tfds.cache_clear()
