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


def _first_maxima(x, pool_size, strides, padding):
    """NumPy reference: each window's maximum and the flat index
    `(row * W + col) * C + channel` of its first maximum, row-major."""
    n, height, width, channels = x.shape
    (kr, kc), (sr, sc) = pool_size, strides
    if padding == "same":
        rows, cols = -(-height // sr), -(-width // sc)
        top = max((rows - 1) * sr + kr - height, 0) // 2
        left = max((cols - 1) * sc + kc - width, 0) // 2
    else:
        rows, cols = (height - kr) // sr + 1, (width - kc) // sc + 1
        top = left = 0
    pooled = np.zeros((n, rows, cols, channels), "float32")
    switches = np.zeros((n, rows, cols, channels), "int64")
    for b, i, j, c in np.ndindex(n, rows, cols, channels):
        best = None
        for r in range(i * sr - top, i * sr - top + kr):
            for q in range(j * sc - left, j * sc - left + kc):
                if 0 <= r < height and 0 <= q < width and (
                        best is None or x[b, r, q, c] > best[0]):
                    best = (x[b, r, q, c], (r * width + q) * channels + c)
        pooled[b, i, j, c], switches[b, i, j, c] = best
    return pooled, switches


@pytest.mark.parametrize("pool_size,strides,padding", CASES)
def test_switches_with_many_ties_pick_the_first_maximum(pool_size, strides,
                                                        padding):
    # Values in {0, 1, 2}: most windows hold tied maxima. The layer (the
    # backend's kernel where there is one) and the keras.ops form (the
    # compiled backends' chain of selects, of displacements or of offsets
    # read through a table when shared; PyTorch's stacked form) all equal
    # the row-major first maximum.
    from keras_zfnet import ops as zf_ops

    x = np.random.default_rng(3).integers(0, 3, (2, 9, 8, 3)).astype(
        "float32")
    pool = (pool_size,) * 2 if isinstance(pool_size, int) else pool_size
    step = (strides,) * 2 if isinstance(strides, int) else strides
    expected, expected_switches = _first_maxima(x, pool, step, padding)
    layer = MaxPoolingWithSwitches2D(pool_size, strides, padding,
                                     return_switches=True)
    geometry = zf_ops.window_geometry(x.shape[1:], pool, step, padding)
    forms = [layer(x)] + [zf_ops.max_pool_with_switches_portable(
        keras.ops.convert_to_tensor(x), geometry, padding, shared)
        for shared in (False, True)]
    for pooled, switches in forms:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(pooled),
                                      expected)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(switches), expected_switches)
