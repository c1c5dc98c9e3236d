"""Two-domain unpaired data for translation models (CycleGAN).

An example is a couple (a, b) of one image from domain A and one from domain
B placed side by side, [a | b] of shape (H, 2W, C). The couples are UNPAIRED:
B's images are permuted with a fixed seed, so a and b are unrelated beyond
their domains. "fashion_mnist_sneakers_boots": A = Fashion-MNIST sneakers
(class 7), B = ankle boots (class 9); each split holds min(|A|, |B|) couples.
TFDS CycleGAN sets give the same layout through the data layer:
`load("tfds:cycle_gan/horse2zebra")` yields couples [horse | zebra] of
256x256 RGB images (`tfds_couples`) where TFDS has the data.

References:
  Zhu et al., ICCV 2017 (unpaired domains); Xiao et al. 2017 (Fashion-MNIST).
"""

import functools
import zlib

import numpy as np

from tfdgm.data import sources
from tfdgm.data.errors import DatasetError

__all__ = ["couples_from_domains", "split_couples", "is_tfds_two_domain", "tfds_couples_info", "tfds_couples",
           "DATASETS"]

_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}


def couples_from_domains(images_a, images_b, rng):
    """Unpaired couples [a | b]: [min(n_a, n_b), H, 2W, C]; B is permuted by `rng`."""
    count = min(len(images_a), len(images_b))
    order = rng.permutation(len(images_b))[:count]
    return np.concatenate([np.asarray(images_a[:count]), np.asarray(images_b)[order]], axis=2)


def split_couples(couples):
    """[n, H, 2W, C] -> (a [n, H, W, C], b [n, H, W, C])."""
    width = couples.shape[2] // 2
    return couples[:, :, :width], couples[:, :, width:]


@functools.lru_cache(maxsize=4)
def _fashion_couples(class_a, class_b, split, data_dir):
    x, y = sources.fashion_mnist_split(split, data_dir)
    rng = np.random.default_rng([zlib.crc32(f"fashion_mnist_{class_a}_{class_b}".encode()), _SPLIT_INDEX[split]])
    couples = couples_from_domains(x[y == class_a], x[y == class_b], rng)
    couples.setflags(write=False)
    return couples, None


def _sneakers_boots(split, data_dir=None):
    return _fashion_couples(7, 9, split, data_dir)


#: TFDS builders whose splits are two unpaired domains: trainA/trainB, testA/testB.
TFDS_TWO_DOMAIN_BUILDERS = ("cycle_gan",)
#: Side of the square images of a TFDS two-domain set (the CycleGAN sets' 256x256).
TFDS_IMAGE_SIZE = 256
#: Shuffle buffer of TFDS couples (a 256x512x3 couple is 393 kB: 256 of them hold 100 MB).
TFDS_SHUFFLE_BUFFER = 256
_TFDS_PARTS = {"train": "train", "validation": "test", "test": "test"}


def is_tfds_two_domain(tfds_name):
    """True for a TFDS name such as "cycle_gan/horse2zebra" or "cycle_gan/horse2zebra:2.0.0"."""
    return tfds_name.split("/")[0].split(":")[0] in TFDS_TWO_DOMAIN_BUILDERS


def tfds_couples_info(tfds_name, data_dir=None):
    """DatasetInfo fields of the couples of a TFDS two-domain set (checks the name with TFDS, no data needed)."""
    from tfdgm.data.tfds_source import tfds_info

    tfds_info(tfds_name, data_dir)  # an unknown name raises DatasetError with a how-to
    size = TFDS_IMAGE_SIZE
    return dict(event_shape=(size, 2 * size, 3), kind="image", num_classes=None, num_levels=256,
                description=f"unpaired couples [A | B] of TFDS {tfds_name} ({size}x{size} RGB per domain; "
                            f"validation = test: the set has no validation split)")


def tfds_couples(tfds_name="cycle_gan/horse2zebra", split="train", data_dir=None, download=False,
                 size=TFDS_IMAGE_SIZE):
    """Couples [a | b] of a TFDS two-domain set as a tf.data.Dataset of (couple, -1).

    Split "train" zips TFDS "trainA" with "trainB"; "test" (and "validation",
    which these sets lack) zips "testA" with "testB"; the shorter domain sets
    the number of couples. The two splits hold unrelated photos (horses,
    zebras), so zipping them in order pairs nothing: the couples are unpaired.
    Every image is resized to size x size (area-averaging when shrinking;
    the identity on the 256x256 CycleGAN sets) and kept as uint8 levels 0..255.

    Arguments:
      tfds_name: e.g. "cycle_gan/horse2zebra".
      split: "train", "validation" or "test".
      data_dir, download: as `tfdgm.data.load` (TFDS data directory; let TFDS download).
      size: image side.
    Returns:
      dataset of (uint8 [size, 2 size, 3], int64 -1).
    Raises:
      DatasetError: a bad split, or TFDS cannot find the data (with how to get it).
    """
    import tensorflow as tf

    from tfdgm.data.tfds_source import tfds_dataset

    if split not in _TFDS_PARTS:
        raise DatasetError(f"TFDS two-domain set {tfds_name!r}: expected split 'train', 'validation' or 'test', "
                           f"got {split!r}")
    part = _TFDS_PARTS[split]

    def square(image, label):
        image = tf.image.resize(image, (size, size), method="area")
        return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)

    a, _ = tfds_dataset(tfds_name, part + "A", data_dir, download)
    b, _ = tfds_dataset(tfds_name, part + "B", data_dir, download)
    a, b = a.map(square, num_parallel_calls=tf.data.AUTOTUNE), b.map(square, num_parallel_calls=tf.data.AUTOTUNE)
    return tf.data.Dataset.zip(a, b).map(lambda x_a, x_b: (tf.concat([x_a, x_b], axis=1), tf.constant(-1, tf.int64)))


# name -> (DatasetInfo fields after the name, loader(split, data_dir) -> (x, y))
DATASETS = {
    "fashion_mnist_sneakers_boots": (
        dict(event_shape=(28, 56, 1), kind="image", num_classes=None, num_levels=256,
             description="unpaired couples [sneaker | ankle boot] of Fashion-MNIST images (CycleGAN domains)"),
        _sneakers_boots),
}
