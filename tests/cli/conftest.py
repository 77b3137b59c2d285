import os

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A tiny saved classifier: 12x12x1 -> conv1 (4) -> pool -> conv2 (6)
    -> dense (3, softmax)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ], name="tiny")
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    model.save(path)
    return path


def write_pngs(folder, pixels):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(pixels):
        Image.fromarray(image.astype("uint8")).save(
            os.path.join(folder, f"img_{i}.png"))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_pixels():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (5, 12, 12)).astype("uint8")


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, tiny_pixels):
    return write_pngs(tmp_path_factory.mktemp("images") / "imgs",
                      tiny_pixels)
