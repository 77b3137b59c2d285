"""Projections of graph models log nothing from TensorFlow's tracing: no
autograph "could not parse the source code of <lambda>" / "could not
transform" warning (every compiled pass runs with autograph off) and no
retracing warning for passes built once per layer."""

import io
import logging

import keras
import numpy as np
import pytest

import keras_zfnet as kz


@pytest.fixture
def tf_log(capfd):
    """Everything TensorFlow (and autograph) writes while the test runs:
    the `tensorflow` logger, stdout and stderr."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    loggers = [logging.getLogger("tensorflow"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    capfd.readouterr()

    def read():
        out, err = capfd.readouterr()
        return buffer.getvalue() + out + err

    yield read
    for logger in loggers:
        logger.removeHandler(handler)


def _residual_model():
    def block(x, name):
        y = keras.layers.Conv2D(8, 3, padding="same", name=f"{name}_c1")(x)
        y = keras.layers.BatchNormalization(name=f"{name}_bn")(y)
        y = keras.layers.Activation("relu", name=f"{name}_r1")(y)
        y = keras.layers.Conv2D(8, 3, padding="same", name=f"{name}_c2")(y)
        y = keras.layers.Add(name=f"{name}_add")([x, y])
        return keras.layers.ReLU(name=f"{name}_out")(y)

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                            name="stem")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = block(x, "b1")
    x = block(x, "b2")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="pred")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.tf_only
def test_residual_projections_log_no_autograph_or_retracing_warning(tf_log):
    model = _residual_model()
    images = np.random.rand(3, 32, 32, 3).astype("float32")
    dn = kz.Deconvnet(model)
    for layer in ("b1_out", "b2_add", "b2_out", "pred"):
        for mode in ("max", "all"):
            dn.project(images, layer, channels=[0], mode=mode, verbose=0)
    for jit_compile in (True, False):
        kz.Deconvnet(model, windowed=False, jit_compile=jit_compile).project(
            images, "b2_out", channels=[0, 1], verbose=0)
    text = tf_log()
    for phrase in ("could not parse the source code", "AutoGraph",
                   "could not transform", "retracing"):
        assert phrase not in text, f"{phrase!r} logged:\n{text[-3000:]}"


def test_residual_projection_runs_on_every_backend():
    model = _residual_model()
    images = np.random.rand(2, 32, 32, 3).astype("float32")
    out = kz.Deconvnet(model).project(images, "b2_out", channels=[0],
                                      verbose=0)
    assert out.shape == (2, 1, 32, 32, 3) and np.isfinite(out).all()
