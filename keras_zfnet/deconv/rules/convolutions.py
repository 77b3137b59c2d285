"""Convolutions and dense layers: the paper's *filter* step, their
transposed filters without bias (after their activation's backward)."""

import keras
from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv.rules.base import POINT
from keras_zfnet.deconv.rules.base import ActivationBackward
from keras_zfnet.deconv.rules.base import Rule
from keras_zfnet.deconv.rules.base import call_layer
from keras_zfnet.deconv.rules.base import is_linear
from keras_zfnet.deconv.rules.base import is_relu_family
from keras_zfnet.deconv.rules.base import raw_size
from keras_zfnet.deconv.rules.base import zeros_like_raw
from keras_zfnet.deconv.transposed import conv_transpose_valid
from keras_zfnet.ops import window_geometry

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                keras.layers.SeparableConv2D)
LAYERS = (*CONVOLUTIONS, keras.layers.Dense)


def applies(layer, input_shapes):
    """Whether `ConvolutionRule` covers `layer` (2D convolutions on
    channels_last rank-3 maps, dense layers on any rank)."""
    if isinstance(layer, keras.layers.Dense):
        return True
    return (getattr(layer, "data_format", "channels_last") == "channels_last"
            and len(input_shapes[0]) == 3)


class ConvolutionRule(Rule):
    """`Conv2D` (any dilation or groups), `DepthwiseConv2D`,
    `SeparableConv2D`, `Dense`: the activation's backward, then the linear
    map's transpose (biases unused)."""

    verb = "filter"

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        fn = layer.activation
        self.activation = None if is_linear(fn) else ActivationBackward(
            fn, is_relu_family(fn))
        self.dense = isinstance(layer, keras.layers.Dense)
        if self.dense:
            if len(output_shape) == 3:
                self.geometry = POINT
        else:
            self.geometry = window_geometry(
                input_shapes[0], layer.kernel_size, layer.strides,
                layer.padding, layer.dilation_rate)
        self.plain = (type(layer) is keras.layers.Conv2D or (
            isinstance(layer, keras.layers.Conv2D)
            and not isinstance(layer, (keras.layers.DepthwiseConv2D,
                                       keras.layers.SeparableConv2D)))) and (
            tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1)

    @property
    def kernel(self):
        return self.layer.kernel

    def describe(self, variant):
        if self.activation is None:
            return self.verb
        return f"{self.activation.describe(variant)}, {self.verb}"

    def record_keys(self, variant):
        return ("z",) if self.needs_z(variant) else ()

    def linear(self, x, padding=None):
        """The layer's linear map (no bias) with `padding`."""
        layer = self.layer
        if self.dense:
            return ops.matmul(x, layer.kernel)
        padding = padding or layer.padding
        if isinstance(layer, keras.layers.SeparableConv2D):
            return ops.separable_conv(
                x, layer.depthwise_kernel, layer.pointwise_kernel,
                layer.strides, padding, dilation_rate=layer.dilation_rate)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            return ops.depthwise_conv(x, layer.kernel, layer.strides, padding,
                                      dilation_rate=layer.dilation_rate)
        return ops.conv(x, layer.kernel, layer.strides, padding,
                        dilation_rate=layer.dilation_rate)

    def forward(self, xs, records, variant, portable, shared=False):
        if not self.needs_z(variant):
            return call_layer(self.layer, xs)
        z = self.linear(xs[0])
        if self.layer.use_bias:
            z = z + self.layer.bias
        return self.activate(z, records, variant)

    def backward(self, dy, ctx):
        dy = self.activation_backward(dy, ctx)
        if self.dense:
            return [ops.matmul(dy, ops.transpose(self.layer.kernel))]
        if self.plain:
            return [conv_transpose_valid(dy, self.layer.kernel,
                                         self.layer.strides)]
        raw = raw_size(self.geometry, dy)
        zeros = zeros_like_raw(dy, (*raw, self.input_shapes[0][-1]))
        return backend.vjp(lambda x: self.linear(x, "valid"), [zeros], dy)

    def cost(self, area):
        if self.dense:
            inputs = 1
            for d in self.input_shapes[0]:
                inputs *= d
            return inputs * self.output_shape[-1]
        (kr, _, _), (kc, _, _) = self.geometry
        cin, cout = self.input_shapes[0][-1], self.output_shape[-1]
        if isinstance(self.layer, keras.layers.DepthwiseConv2D):
            return area * kr * kc * cout
        if isinstance(self.layer, keras.layers.SeparableConv2D):
            mid = self.layer.pointwise_kernel.shape[2]
            return area * (kr * kc * mid + mid * cout)
        return area * kr * kc * cin * cout // max(1, self.layer.groups)
