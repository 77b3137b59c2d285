import keras
import numpy as np
import pytest

from keras_zfnet.layers import MaxPoolingWithSwitches2D

CASES = [
    (3, 2, "valid"),
    (3, 2, "same"),
    (2, 2, "valid"),
    (2, 2, "same"),
    (3, 1, "same"),
    ((2, 3), (1, 2), "valid"),
]


@pytest.mark.parametrize("pool_size,strides,padding", CASES)
def test_forward_equals_max_pooling_2d(pool_size, strides, padding):
    x = np.random.normal(size=(3, 11, 10, 4)).astype("float32")
    expected = keras.layers.MaxPooling2D(pool_size, strides, padding)(x)
    plain = MaxPoolingWithSwitches2D(pool_size, strides, padding)(x)
    pooled, switches = MaxPoolingWithSwitches2D(
        pool_size, strides, padding, return_switches=True
    )(x)
    np.testing.assert_array_equal(plain, expected)
    np.testing.assert_array_equal(pooled, expected)
    assert keras.backend.standardize_dtype(switches.dtype) in ("int32",
                                                               "int64")
    assert switches.shape == expected.shape


@pytest.mark.parametrize("pool_size,strides,padding", CASES)
def test_switches_point_at_the_maxima(pool_size, strides, padding):
    x = np.random.normal(size=(2, 9, 8, 3)).astype("float32")
    pooled, switches = MaxPoolingWithSwitches2D(
        pool_size, strides, padding, return_switches=True
    )(x)
    switches = np.asarray(switches)
    for n in range(2):
        flat = x[n].reshape(-1)
        # Every switch is a flat (y * W + x) * C + c index into one image
        # holding the pooled value, in the same channel.
        np.testing.assert_array_equal(flat[switches[n]], np.asarray(pooled)[n])
        assert np.all(switches[n] % 3 == np.arange(3))


def test_hand_written_switches_and_ties():
    # Window [[1, 3], [3, 2]] has two maxima: the first in row-major order
    # (row 0, col 1) wins, as in TensorFlow's max-pool gradient.
    x = np.array([[1, 3, 3], [3, 2, 1], [0, 3, 3]], "float32").reshape(
        1, 3, 3, 1
    )
    pooled, switches = MaxPoolingWithSwitches2D(
        2, strides=1, return_switches=True
    )(x)
    np.testing.assert_array_equal(
        np.asarray(pooled)[0, :, :, 0], [[3, 3], [3, 3]]
    )
    np.testing.assert_array_equal(
        np.asarray(switches)[0, :, :, 0], [[1, 1], [3, 7]]
    )


def test_get_config_round_trip():
    layer = MaxPoolingWithSwitches2D(3, 2, "same", return_switches=True)
    clone = MaxPoolingWithSwitches2D.from_config(layer.get_config())
    assert clone.pool_size == (3, 3)
    assert clone.strides == (2, 2)
    assert clone.padding == "same"
    assert clone.return_switches is True
    assert isinstance(clone, keras.layers.MaxPooling2D)


def test_symbolic_output_shapes():
    inputs = keras.Input((13, 13, 8))
    pooled, switches = MaxPoolingWithSwitches2D(
        3, 2, return_switches=True
    )(inputs)
    assert pooled.shape == (None, 6, 6, 8)
    assert switches.shape == (None, 6, 6, 8)
    assert switches.dtype == "int64"


def test_bad_arguments():
    with pytest.raises(ValueError, match="padding"):
        MaxPoolingWithSwitches2D(2, padding="full")
    with pytest.raises(ValueError, match="channels_last"):
        MaxPoolingWithSwitches2D(
            2, data_format="channels_first", return_switches=True
        )
