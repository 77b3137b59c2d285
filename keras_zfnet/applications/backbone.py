"""The shared builder of the ZFNet family (ZFNet, AlexNet, MiniZFNet).

An architecture is plain data: an ordered tuple of stages

    ("conv", name, dict(filters, kernel, stride, pad, padding))
    ("pool", name, dict(pool, stride, pad, padding))
    ("norm", name, {})

followed by a classifier head of fully connected layers. `pad` is an explicit
zero padding (a `ZeroPadding2D` named `<name>_pad`) before the layer; the
paper's stage sizes need it with `padding="valid"`.
"""

import keras

from keras_zfnet.applications import presets
from keras_zfnet.constraints import FilterRMS
from keras_zfnet.layers import LocalResponseNormalization
from keras_zfnet.layers import MaxPoolingWithSwitches2D
from keras_zfnet.utils import conv_utils


def stage_sizes(stages, size):
    """Spatial size after each stage for a square input of side `size`.

    Returns:
        A list of `(name, side)` pairs, one per stage.
    """
    sizes = []
    for kind, name, spec in stages:
        if kind in ("conv", "pool"):
            window = spec["kernel"] if kind == "conv" else spec["pool"]
            size = conv_utils.output_length(
                size + 2 * spec.get("pad", 0),
                window,
                spec["stride"],
                spec.get("padding", "valid"),
            )
        sizes.append((name, size))
    return sizes


def minimum_size(stages):
    """The smallest input side for which every stage has an output >= 1."""
    size = 1
    while min(s for _, s in stage_sizes(stages, size)) < 1:
        size += 1
    return size


def resolve_input(input_tensor, input_shape, default_shape, min_side, arch):
    """Returns `(inputs, input_shape)` after validating the arguments.

    Args:
        input_tensor: optional Keras tensor (or tensor) to build on.
        input_shape: optional `(H, W, C)`.
        default_shape: the shape used when neither is given.
        min_side: the smallest allowed spatial side.
        arch: the architecture's name, for error messages.
    """
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        input_shape = default_shape
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"{arch} expects input_shape=(height, width, channels) "
            f"(channels last). Received: input_shape={input_shape}"
        )
    height, width, _ = input_shape
    if height is not None and width is not None:
        if min(height, width) < min_side:
            raise ValueError(
                f"{arch} needs inputs of at least {min_side}x{min_side} "
                "pixels, smaller ones vanish before the last pooling "
                f"stage. Received: input_shape={input_shape}"
            )
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape)
    elif not keras.backend.is_keras_tensor(input_tensor):
        inputs = keras.Input(tensor=input_tensor, shape=input_shape)
    else:
        inputs = input_tensor
    return inputs, input_shape


def build_stages(x, stages, filter_rms, kernel_initializer):
    """Applies the convolution / pooling / normalization stages to `x`."""
    constraint = FilterRMS(filter_rms) if filter_rms else None
    for kind, name, spec in stages:
        if spec.get("pad"):
            x = keras.layers.ZeroPadding2D(spec["pad"], name=f"{name}_pad")(x)
        if kind == "conv":
            x = keras.layers.Conv2D(
                spec["filters"],
                spec["kernel"],
                strides=spec["stride"],
                padding=spec.get("padding", "valid"),
                activation="relu",
                kernel_initializer=kernel_initializer,
                bias_initializer="zeros",
                kernel_constraint=constraint,
                name=name,
            )(x)
        elif kind == "pool":
            x = MaxPoolingWithSwitches2D(
                spec["pool"],
                strides=spec["stride"],
                padding=spec.get("padding", "valid"),
                name=name,
            )(x)
        else:
            x = LocalResponseNormalization(name=name)(x)
    return x


