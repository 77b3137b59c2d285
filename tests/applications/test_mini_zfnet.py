import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.applications import presets


def test_same_topology_as_zfnet_scaled_down():
    model = kz.MiniZFNet()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 5
    assert kinds.count("MaxPoolingWithSwitches2D") == 3
    assert kinds.count("LocalResponseNormalization") == 2
    assert [model.get_layer(f"fc{i}").units for i in (6, 7)] == [256, 256]
    assert model.get_layer("conv5").output.shape[1:] == (7, 7, 64)
    assert model.output.shape == (None, 10)
    assert model.count_params() < 1_000_000


def test_raw_pixels_are_rescaled_inside_the_model():
    model = kz.MiniZFNet()
    rescaling = model.get_layer("rescaling")
    out = rescaling(np.array([[0.0, 127.5, 255.0]]))
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0]])
    assert "rescaling" not in [
        layer.name for layer in kz.MiniZFNet(include_preprocessing=False).layers
    ]


def test_alexnet_style_first_layer():
    zf = kz.MiniZFNet(first_layer="zfnet").get_layer("conv1")
    alex = kz.MiniZFNet(first_layer="alexnet").get_layer("conv1")
    assert alex.kernel_size[0] > zf.kernel_size[0]
    assert alex.strides[0] > zf.strides[0]
    custom = kz.MiniZFNet(first_layer=(7, 3)).get_layer("conv1")
    assert custom.kernel_size == (7, 7) and custom.strides == (3, 3)
    with pytest.raises(ValueError, match="first_layer"):
        kz.MiniZFNet(first_layer="vgg")


def test_other_sizes_and_headless():
    model = kz.MiniZFNet(input_shape=(64, 64, 3), include_top=False,
                         pooling="avg")
    assert model.output.shape == (None, 64)
    out = model.predict(np.zeros((1, 64, 64, 3)), verbose=0)
    assert out.shape == (1, 64)


@pytest.fixture
def fake_preset(tmp_path):
    """A registered preset backed by a freshly saved weights file."""
    model = kz.MiniZFNet()
    path = str(tmp_path / "fake.weights.h5")
    model.save_weights(path)
    presets.register_preset(
        "test_fake", "MiniZFNet", path, presets.file_sha256(path),
        input_shape=(28, 28, 1), classes=10,
        config={"first_layer": "zfnet"},
    )
    yield model, path
    presets.PRESETS.pop("test_fake")


def test_preset_loads_and_checks_hash(fake_preset):
    model, path = fake_preset
    loaded = kz.MiniZFNet(weights="test_fake")
    x = np.random.uniform(0, 255, size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    headless = kz.MiniZFNet(weights="test_fake", include_top=False,
                            input_shape=(40, 40, 1))
    np.testing.assert_array_equal(
        headless.get_layer("conv3").kernel, model.get_layer("conv3").kernel
    )
    with open(path, "ab") as f:
        f.write(b"corrupt")
    with pytest.raises(ValueError, match="corrupt"):
        kz.MiniZFNet(weights="test_fake")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(classes=5), "10-class"),
        (dict(input_shape=(32, 32, 1)), "input_shape"),
        (dict(first_layer="alexnet"), "first_layer"),
        (dict(classifier_activation="sigmoid"), "softmax"),
        (dict(include_top=False, input_shape=(28, 28, 3)), "channel"),
    ],
)
def test_preset_conflicts(fake_preset, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kz.MiniZFNet(weights="test_fake", **kwargs)


def test_unknown_preset_lists_available(fake_preset):
    with pytest.raises(ValueError, match="test_fake"):
        kz.MiniZFNet(weights="no_such_preset")


def test_registered_preset_without_file_is_unavailable(tmp_path):
    presets.register_preset(
        "test_missing", "MiniZFNet", str(tmp_path / "none.weights.h5"),
        "0" * 64, input_shape=(28, 28, 1), classes=10,
    )
    try:
        assert "test_missing" not in kz.applications.available_presets()
        with pytest.raises(ValueError, match="not installed"):
            kz.MiniZFNet(weights="test_missing")
    finally:
        presets.PRESETS.pop("test_missing")
