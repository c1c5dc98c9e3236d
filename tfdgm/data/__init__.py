"""Datasets (Fashion-MNIST, digits, 2-D toy densities, any TFDS name), exact-Jacobian preprocessing and ZCA whitening."""

__all__ = [
    "load",
    "load_arrays",
    "list_datasets",
    "dataset_info",
    "DatasetInfo",
    "Preprocessing",
    "Binarize",
    "Dequantize",
    "Scale",
    "Logit",
    "parse_preprocessing",
    "DatasetError",
    "ZCAWhitening",
]

from tfdgm.data.errors import DatasetError
from tfdgm.data.preprocess import Binarize, Dequantize, Logit, Preprocessing, Scale, parse_preprocessing
from tfdgm.data.registry import DatasetInfo, dataset_info, list_datasets, load, load_arrays
from tfdgm.data.whitening import ZCAWhitening
