"""The fallback rule: every layer no specific rule covers passes the signal
back through its own vector-Jacobian product at the recorded forward point.

This is the generalized rule of the README: batch norm scales the signal,
global pooling spreads (average) or routes (max) it, upsampling sums it,
`Multiply` gates use the other operand, `LayerNormalization`, `tanh`,
`gelu`, transposed convolutions and custom layers use their local
derivative. A layer with an `activation` argument is split: the activation's
backward (rectified when ReLU-family, as the paper's rule says), then the
VJP of the rest. Layers known to be linear are differentiated at zero (no
record needed); layers known to act per position (`POINTWISE`) keep
receptive-field windows working through them.
"""

import keras
from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv.rules.base import POINT
from keras_zfnet.deconv.rules.base import ActivationBackward
from keras_zfnet.deconv.rules.base import Rule
from keras_zfnet.deconv.rules.base import call_layer
from keras_zfnet.deconv.rules.base import is_linear
from keras_zfnet.deconv.rules.base import is_relu_family

LINEAR = (
    keras.layers.BatchNormalization, keras.layers.Rescaling,
    keras.layers.Normalization, keras.layers.Flatten, keras.layers.Reshape,
    keras.layers.UpSampling2D, keras.layers.GlobalAveragePooling2D,
    keras.layers.Permute, keras.layers.Add, keras.layers.Subtract,
    keras.layers.Average, keras.layers.Concatenate,
    keras.layers.Conv2DTranspose, keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
)
# Layers whose output at a position depends only on their input at that
# position (when they act on the channel axis).
POINTWISE = (
    keras.layers.BatchNormalization, keras.layers.Rescaling,
    keras.layers.Normalization, keras.layers.LayerNormalization,
    keras.layers.UnitNormalization, keras.layers.Multiply,
    keras.layers.Add, keras.layers.Subtract, keras.layers.Average,
    keras.layers.Maximum, keras.layers.Minimum,
)


def _acts_per_position(layer, input_shapes, output_shape):
    if not isinstance(layer, POINTWISE) or len(output_shape) != 3:
        return False
    if any(s != output_shape for s in input_shapes[:1]) or any(
            s != input_shapes[0] for s in input_shapes):
        return False
    axis = getattr(layer, "axis", -1)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    return all(a in (-1, 3) for a in axis if a is not None)


class _LinearActivation:
    """Calls a layer with its activation set to linear (its pre-activation
    output); restores the activation afterwards."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, xs):
        activation = self.layer.activation
        self.layer.activation = keras.activations.linear
        try:
            return call_layer(self.layer, xs)
        finally:
            self.layer.activation = activation


class VJPRule(Rule):
    """Any layer: its own VJP at the recorded inputs (at zero for `LINEAR`
    layers), after its activation's backward when it has one."""

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        fn = getattr(layer, "activation", None)
        self.activation = None
        self.call = lambda xs: call_layer(layer, xs)
        if callable(fn) and not is_linear(fn) and not isinstance(
                layer, keras.layers.Activation):
            self.activation = ActivationBackward(fn, is_relu_family(fn))
            self.call = _LinearActivation(layer)
        self.linear = isinstance(layer, LINEAR)
        self.verb = "vjp"
        if _acts_per_position(layer, self.input_shapes, self.output_shape):
            self.geometry = POINT

    def describe(self, variant):
        words = "vjp" if not self.linear else "vjp (linear)"
        if self.activation is None:
            return words
        return f"{self.activation.describe(variant)}, {words}"

    def record_keys(self, variant):
        keys = () if self.linear else tuple(
            f"input{k}" for k in range(len(self.input_shapes)))
        return keys + (("z",) if self.needs_z(variant) else ())

    def record_shapes(self, key):
        if key.startswith("input"):
            return self.input_shapes[int(key[5:])], "float32"
        return self.output_shape, "float32"

    def forward(self, xs, records, variant, portable, shared=False):
        if not self.linear:
            for k, x in enumerate(xs):
                records[f"input{k}"] = x
        if self.activation is None:
            return self.call(xs)
        return self.activate(self.call(xs), records, variant)

    def backward(self, dy, ctx):
        dy = self.activation_backward(dy, ctx)
        if self.linear:
            batch = ops.shape(dy)[0]
            if self.local:  # windows: the inputs' windows are dy's size
                shapes = [(*dy.shape[1:3], s[-1]) for s in self.input_shapes]
            else:
                shapes = self.input_shapes
            primals = [ops.zeros((batch, *s), dy.dtype) for s in shapes]
        else:
            primals = [ctx.record(f"input{k}")
                       for k in range(len(self.input_shapes))]
        return backend.vjp(lambda *xs: self.call(list(xs)), primals, dy)
