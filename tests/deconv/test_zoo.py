"""The deconvnet on the `keras.applications` zoo and keras-hub image
classifiers (random weights, small inputs) equals the independent autodiff
formulation (`tests/deconv/graph_oracle.py`) within 1e-4 relative."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.deconv.model_graph import model_graph
from tests.deconv import graph_oracle as oracle

# name -> (builder, input size, [(layer, mode), ...])
ZOO = {
    "VGG16": (keras.applications.VGG16, 32,
              [("block3_conv3", "max"), ("block4_pool", "all")]),
    "ResNet50V2": (keras.applications.ResNet50V2, 32,
                   [("conv2_block3_out", "max"), ("conv3_block1_out", "all")]),
    "InceptionV3": (keras.applications.InceptionV3, 75,
                    [("mixed0", "max"), ("mixed1", "all")]),
    "Xception": (keras.applications.Xception, 71,
                 [(keras.layers.Add, "max"), ("block4_sepconv2_bn", "all")]),
    "MobileNetV3Small": (keras.applications.MobileNetV3Small, 32,
                         [(keras.layers.Add, "max"),
                          (keras.layers.Multiply, "all")]),
    "EfficientNetV2B0": (keras.applications.EfficientNetV2B0, 32,
                         [("block2b_add", "max"), ("block4a_se_excite",
                                                   "all")]),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, 32,
                     [("convnext_tiny_stage_0_block_1_identity", "max"),
                      ("convnext_tiny_downsampling_conv_0", "all")]),

    "NASNetMobile": (keras.applications.NASNetMobile, 32,
                     [("normal_add_1_0", "max")]),
    "DenseNet121": (keras.applications.DenseNet121, 32,
                    [("conv2_block3_concat", "max"), ("pool2_pool", "all")]),
}


def _assert_close(result, expected, rtol=1e-4):
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(result - expected).max() <= rtol * scale


def _pick(dn, kind):
    """The middle projectable layer of a type (names differ between
    Keras releases)."""
    view = model_graph(dn.model)
    names = [n for n in dn.layer_names
             if isinstance(view.get_layer(n), kind)]
    return names[len(names) // 2]


def _check(model, size, layers):
    images = np.random.default_rng(0).uniform(
        -1, 1, (1, size, size, 3)).astype("float32")
    dn = kz.Deconvnet(model)
    for layer, mode in layers:
        if isinstance(layer, type):
            layer = _pick(dn, layer)
        act = np.asarray(model_graph(model).feature_model([layer])(
            images)[0])
        channel = int(np.argmax(act.reshape(-1, act.shape[-1]).max(0)))
        seed = oracle.max_seed if mode == "max" else oracle.all_seed
        stop = model_graph(model).get_layer(layer).name
        expected = oracle.project(model, images, stop, seed(channel))
        _assert_close(dn.project(images, layer, channel, mode=mode),
                      expected)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_keras_applications_equal_autodiff(name):
    build, size, layers = ZOO[name]
    keras.utils.set_random_seed(0)
    model = build(weights=None, include_top=False,
                  input_shape=(size, size, 3))
    _check(model, size, layers)


HUB = ("ResNet", "VGG", "DenseNet", "Xception")


@pytest.mark.parametrize("family", HUB)
def test_keras_hub_classifiers_equal_autodiff(family):
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(0)
    backbone, layers = _hub_backbone(keras_hub, family)
    inputs = keras.Input((32, 32, 3))
    x = backbone(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(4, name="logits")(x)
    model = keras.Model(inputs, x)
    _check(model, 32, layers + [("logits", "max")])


def test_keras_hub_cspnet_split_is_refused_by_name():
    """CSPNet splits maps with a two-output `split` operation; the engine
    follows single-output layers, and says so naming the operation."""
    keras_hub = pytest.importorskip("keras_hub")
    backbone, _ = _hub_backbone(keras_hub, "CSPNet")
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, backbone(inputs))
    with pytest.raises(ValueError, match=r"\(Split\) cannot be mirrored.*"
                                         r"2 outputs"):
        kz.Deconvnet(model)


def _hub_backbone(keras_hub, family):
    models = keras_hub.models
    if family == "ResNet":
        backbone = models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[3],
            stackwise_num_filters=[64, 64], stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2], block_type="basic_block",
            use_pre_activation=True, image_shape=(None, None, 3))
    elif family == "VGG":
        backbone = models.VGGBackbone(
            stackwise_num_repeats=[1, 1], stackwise_num_filters=[8, 16],
            image_shape=(None, None, 3))
    elif family == "DenseNet":
        backbone = models.DenseNetBackbone(
            stackwise_num_repeats=[1, 1], image_shape=(None, None, 3))
    elif family == "Xception":
        backbone = models.XceptionBackbone(
            stackwise_conv_filters=[[8, 8], [16, 16], [16, 16]],
            stackwise_pooling=[True, True, False],
            image_shape=(None, None, 3))
    else:
        backbone = models.CSPNetBackbone(
            stem_filters=8, stem_kernel_size=3, stem_strides=1,
            stackwise_depth=[1, 1], stackwise_strides=2,
            stackwise_num_filters=[16, 32], block_type="bottleneck_block",
            stage_type="csp", bottle_ratio=[0.5], block_ratio=[1.0],
            expand_ratio=[2.0], image_shape=(None, None, 3))
    return backbone, [(keras.layers.Conv2D, "max")]
