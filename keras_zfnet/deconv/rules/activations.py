"""Activation layers: ReLU-family layers are rectified (the paper's rule, or
its guided-backprop / gradient variants); every other activation passes the
signal through its local derivative at the forward point."""

import keras

from keras_zfnet.deconv.rules.base import POINT
from keras_zfnet.deconv.rules.base import ActivationBackward
from keras_zfnet.deconv.rules.base import Rule
from keras_zfnet.deconv.rules.base import call_layer
from keras_zfnet.deconv.rules.base import is_relu_family

LAYERS = (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
          keras.layers.ELU, keras.layers.Softmax)


class ActivationRule(Rule):
    """`Activation`, `ReLU`, `LeakyReLU`, `ELU`, `Softmax` layers."""

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        relu = isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU)
                          ) or is_relu_family(getattr(layer, "activation",
                                                      None))
        self.activation = ActivationBackward(
            lambda z: call_layer(layer, [z]), relu)
        self.verb = "rectify" if relu else "activation"
        axis = getattr(layer, "axis", -1)
        if len(output_shape) == 3 and axis in (-1, 3):
            self.geometry = POINT
            self.keeps_inside = True

    def describe(self, variant):
        return self.activation.describe(variant)

    def record_keys(self, variant):
        return ("z",) if self.needs_z(variant) else ()

    def record_shapes(self, key):
        return self.input_shapes[0], "float32"

    def forward(self, xs, records, variant, portable, shared=False):
        if self.needs_z(variant):
            records["z"] = xs[0]
        return call_layer(self.layer, xs)

    def backward(self, dy, ctx):
        return [self.activation_backward(dy, ctx)]
