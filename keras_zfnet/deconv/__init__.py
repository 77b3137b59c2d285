"""The deconvnet: mirror-model generation, projection, receptive fields."""

from keras_zfnet.deconv.deconvnet import Deconvnet
from keras_zfnet.deconv.graph import SUPPORTED_LAYERS
from keras_zfnet.deconv.receptive_field import ReceptiveField
from keras_zfnet.deconv.receptive_field import receptive_field

__all__ = ["Deconvnet", "ReceptiveField", "SUPPORTED_LAYERS", "receptive_field"]
