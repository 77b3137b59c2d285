"""Model builders with the Keras Applications signature, and their utilities."""

from keras_zfnet.applications.imagenet_utils import decode_predictions
from keras_zfnet.applications.imagenet_utils import preprocess_input
from keras_zfnet.applications.mini_zfnet import MiniZFNet
from keras_zfnet.applications.presets import available_presets
from keras_zfnet.applications.zfnet import AlexNet
from keras_zfnet.applications.zfnet import ZFNet

__all__ = [
    "AlexNet",
    "MiniZFNet",
    "ZFNet",
    "available_presets",
    "decode_predictions",
    "preprocess_input",
]
