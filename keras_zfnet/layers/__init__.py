"""Custom layers: switch-recording pooling, unpooling and contrast normalization."""

from keras_zfnet.layers.local_response_normalization import (
    LocalResponseNormalization,
)
from keras_zfnet.layers.max_pooling_with_switches_2d import (
    MaxPoolingWithSwitches2D,
)
from keras_zfnet.layers.max_unpooling_2d import MaxUnpooling2D

__all__ = [
    "LocalResponseNormalization",
    "MaxPoolingWithSwitches2D",
    "MaxUnpooling2D",
]
