"""`Deconvnet.project_positions` with shared images and ragged passes, on
every backend (JAX pads passes to one compiled shape,
`keras_zfnet.backend.padded_size`)."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet import backend


def test_padded_size():
    expected = 8 if keras.config.backend() == "jax" else 3
    assert backend.padded_size(3, 8) == expected
    assert backend.padded_size(8, 8) == 8


def test_shared_images_equal_one_image_per_entry():
    # Entries sharing images (one forward per distinct image) give the same
    # projections as the same entries each with its own copy of the image,
    # in entry order, whatever the batching.
    model = kz.MiniZFNet()
    dn = kz.Deconvnet(model)
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, size=(4, 28, 28, 1)).astype("float32")
    which = np.array([2, 0, 2, 3, 0, 2, 1, 2, 3])
    channels = rng.integers(0, 16, size=len(which))
    positions = rng.integers(0, 7, size=(len(which), 2))
    expected = dn.project_positions(images[which], "conv2", channels,
                                    positions)
    assert np.abs(expected).max() > 0
    for batch_size in (64, 4, 1):
        shared = dn.project_positions(images, "conv2", channels, positions,
                                      batch_size=batch_size,
                                      image_indices=which)
        np.testing.assert_allclose(shared, expected, rtol=1e-5,
                                   atol=1e-5 * np.abs(expected).max())
    with pytest.raises(ValueError, match="image_indices"):
        dn.project_positions(images, "conv2", channels, positions,
                             image_indices=which + 4)
    with pytest.raises(ValueError, match="same length"):
        dn.project_positions(images, "conv2", channels, positions)
