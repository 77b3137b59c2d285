"""`MiniZFNet`: the ZFNet topology scaled for 28..64 pixel inputs."""

import keras

from keras_zfnet.applications import backbone
from keras_zfnet.applications import presets
from keras_zfnet.utils import conv_utils

# First-layer styles: (kernel, stride). "zfnet" keeps small filters and a
# small stride; "alexnet" uses larger filters and a larger stride, the
# difference the paper's Fig. 6 examines.
FIRST_LAYERS = {"zfnet": (5, 1), "alexnet": (9, 2)}


def mini_stages(first_layer="zfnet", widths=(32, 64, 96, 96, 64)):
    """The MiniZFNet stage tuple for a first-layer style."""
    kernel, stride = _first_layer(first_layer)
    same = dict(stride=1, padding="same")
    f1, f2, f3, f4, f5 = widths
    return (
        ("conv", "conv1", dict(filters=f1, kernel=kernel, stride=stride,
                               padding="same")),
        ("pool", "pool1", dict(pool=3, stride=2, padding="same")),
        ("norm", "norm1", {}),
        ("conv", "conv2", dict(filters=f2, kernel=3, **same)),
        ("pool", "pool2", dict(pool=3, stride=2, padding="same")),
        ("norm", "norm2", {}),
        ("conv", "conv3", dict(filters=f3, kernel=3, **same)),
        ("conv", "conv4", dict(filters=f4, kernel=3, **same)),
        ("conv", "conv5", dict(filters=f5, kernel=3, **same)),
        ("pool", "pool5", dict(pool=3, stride=2, padding="same")),
    )


def _first_layer(first_layer):
    if isinstance(first_layer, str):
        if first_layer not in FIRST_LAYERS:
            raise ValueError(
                "`first_layer` must be one of "
                f"{sorted(FIRST_LAYERS)} or a (kernel_size, stride) pair. "
                f"Received: first_layer={first_layer!r}"
            )
        return FIRST_LAYERS[first_layer]
    try:
        kernel, stride = first_layer
    except (TypeError, ValueError):
        kernel = stride = None
    if kernel is None:
        raise ValueError(
            "`first_layer` must be one of "
            f"{sorted(FIRST_LAYERS)} or a (kernel_size, stride) pair. "
            f"Received: first_layer={first_layer!r}"
        )
    conv_utils.standardize_pair((kernel, stride), "first_layer")
    return int(kernel), int(stride)


def MiniZFNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="mini_zfnet",
    first_layer=None,
    include_preprocessing=True,
    filter_rms=0.1,
    fc_units=256,
):
    """Instantiates MiniZFNet, ZFNet's topology for small images.

    The same stages as `ZFNet` (five ReLU convolutions; 3x3/2 max pooling
    after conv1, conv2 and conv5; contrast normalization after pool1 and
    pool2; two dropout-regularised fully connected layers; softmax) with
    widths 32, 64, 96, 96, 64 and `fc_units` hidden units, sized for 28..64
    pixel inputs such as Fashion-MNIST (28x28x1). It trains on two CPU cores
    in minutes. Layer names are those of `ZFNet`.

    `first_layer="alexnet"` builds the AlexNet-style first layer (9x9 filters,
    stride 2, instead of 5x5 stride 1) to reproduce the paper's Fig. 6
    comparison at small scale.

    With `include_preprocessing=True` (the default) the model starts with a
    `Rescaling` layer named `rescaling` mapping raw 0..255 pixels to
    [-1, 1], so it takes raw images.

    Args:
        include_top: whether to include `fc6`, `fc7` and `predictions`.
        weights: `None`, the path to a weights file, or a preset name:
            `"fashion_mnist"` (`first_layer="zfnet"`) or
            `"fashion_mnist_alexnet"` (`first_layer="alexnet"`), both for
            `input_shape=(28, 28, 1)` and `classes=10` with the top.
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: optional `(H, W, C)`; defaults to `(28, 28, 1)`.
        pooling: `None`, `"avg"` or `"max"` with `include_top=False`.
        classes: the number of classes, with `include_top=True`.
        classifier_activation: the activation of `predictions`.
        name: the model's name.
        first_layer: `"zfnet"` (default), `"alexnet"`, or a
            `(kernel_size, stride)` pair. `None` takes the preset's choice
            (or `"zfnet"`).
        include_preprocessing: whether the model rescales raw pixels itself.
        filter_rms: the `FilterRMS` radius on conv kernels; `None` disables.
        fc_units: units of `fc6` and `fc7`.

    Returns:
        A `keras.Model`.

    Example:

    >>> model = MiniZFNet(input_shape=(28, 28, 1), classes=10)
    >>> model.get_layer("conv5").output.shape
    (None, 7, 7, 64)
    """
    if first_layer is None:
        preset = _preset_config(weights)
        first_layer = preset.get("first_layer", "zfnet")
    stages = mini_stages(first_layer)
    preprocessing = None
    if include_preprocessing:
        preprocessing = keras.layers.Rescaling(
            1.0 / 127.5, offset=-1.0, name="rescaling"
        )
    config = dict(first_layer=first_layer, fc_units=fc_units,
                  include_preprocessing=include_preprocessing)
    return backbone.build_model(
        arch="MiniZFNet",
        stages=stages,
        fc_units=(fc_units, fc_units),
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        default_shape=(28, 28, 1),
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
        filter_rms=filter_rms,
        kernel_initializer="glorot_uniform",
        preprocessing=preprocessing,
        config=config,
    )


def _preset_config(weights):
    preset = presets.PRESETS.get(weights) if isinstance(weights, str) else None
    if preset is None or preset["architecture"] != "MiniZFNet":
        return {}
    return preset["config"]
