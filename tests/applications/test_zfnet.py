import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.constraints import FilterRMS

# Paper, Fig. 3 (224x224x3 input).
ZFNET_SIZES = {
    "conv1": (110, 110, 96),
    "pool1": (55, 55, 96),
    "norm1": (55, 55, 96),
    "conv2": (26, 26, 256),
    "pool2": (13, 13, 256),
    "norm2": (13, 13, 256),
    "conv3": (13, 13, 384),
    "conv4": (13, 13, 384),
    "conv5": (13, 13, 256),
    "pool5": (6, 6, 256),
    "flatten": (9216,),
    "fc6": (4096,),
    "fc7": (4096,),
    "predictions": (1000,),
}
ALEXNET_SIZES = dict(
    ZFNET_SIZES,
    conv1=(55, 55, 96),
    pool1=(27, 27, 96),
    norm1=(27, 27, 96),
    conv2=(27, 27, 256),
)


def _params(first_kernel):
    """Parameter count worked out from the layer table."""
    conv = [
        (first_kernel, 3, 96),
        (5, 96, 256),
        (3, 256, 384),
        (3, 384, 384),
        (3, 384, 256),
    ]
    count = sum(k * k * cin * cout + cout for k, cin, cout in conv)
    for fan_in, units in [(6 * 6 * 256, 4096), (4096, 4096), (4096, 1000)]:
        count += fan_in * units + units
    return count


@pytest.fixture(scope="module")
def zfnet():
    return kz.ZFNet(weights=None)


@pytest.fixture(scope="module")
def alexnet():
    return kz.AlexNet(weights=None)


def test_zfnet_stage_sizes_and_parameters(zfnet):
    for name, shape in ZFNET_SIZES.items():
        assert zfnet.get_layer(name).output.shape[1:] == shape, name
    assert _params(7) == 62357608
    assert zfnet.count_params() == 62357608


def test_alexnet_stage_sizes_and_parameters(alexnet):
    for name, shape in ALEXNET_SIZES.items():
        assert alexnet.get_layer(name).output.shape[1:] == shape, name
    assert alexnet.get_layer("conv1").kernel.shape == (11, 11, 3, 96)
    assert alexnet.get_layer("conv1").strides == (4, 4)
    assert alexnet.count_params() == _params(11)


def test_zfnet_recipe_details(zfnet):
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        conv = zfnet.get_layer(name)
        assert isinstance(conv.kernel_constraint, FilterRMS)
        assert conv.kernel_constraint.max_rms == 0.1
        assert conv.activation is keras.activations.relu
    assert zfnet.get_layer("drop6").rate == 0.5
    assert zfnet.get_layer("drop7").rate == 0.5
    assert isinstance(zfnet.get_layer("norm1"),
                      kz.layers.LocalResponseNormalization)
    assert isinstance(zfnet.get_layer("pool2"),
                      kz.layers.MaxPoolingWithSwitches2D)
    # Weights start at N(0, 1e-2), biases at 0.
    kernel = np.asarray(zfnet.get_layer("conv2").kernel)
    assert abs(kernel.std() - 1e-2) < 1e-3
    assert not np.any(np.asarray(zfnet.get_layer("conv2").bias))


@pytest.mark.parametrize("pooling,shape", [(None, (6, 6, 256)),
                                           ("avg", (256,)), ("max", (256,))])
@pytest.mark.parametrize("builder", [kz.ZFNet, kz.AlexNet])
def test_include_top_false_with_each_pooling(builder, pooling, shape):
    model = builder(include_top=False, pooling=pooling)
    assert model.output.shape[1:] == shape
    names = [layer.name for layer in model.layers]
    assert "fc6" not in names and "predictions" not in names


def test_custom_classes_activation_and_input_size():
    model = kz.ZFNet(input_shape=(96, 96, 3), classes=7,
                     classifier_activation=None)
    assert model.output.shape == (None, 7)
    assert model.get_layer("predictions").activation is keras.activations.linear
    logits = model.predict(np.zeros((1, 96, 96, 3)), verbose=0)
    assert logits.shape == (1, 7)


def test_input_tensor_is_used():
    tensor = keras.Input((64, 64, 3))
    model = kz.ZFNet(include_top=False, input_tensor=tensor)
    assert model.inputs[0] is tensor


def test_input_too_small_names_the_minimum():
    with pytest.raises(ValueError, match="at least 53x53"):
        kz.ZFNet(input_shape=(52, 52, 3))
    with pytest.raises(ValueError, match="at least 63x63"):
        kz.AlexNet(input_shape=(62, 80, 3))
    # The minimum itself builds.
    assert kz.ZFNet(include_top=False, input_shape=(53, 53, 3)).output.shape[
        1:3] == (1, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(pooling="median"), "pooling"),
        (dict(classes=0), "classes"),
        (dict(input_shape=(224, 224)), "input_shape"),
        (dict(weights="imagenet"), "Available presets"),
        (dict(weights="/no/such/file.weights.h5"), "Available presets"),
        (dict(weights=3), "weights"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kz.ZFNet(**kwargs)


def test_weights_file_round_trip(tmp_path):
    model = kz.ZFNet(input_shape=(64, 64, 3), classes=5)
    path = str(tmp_path / "zf.weights.h5")
    model.save_weights(path)
    again = kz.ZFNet(input_shape=(64, 64, 3), classes=5, weights=path)
    x = np.random.uniform(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(
        again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
