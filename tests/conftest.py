"""Shared test settings and fixtures.

The suite runs once per Keras backend, each in its own process
(`KERAS_BACKEND=jax pytest ...`; TensorFlow when unset). Tests of what only
TensorFlow has (`tf.data`, `tfds`, `tf.distribute`, TensorFlow's kernels)
carry `@pytest.mark.tf_only` and are skipped on the other backends, as
keras-hub's `tf_only` marker is.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tf_only: needs the TensorFlow backend (tf.data, tfds, "
        "tf.distribute); skipped on the others")


def pytest_collection_modifyitems(config, items):
    if keras.config.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"TensorFlow only (backend: {keras.config.backend()})")
    for item in items:
        if "tf_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
