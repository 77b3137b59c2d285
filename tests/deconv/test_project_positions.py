"""`Deconvnet.project_positions` with ragged passes, on every backend (JAX
pads them to one compiled shape, `keras_zfnet.backend.padded_size`)."""

import keras
import numpy as np

import keras_zfnet as kz
from keras_zfnet import backend


def test_padded_size():
    expected = 8 if keras.config.backend() == "jax" else 3
    assert backend.padded_size(3, 8) == expected
    assert backend.padded_size(8, 8) == 8


def test_ragged_passes_equal_one_pass():
    # 9 entries on 4 images, 4 entries per pass: the passes hold 4, 4 and 1
    # entries on 2-3 distinct images; the padding never reaches the result.
    model = kz.MiniZFNet()
    dn = kz.Deconvnet(model)
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, size=(4, 28, 28, 1)).astype("float32")
    which = np.array([2, 0, 2, 3, 0, 2, 1, 2, 3])
    channels = rng.integers(0, 16, size=len(which))
    positions = rng.integers(0, 7, size=(len(which), 2))
    one_pass = dn.project_positions(images, "conv2", channels, positions,
                                    batch_size=64, image_indices=which)
    ragged = dn.project_positions(images, "conv2", channels, positions,
                                  batch_size=4, image_indices=which)
    np.testing.assert_allclose(ragged, one_pass, rtol=1e-5,
                               atol=1e-5 * np.abs(one_pass).max())
    assert np.abs(one_pass).max() > 0
