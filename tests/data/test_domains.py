"""Two-domain couples: sneakers | ankle boots, unpaired; TFDS CycleGAN sets (horse2zebra) as couples."""

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.data import DatasetError, dataset_info, load, load_arrays, parse_preprocessing
from tfdgm.data.domains import split_couples
from tfdgm.models import CycleGAN


def test_sneakers_boots_couples_hold_the_two_classes_unpaired():
    info = dataset_info("fashion_mnist_sneakers_boots")
    couples, labels = load_arrays("fashion_mnist_sneakers_boots", "test")
    assert labels is None and couples.shape[1:] == info.event_shape == (28, 56, 1)
    a, b = split_couples(couples)
    images, classes = load_arrays("fashion_mnist", "test")
    sneakers, boots = images[classes == 7], images[classes == 9]
    assert len(couples) == min(len(sneakers), len(boots))
    np.testing.assert_array_equal(a, sneakers[: len(a)])
    # B holds ankle boots, in a fixed permuted order (not the source order).
    boot_keys = {img.tobytes() for img in boots}
    assert all(img.tobytes() in boot_keys for img in b)
    assert not np.array_equal(b, boots[: len(b)])
    np.testing.assert_array_equal(couples, load_arrays("fashion_mnist_sneakers_boots", "test")[0])


def test_tfds_cycle_gan_sets_load_as_couples_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=3):
        info = dataset_info("tfds:cycle_gan/horse2zebra")
        assert (info.event_shape, info.kind, info.num_classes, info.num_levels) == ((256, 512, 3), "image", None, 256)
        assert info.splits == ("train", "validation", "test")
        couples = next(iter(load("tfds:cycle_gan/horse2zebra", batch_size=3, preprocess="scale")))
        assert couples.shape == (3, 256, 512, 3) and 0.0 <= float(tf.reduce_min(couples)) <= float(tf.reduce_max(couples)) <= 1.0
        arrays, labels = load_arrays("tfds:cycle_gan/horse2zebra", "test")
        assert arrays.shape == (3, 256, 512, 3) and labels is None and arrays.max() <= 255
        # Left halves come from TFDS "testA", right halves from "testB", each resized to 256x256.
        a, b = split_couples(arrays)
        for part, half in (("testA", a), ("testB", b)):
            for image, expected in zip(tfds.load("cycle_gan/horse2zebra", split=part), half):
                resized = tf.image.resize(image["image"], (256, 256), method="area")
                np.testing.assert_array_equal(np.clip(np.round(resized.numpy()), 0, 255), expected)
        # A CycleGAN takes the couples as they come (one step, tiny players).
        model = CycleGAN(event_shape=info.event_shape, base_filters=2, num_residual_blocks=1,
                         data_transform=parse_preprocessing("scale", info))
        model.compile(jit_compile=False)  # the data plumbing is under test here, not XLA (tested elsewhere)
        history = model.fit(load("tfds:cycle_gan/horse2zebra", batch_size=3, preprocess="scale"), verbose=0)
        assert np.isfinite(history.history["cycle_loss"][0])
        with pytest.raises(DatasetError, match="expected split 'train', 'validation' or 'test'"):
            load("tfds:cycle_gan/horse2zebra", split="trainA")


def test_unprepared_cycle_gan_set_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match=r"tfds build cycle_gan/horse2zebra"):
        load("tfds:cycle_gan/horse2zebra", data_dir=str(tmp_path))
    with pytest.raises(DatasetError, match="not available"):
        dataset_info("tfds:cycle_gan/no_such_pair")
