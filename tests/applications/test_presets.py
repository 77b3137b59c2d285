import os

import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.applications import presets
from keras_zfnet.datasets import fashion_mnist

REQUIRED = os.environ.get("KERAS_ZFNET_REQUIRE_FASHION_MNIST") == "1"
SHIPPED = ("fashion_mnist", "fashion_mnist_alexnet")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_presets_are_small_hashed_and_described(name):
    preset = presets.PRESETS[name]
    assert name in presets.available_presets("MiniZFNet")
    assert os.path.getsize(preset["path"]) <= 8 * 1024 * 1024
    assert presets.file_sha256(preset["path"]) == preset["sha256"]
    for key in ("test_accuracy", "seed", "command", "train_seconds"):
        assert key in preset, key


@pytest.mark.skipif(
    fashion_mnist.find_local() is None and not REQUIRED,
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
@pytest.mark.parametrize("name", SHIPPED)
def test_preset_accuracy_on_the_official_test_set(name):
    _, (x, y) = fashion_mnist.load_data(download=False, verbose=0)
    model = kz.MiniZFNet(weights=name)
    accuracy = (model.predict(x[..., None], batch_size=500, verbose=0)
                .argmax(-1) == y).mean()
    # The recorded accuracy is reproduced (to float noise on other CPUs).
    assert abs(accuracy - presets.PRESETS[name]["test_accuracy"]) < 2e-3
    if name == "fashion_mnist":
        assert accuracy >= 0.91


def test_preset_takes_raw_pixels_from_the_sample():
    x, y = fashion_mnist.load_sample(verbose=0)
    model = kz.MiniZFNet(weights="fashion_mnist")
    # Raw uint8 0..255 pixels, no preprocessing by the caller.
    accuracy = (model.predict(x[..., None], verbose=0).argmax(-1) == y).mean()
    assert accuracy > 0.88
    decoded = kz.decode_predictions(model.predict(x[:1, ..., None],
                                                  verbose=0), top=1)
    assert decoded[0][0][1] == fashion_mnist.CLASS_NAMES[
        int(np.argmax(model.predict(x[:1, ..., None], verbose=0)))]
