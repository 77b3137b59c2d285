"""Pooling: max pooling unpools through the recorded switches (the paper's
*unpool* step); average pooling spreads the signal over each window."""

import numpy as np
import keras
from keras import ops

from keras_zfnet import backend
from keras_zfnet import ops as zf_ops
from keras_zfnet.deconv.rules.base import Rule
from keras_zfnet.deconv.rules.base import raw_size
from keras_zfnet.deconv.rules.base import zeros_like_raw

LAYERS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


def applies(layer, input_shapes):
    return (layer.data_format == "channels_last"
            and len(input_shapes[0]) == 3)


class MaxPoolRule(Rule):
    """`MaxPooling2D`: switches recorded forward (first maximum in
    row-major window order), unpooling backward."""

    verb = "unpool"
    # Switches point into the map (padding is -inf in the forward).
    keeps_inside = True

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        self.geometry = zf_ops.window_geometry(
            input_shapes[0], layer.pool_size, layer.strides, layer.padding)

    def describe(self, variant):
        return "unpool (switches)"

    def record_keys(self, variant):
        return ("switches",)

    def record_shapes(self, key):
        return self.output_shape, "int32"

    def forward(self, xs, records, variant, portable, shared=False):
        layer = self.layer
        y, records["switches"] = zf_ops.max_pool_with_switches(
            xs[0], layer.pool_size, layer.strides, layer.padding,
            portable=portable, shared=shared)
        return y

    def backward(self, dy, ctx):
        rows, cols = raw_size(self.geometry, dy)
        (_, sr, pr), (_, sc, pc) = self.geometry
        width, channels = self.input_shapes[0][1], self.input_shapes[0][2]
        switches = ops.cast(ctx.record("switches"), "int32")
        # A switch `(row * width + col) * channels + channel` in the input
        # map is `((row - row0) * cols + col - col0) * channels + channel`
        # in the raw window starting at `(row0, col0)`: the switch plus
        # `row * (cols - width) * channels` minus the window's start. Only
        # the row is decoded (one division instead of three, and no
        # re-encoding: ZFNet's pool1 windows, 64 items, 136 -> 108 ms on
        # PyTorch). Positions outside the map carry a zero signal (the
        # engine keeps windows zero outside their maps) and read a border
        # switch: their index is clipped into the window, where they add
        # nothing.
        row = switches // (channels * width)
        local = switches + row * ((cols - width) * channels)
        if ctx.starts is None:
            local = local + (pr * cols + pc) * channels
        else:
            row0 = ctx.starts[0] * sr - pr
            col0 = ctx.starts[1] * sc - pc
            start = (row0 * cols + col0) * channels
            local = local - ops.reshape(start, (-1, 1, 1, 1))
        local = ops.clip(local, 0, rows * cols * channels - 1)
        return [zf_ops.unpool(dy, local, (rows, cols), self.layer.pool_size,
                              self.layer.strides, portable=ctx.portable)]


class AveragePoolRule(Rule):
    """`AveragePooling2D`: each output's signal spread evenly over its
    window (divided by the in-map positions, as `"same"` pooling does)."""

    verb = "spread"

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        self.geometry = zf_ops.window_geometry(
            input_shapes[0], layer.pool_size, layer.strides, layer.padding)
        self._factors = []
        for axis, (k, s, p) in enumerate(self.geometry):
            limit = input_shapes[0][axis]
            count = np.array([min(i * s - p + k, limit) - max(i * s - p, 0)
                              for i in range(output_shape[axis])], "float32")
            self._factors.append(k / count)

    def backward(self, dy, ctx):
        factors = []
        for axis in range(2):
            size = dy.shape[1 + axis]
            table = ops.convert_to_tensor(self._factors[axis])
            if ctx.starts is None:
                factor = ops.expand_dims(table[:size], 0)
            else:
                index = ops.clip(zf_ops.window_positions(ctx.starts[axis],
                                                         size),
                                 0, len(self._factors[axis]) - 1)
                factor = ops.take(table, index)
            factors.append(factor)
        dy = dy * (factors[0][:, :, None, None] * factors[1][:, None, :, None])
        (kr, sr, _), (kc, sc, _) = self.geometry
        raw = raw_size(self.geometry, dy)
        zeros = zeros_like_raw(dy, (*raw, dy.shape[-1]))
        return backend.vjp(
            lambda x: ops.average_pool(x, (kr, kc), (sr, sc), "valid"),
            [zeros], dy)
