"""Generates the mirror (deconvnet) `keras.Model` of a chain of stages."""

import keras

from keras_zfnet.deconv import mirror_layers
from keras_zfnet.layers import MaxUnpooling2D


def build_mirror(stages, seed_index, name=None, xla_compatible=False):
    """Builds the deconvnet attached to `stages[: seed_index + 1]`.

    Going down from the seed layer to pixel space, each forward layer gets
    its mirror: a ReLU layer rectifies where the forward pass rectified
    (`<layer>_rectify`); convolutions become `TransposedConv2D`
    (`<layer>_filter`), max pooling `MaxUnpooling2D` (`<layer>_unpool`), dense
    layers `TransposedDense`, zero padding a crop, flatten a reshape, affine
    layers their scale, and normalization / dropout layers identities.

    Args:
        stages: the chain's `Stage`s.
        seed_index: index of the seed layer's stage.
        name: the model's name.
        xla_compatible: unpool with `keras.ops.segment_sum` (XLA can
            compile it) instead of TensorFlow's faster max-pool gradient
            kernel.

    Returns:
        A `keras.Model` with inputs `[seed, <pool>_switches, ...]` (seed of
        the seed layer's per-image output shape; one int64 switch input per
        max-pooling layer below it, from the top down) and one output of the
        model's per-image input shape.
    """
    top = stages[seed_index]
    seed = keras.Input(shape=top.output_shape, name="seed")
    inputs = [seed]
    x = seed
    for stage in reversed(stages[: seed_index + 1]):
        if stage.relu:
            x = keras.layers.ReLU(name=f"{stage.name}_rectify")(x)
        if stage.kind == "pool":
            switches = keras.Input(
                shape=stage.output_shape,
                dtype="int64",
                name=f"{stage.name}_switches",
            )
            inputs.append(switches)
            geometry = {} if xla_compatible else dict(
                pool_size=stage.layer.pool_size,
                strides=stage.layer.strides,
                padding=stage.layer.padding,
            )
            x = MaxUnpooling2D(
                output_size=stage.input_shape[:2],
                name=f"{stage.name}_unpool",
                **geometry,
            )([x, switches])
        else:
            layer = _mirror_layer(stage)
            if layer is not None:
                x = layer(x)
    name = name or f"{top.name}_deconvnet"
    return keras.Model(inputs, x, name=name)


def _mirror_layer(stage):
    """The mirror layer of a non-pooling stage (None for a bare ReLU)."""
    name = stage.name
    if stage.kind == "conv":
        leads = (stage.geometry[0][2], stage.geometry[1][2])
        return mirror_layers.TransposedConv2D(
            stage.layer, leads, stage.input_shape[:2], name=f"{name}_filter"
        )
    if stage.kind == "dense":
        return mirror_layers.TransposedDense(stage.layer, name=f"{name}_filter")
    if stage.kind == "pad":
        return keras.layers.Cropping2D(stage.crop, name=f"{name}_crop")
    if stage.kind == "crop":
        return keras.layers.ZeroPadding2D(stage.crop, name=f"{name}_pad")
    if stage.kind == "flatten":
        return keras.layers.Reshape(stage.input_shape, name=f"{name}_reshape")
    if stage.kind == "gap":
        return mirror_layers.GlobalAverageUnpooling2D(
            stage.input_shape[:2], name=f"{name}_spread"
        )
    if isinstance(stage.layer, mirror_layers.AFFINE_LAYERS):
        return mirror_layers.ChannelScale(stage.layer, name=f"{name}_scale")
    if stage.relu:
        return None
    return keras.layers.Identity(name=f"{name}_identity")
