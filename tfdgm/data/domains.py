"""Two-domain unpaired data for translation models (CycleGAN).

An example is a couple (a, b) of one image from domain A and one from domain
B placed side by side, [a | b] of shape (H, 2W, C). The couples are UNPAIRED:
B's images are permuted with a fixed seed, so a and b are unrelated beyond
their domains. "fashion_mnist_sneakers_boots": A = Fashion-MNIST sneakers
(class 7), B = ankle boots (class 9); each split holds min(|A|, |B|) couples.
`tfds_couples("cycle_gan/horse2zebra", ...)` builds the same layout from a
TFDS CycleGAN set where TFDS can reach it.

References:
  Zhu et al., ICCV 2017 (unpaired domains); Xiao et al. 2017 (Fashion-MNIST).
"""

import functools
import zlib

import numpy as np

from tfdgm.data import sources

__all__ = ["couples_from_domains", "split_couples", "tfds_couples", "DATASETS"]

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


def tfds_couples(name="cycle_gan/horse2zebra", split="train", data_dir=None, size=None, seed=0, download=False):
    """Couples [a | b] from a TFDS CycleGAN set (splits "trainA"/"trainB" or "testA"/"testB").

    Arguments:
      name: TFDS name, e.g. "cycle_gan/horse2zebra".
      split: "train" or "test".
      size: resize images to (size, size) first (None keeps 256x256).
    Raises:
      DatasetError: TFDS cannot reach or find the data.
    """
    from tfdgm.data.tfds_source import tfds_arrays

    part = "train" if split == "train" else "test"
    a, _ = tfds_arrays(name, part + "A", data_dir, download)
    b, _ = tfds_arrays(name, part + "B", data_dir, download)
    if size is not None:
        import tensorflow as tf

        a = tf.image.resize(a, (size, size)).numpy()
        b = tf.image.resize(b, (size, size)).numpy()
    return couples_from_domains(a, b, np.random.default_rng(seed)).astype(np.float32)


# name -> (DatasetInfo fields after the name, loader(split, data_dir) -> (x, y))
DATASETS = {
    "fashion_mnist_sneakers_boots": (
        dict(event_shape=(28, 56, 1), kind="image", num_classes=None, num_levels=256,
             description="unpaired couples [sneaker | ankle boot] of Fashion-MNIST images (CycleGAN domains)"),
        _sneakers_boots),
}
