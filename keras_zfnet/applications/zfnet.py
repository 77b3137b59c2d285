"""`ZFNet` and its baseline `AlexNet` (Keras Applications signature)."""

import keras

from keras_zfnet.applications import backbone


def _stages(conv1, conv2, pool_pad):
    """The paper's stages after the given first two convolutions."""
    same = dict(stride=1, padding="same")
    return (
        ("conv", "conv1", conv1),
        ("pool", "pool1", dict(pool=3, stride=2, pad=pool_pad)),
        ("norm", "norm1", {}),
        ("conv", "conv2", conv2),
        ("pool", "pool2", dict(pool=3, stride=2, pad=pool_pad)),
        ("norm", "norm2", {}),
        ("conv", "conv3", dict(filters=384, kernel=3, **same)),
        ("conv", "conv4", dict(filters=384, kernel=3, **same)),
        ("conv", "conv5", dict(filters=256, kernel=3, **same)),
        ("pool", "pool5", dict(pool=3, stride=2)),
    )


# Zeiler & Fergus 2014, Fig. 3: 7x7/2 first layer, 5x5/2 second, and a one
# pixel zero padding before conv1, pool1 and pool2 (110/55/26/13/6 maps).
ZFNET_STAGES = _stages(
    conv1=dict(filters=96, kernel=7, stride=2, pad=1),
    conv2=dict(filters=256, kernel=5, stride=2),
    pool_pad=1,
)

# Krizhevsky et al. 2012, single tower: 11x11/4 first layer (2 pixels of
# padding give its 55x55 maps from 224x224 inputs), 5x5/1 second layer.
ALEXNET_STAGES = _stages(
    conv1=dict(filters=96, kernel=11, stride=4, pad=2),
    conv2=dict(filters=256, kernel=5, stride=1, padding="same"),
    pool_pad=0,
)


def _paper_model(arch, stages, **arguments):
    """Builds ZFNet or AlexNet from their public keyword arguments."""
    return backbone.build_model(
        arch=arch,
        stages=stages,
        fc_units=(4096, 4096),
        default_shape=(224, 224, 3),
        # Sec. 3: "All weights are initialized to 1e-2 and biases are set
        # to 0."
        kernel_initializer=keras.initializers.RandomNormal(stddev=1e-2),
        **arguments,
    )


def ZFNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="zfnet",
    filter_rms=0.1,
):
    """Instantiates the ZFNet architecture (Zeiler & Fergus, ECCV 2014).

    The network of the paper's Fig. 3: five convolutional layers
    (96 7x7/2, 256 5x5/2, 384, 384, 256 3x3/1, all ReLU), 3x3/2 max pooling
    after conv1, conv2 and conv5, contrast normalization across feature maps
    after pool1 and pool2, and two 4096-unit fully connected layers with
    dropout 0.5. For a 224x224x3 input the maps are 110, 55, 26, 13, 13, 13,
    13 and 6 pixels wide, and with 1000 classes the model has 62,357,608
    parameters. Layer names are stable: `conv1`..`conv5`, `pool1`, `norm1`,
    `pool2`, `norm2`, `pool5`, `fc6`, `fc7`, `predictions` (plus
    `conv1_pad`, `pool1_pad`, `pool2_pad`, `flatten`, `drop6`, `drop7`).

    Pooling layers are `MaxPoolingWithSwitches2D`, so the deconvnet reuses
    them directly. Weights follow the paper's recipe: N(0, 1e-2) kernels,
    zero biases, and `FilterRMS(filter_rms)` on every convolution kernel.

    Reference:
        Zeiler & Fergus, "Visualizing and Understanding Convolutional
        Networks", ECCV 2014 (arXiv:1311.2901).

    Args:
        include_top: whether to include `fc6`, `fc7` and `predictions`.
        weights: `None` (random initialization), the path to a weights file,
            or a registered preset name (see
            `keras_zfnet.applications.available_presets("ZFNet")`).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: optional `(H, W, C)`; defaults to `(224, 224, 3)`. Any
            size of at least 53x53 works (the classifier then adapts to the
            size of `pool5`).
        pooling: with `include_top=False`, `None` (the 4D `pool5` output),
            `"avg"` or `"max"` (global pooling to a 2D output).
        classes: the number of classes, with `include_top=True`.
        classifier_activation: the activation of `predictions`; `None` gives
            logits.
        name: the model's name.
        filter_rms: the radius of the `FilterRMS` kernel constraint (paper:
            0.1); `None` disables it.

    Returns:
        A `keras.Model`. Inputs are preprocessed with
        `keras_zfnet.preprocess_input`.

    Example:

    >>> model = ZFNet(weights=None)
    >>> model.count_params()
    62357608
    """
    return _paper_model(
        "ZFNet", ZFNET_STAGES, include_top=include_top, weights=weights,
        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation,
        name=name, filter_rms=filter_rms,
    )


def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="alexnet",
    filter_rms=None,
):
    """Instantiates AlexNet, the baseline of Zeiler & Fergus (2014).

    Krizhevsky et al.'s network as a single tower (no grouped convolutions):
    96 11x11/4 filters in the first layer (2 pixels of zero padding give
    55x55 maps from a 224x224 input), 256 5x5/1 in the second, then the same
    layers as `ZFNet`: maps of 55, 27, 27, 13, 13, 13, 13 and 6 pixels, and
    62,378,344 parameters with 1000 classes. Layer names are those of
    `ZFNet`.

    Reference:
        Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
        Convolutional Neural Networks", NIPS 2012.

    Args:
        include_top: whether to include `fc6`, `fc7` and `predictions`.
        weights: `None`, the path to a weights file, or a preset name.
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: optional `(H, W, C)`; defaults to `(224, 224, 3)`.
        pooling: `None`, `"avg"` or `"max"` with `include_top=False`.
        classes: the number of classes, with `include_top=True`.
        classifier_activation: the activation of `predictions`.
        name: the model's name.
        filter_rms: optional `FilterRMS` radius (AlexNet used none).

    Returns:
        A `keras.Model`.

    Example:

    >>> AlexNet(weights=None).get_layer("conv1").output.shape
    (None, 55, 55, 96)
    """
    return _paper_model(
        "AlexNet", ALEXNET_STAGES, include_top=include_top, weights=weights,
        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation,
        name=name, filter_rms=filter_rms,
    )
