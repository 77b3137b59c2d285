"""A mirror is a view of its source model: it refuses a config of its own
(saying how to rebuild it), and rebuilding it from the model gives the same
mirror."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz


def _model():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    y = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = keras.layers.Add(name="add")([x, y])
    x = keras.layers.ReLU(name="relu")(x)
    return keras.Model(inputs, keras.layers.MaxPooling2D(name="pool")(x))


def test_get_config_and_serialization_refused_with_the_way_to_rebuild():
    mirror = kz.Deconvnet(_model()).mirror_for("pool")
    for refuse in (mirror.get_config,
                   lambda: keras.saving.serialize_keras_object(mirror),
                   mirror.get_layer("pool_unpool").get_config):
        with pytest.raises(NotImplementedError,
                           match=r"mirror_for\(\s*layer") as info:
            refuse()
        assert "view of that model" in str(info.value)
    with pytest.raises(NotImplementedError, match="mirror_for"):
        kz.deconv.mirror.MirrorStep.from_config({"name": "conv1_filter"})


def test_rebuilt_mirror_from_the_saved_model_is_equivalent(tmp_path):
    model = _model()
    mirror = kz.Deconvnet(model).mirror_for("pool")
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    rebuilt = kz.Deconvnet(loaded).mirror_for("pool")
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in mirror.layers]
    assert [tuple(t.shape) for t in rebuilt.inputs] == [
        tuple(t.shape) for t in mirror.inputs]
    images = np.random.rand(2, 12, 12, 3).astype("float32")
    np.testing.assert_allclose(
        kz.Deconvnet(loaded).project(images, "pool", [0, 3], verbose=0),
        kz.Deconvnet(model).project(images, "pool", [0, 3], verbose=0),
        rtol=1e-5, atol=1e-6)
