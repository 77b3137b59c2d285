import keras
import numpy as np
import pytest

from keras_zfnet.constraints import FilterRMS


def test_filters_above_the_radius_are_rescaled_others_untouched():
    kernel = np.zeros((2, 2, 1, 3), "float32")
    kernel[..., 0] = 1.0  # RMS 1.0 -> rescaled to 0.1
    kernel[..., 1] = [[[0.05], [-0.05]], [[0.05], [-0.05]]]  # RMS 0.05
    kernel[..., 2] = [[[0.3], [0.0]], [[0.0], [0.4]]]  # RMS 0.25
    result = np.asarray(FilterRMS(0.1)(kernel))
    np.testing.assert_allclose(result[..., 0], 0.1, rtol=1e-6)
    np.testing.assert_array_equal(result[..., 1], kernel[..., 1])
    np.testing.assert_allclose(
        result[..., 2], kernel[..., 2] * (0.1 / 0.25), rtol=1e-6
    )
    rms = np.sqrt(np.mean(result**2, axis=(0, 1, 2)))
    np.testing.assert_allclose(rms, [0.1, 0.05, 0.1], rtol=1e-6)


def test_applied_by_the_optimizer_and_serializable():
    conv = keras.layers.Conv2D(
        4, 3, kernel_constraint=FilterRMS(0.1),
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
    )
    model = keras.Sequential([keras.Input((8, 8, 1)), conv])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 8, 8, 1)), np.zeros((4, 6, 6, 4)), verbose=0)
    rms = np.sqrt(np.mean(np.asarray(conv.kernel) ** 2, axis=(0, 1, 2)))
    assert np.all(rms <= 0.1 + 1e-6)
    config = keras.saving.serialize_keras_object(FilterRMS(0.2))
    assert keras.saving.deserialize_keras_object(config).max_rms == 0.2


def test_rejects_non_positive_radius():
    with pytest.raises(ValueError, match="max_rms"):
        FilterRMS(0.0)
