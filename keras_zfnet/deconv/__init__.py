"""The deconvnet: one engine (graph parse, recording forward, backward on
windows or whole maps) with one rule table, mirror models, receptive
fields."""

from keras_zfnet.deconv.deconvnet import Deconvnet
from keras_zfnet.deconv.receptive_field import ReceptiveField
from keras_zfnet.deconv.receptive_field import receptive_field
from keras_zfnet.deconv.rules import SUPPORTED_LAYERS

__all__ = ["Deconvnet", "ReceptiveField", "SUPPORTED_LAYERS", "receptive_field"]
