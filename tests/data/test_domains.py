"""Two-domain couples: left halves are sneakers, right halves ankle boots, unpaired."""

import numpy as np

from tfdgm.data import dataset_info, load_arrays
from tfdgm.data.domains import split_couples


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