def build_head(x, include_top, pooling, fc_units, dropout, classes,
               classifier_activation, kernel_initializer):
    """The classifier (`fc6`, `fc7`, `predictions`) or a global pooling."""
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        for index, units in enumerate(fc_units, start=6):
            x = keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=kernel_initializer,
                name=f"fc{index}",
            )(x)
            x = keras.layers.Dropout(dropout, name=f"drop{index}")(x)
        return keras.layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=kernel_initializer,
            name="predictions",
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def validate_arguments(arch, include_top, pooling, classes,
                       classifier_activation, preset):
    """Checks the Keras Applications arguments shared by every builder."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "`pooling` must be None, 'avg' or 'max'. "
            f"Received: pooling={pooling!r}"
        )
    if include_top and (int(classes) != classes or classes < 1):
        raise ValueError(
            f"`classes` must be an integer >= 1. Received: classes={classes}"
        )
    if preset is not None and include_top:
        if classifier_activation not in (None, "softmax"):
            raise ValueError(
                f"{arch} preset '{preset['name']}' was trained with a "
                "softmax classifier; only classifier_activation='softmax' or "
                "None can be used with it. Received: "
                f"classifier_activation={classifier_activation!r}"
            )


def build_model(*, arch, stages, fc_units, include_top, weights, input_tensor,
                input_shape, default_shape, pooling, classes,
                classifier_activation, name, filter_rms, kernel_initializer,
                dropout=0.5, preprocessing=None, config=None):
    """Builds a ZFNet-family model and loads its weights.

    Args:
        arch: the public builder's name (for messages and presets).
        stages: the stage tuple (see the module docstring).
        fc_units: units of `fc6`, `fc7`.
        preprocessing: optional callable applied to the input tensor first.
        config: architecture arguments a preset may constrain.
        Other arguments: as in the public builders.

    Returns:
        A `keras.Model`.
    """
    path, preset = presets.resolve_weights(weights, arch)
    validate_arguments(
        arch, include_top, pooling, classes, classifier_activation, preset
    )
    min_side = minimum_size(stages)
    inputs, input_shape = resolve_input(
        input_tensor, input_shape, default_shape, min_side, arch
    )
    if include_top and None in input_shape[:2]:
        raise ValueError(
            f"{arch} with include_top=True needs a fixed input size: its "
            "classifier (`flatten`, `fc6`, `fc7`, `predictions`) takes a "
            "fixed number of features. Give input_shape a height and a "
            f"width (e.g. {tuple(default_shape)}), or use include_top=False "
            "(optionally with pooling='avg' or 'max') for variable-size "
            f"inputs. Received: input_shape={input_shape}, include_top=True"
        )
    if preset is not None:
        presets.check_preset_arguments(
            preset, include_top, classes, input_shape, config or {}
        )
    x = inputs
    if preprocessing is not None:
        x = preprocessing(x)
    x = build_stages(x, stages, filter_rms, kernel_initializer)
    x = build_head(
        x, include_top, pooling, fc_units, dropout, classes,
        classifier_activation, kernel_initializer,
    )
    if input_tensor is not None:
        model_inputs = keras.utils.get_source_inputs(input_tensor)
    else:
        model_inputs = inputs
    model = keras.Model(model_inputs, x, name=name)
    if path is not None:
        reference = None
        if preset is not None and not include_top:
            # A preset holds the classifier too: load it into the full
            # model of the same architecture, then copy the shared layers.
            reference = build_model(
                arch=arch, stages=stages, fc_units=fc_units, include_top=True,
                weights=None, input_tensor=None,
                input_shape=preset["input_shape"],
                default_shape=default_shape, pooling=None,
                classes=preset["classes"], classifier_activation="softmax",
                name=f"{name}_reference", filter_rms=filter_rms,
                kernel_initializer=kernel_initializer, dropout=dropout,
                preprocessing=_same_preprocessing(preprocessing),
                config=config,
            )
        presets.load_into(model, path, reference)
    return model


def _same_preprocessing(preprocessing):
    """A fresh copy of a preprocessing layer (a layer object can be called in
    one model graph only once per input)."""
    if isinstance(preprocessing, keras.layers.Layer):
        return preprocessing.__class__.from_config(preprocessing.get_config())
    return preprocessing
