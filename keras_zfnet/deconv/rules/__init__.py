"""The deconvnet's rule table: one rule per layer family.

Each entry is `(layer classes, applies(layer, input_shapes), Rule class)`,
looked up in order; a layer no entry covers gets the fallback, its own
vector-Jacobian product at the recorded forward point
(`fallback.VJPRule`). The paper's rules are entries: ReLU-family
activations rectify the signal (or, as variants, guided backprop / the
plain gradient), max pooling unpools through the recorded switches,
convolutions and dense layers filter with their transposed kernels without
bias. Other entries exist where they are faster than the fallback or keep
receptive-field windows working (pooling, padding, merges, identities).

Adding a layer family means adding one entry (or nothing: the fallback
already covers any layer whose backward can be formed).
"""

import keras

from keras_zfnet.deconv.rules import activations
from keras_zfnet.deconv.rules import convolutions
from keras_zfnet.deconv.rules import fallback
from keras_zfnet.deconv.rules import pooling
from keras_zfnet.deconv.rules import structure
from keras_zfnet.deconv.rules.base import VARIANTS
from keras_zfnet.deconv.rules.base import Context
from keras_zfnet.deconv.rules.base import Rule


def _always(layer, input_shapes):
    return True


def _max_pool(layer, input_shapes):
    return (isinstance(layer, keras.layers.MaxPooling2D)
            and pooling.applies(layer, input_shapes))


def _average_pool(layer, input_shapes):
    return (isinstance(layer, keras.layers.AveragePooling2D)
            and pooling.applies(layer, input_shapes))


TABLE = (
    (activations.LAYERS, _always, activations.ActivationRule),
    (convolutions.LAYERS, convolutions.applies,
     convolutions.ConvolutionRule),
    (pooling.LAYERS, _max_pool, pooling.MaxPoolRule),
    (pooling.LAYERS, _average_pool, pooling.AveragePoolRule),
    (structure.MERGES, structure.merge_applies, structure.MergeRule),
    (structure.PADDING, structure.padding_applies, structure.PaddingRule),
    (structure.IDENTITIES, _always, structure.IdentityRule),
)

SUPPORTED_LAYERS = (
    "any layer whose backward can be formed (its vector-Jacobian product "
    "at the forward point), with the paper's rules: ReLU-family "
    "activations rectified, max pooling unpooled through switches, "
    "convolutions and dense layers filtered with their transposed kernels "
    "without bias",
    "refused: layers with several outputs or non-float outputs; a layer "
    "called several times cannot seed a projection",
)


def rule_for(layer, input_shapes, output_shape):
    """The `Rule` of one call of `layer` (input / output shapes per
    image)."""
    for classes, applies, rule in TABLE:
        if isinstance(layer, classes) and applies(layer, input_shapes):
            return rule(layer, input_shapes, output_shape)
    return fallback.VJPRule(layer, input_shapes, output_shape)


__all__ = ["Context", "Rule", "SUPPORTED_LAYERS", "TABLE", "VARIANTS",
           "rule_for"]
