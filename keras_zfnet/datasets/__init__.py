"""Datasets: Fashion-MNIST (local first), digits, image folders, tfds
sources, and the paper's k-per-class splits."""

from keras_zfnet.datasets import digits
from keras_zfnet.datasets import fashion_mnist
from keras_zfnet.datasets.folders import image_folder
from keras_zfnet.datasets.splits import k_per_class_split
from keras_zfnet.datasets.tfds_sources import tfds_source

__all__ = [
    "digits",
    "fashion_mnist",
    "image_folder",
    "k_per_class_split",
    "tfds_source",
]
