"""Layers that move the signal without weights: merges (`Add` copies,
`Concatenate` splits), padding and cropping, and inference-time identities
(dropout, noise, and `LocalResponseNormalization`, which the paper's mirror
passes through unchanged)."""

import keras
from keras import ops

from keras_zfnet.deconv.rules.base import POINT
from keras_zfnet.deconv.rules.base import Rule
from keras_zfnet.layers import LocalResponseNormalization

MERGES = (keras.layers.Add, keras.layers.Subtract, keras.layers.Average,
          keras.layers.Concatenate)
PADDING = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)
IDENTITIES = (
    keras.layers.Dropout, keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise, keras.layers.GaussianDropout,
    keras.layers.AlphaDropout, keras.layers.ActivityRegularization,
    keras.layers.Identity, LocalResponseNormalization,
)


def merge_applies(layer, input_shapes):
    """Merges of equal shapes (a `Concatenate` on the last axis)."""
    if isinstance(layer, keras.layers.Concatenate):
        rank = len(input_shapes[0])
        return layer.axis in (-1, rank) and all(
            s[:-1] == input_shapes[0][:-1] for s in input_shapes)
    return all(s == input_shapes[0] for s in input_shapes)


class MergeRule(Rule):
    """`Add` copies the signal to each input, `Subtract` negates the second,
    `Average` divides by the number of inputs, `Concatenate` splits."""

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        self.verb = ("split" if isinstance(layer, keras.layers.Concatenate)
                     else "copy")
        if len(output_shape) == 3:
            self.geometry = POINT

    def backward(self, dy, ctx):
        layer, n = self.layer, len(self.input_shapes)
        if isinstance(layer, keras.layers.Concatenate):
            sizes = [s[-1] for s in self.input_shapes]
            bounds, total = [], 0
            for size in sizes[:-1]:
                total += size
                bounds.append(total)
            return ops.split(dy, bounds, axis=-1)
        if isinstance(layer, keras.layers.Subtract):
            return [dy, -dy]
        if isinstance(layer, keras.layers.Average):
            return [dy / float(n)] * n
        return [dy] * n


def padding_applies(layer, input_shapes):
    return (layer.data_format == "channels_last"
            and len(input_shapes[0]) == 3)


class PaddingRule(Rule):
    """`ZeroPadding2D` (backward: crop) and `Cropping2D` (backward: pad),
    as window geometry: output `i` shows input `i - pad`."""

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        if isinstance(layer, keras.layers.ZeroPadding2D):
            self.verb = "crop"
            self.geometry = tuple((1, 1, int(p[0])) for p in layer.padding)
        else:
            self.verb = "pad"
            self.geometry = tuple((1, 1, -int(c[0])) for c in layer.cropping)

    def backward(self, dy, ctx):
        return [dy]


class IdentityRule(Rule):
    """Inference-time identities and `LocalResponseNormalization` (the
    paper's mirror passes the signal through unchanged)."""

    verb = "identity"

    def __init__(self, layer, input_shapes, output_shape):
        super().__init__(layer, input_shapes, output_shape)
        if len(output_shape) == 3 and input_shapes[0] == output_shape:
            self.geometry = POINT
            self.keeps_inside = True

    def backward(self, dy, ctx):
        return [dy]
