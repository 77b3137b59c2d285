import numpy as np
import pytest

from keras_zfnet.layers import MaxPoolingWithSwitches2D
from keras_zfnet.layers import MaxUnpooling2D


@pytest.mark.parametrize(
    "pool_size,strides,padding",
    [(3, 2, "valid"), (3, 2, "same"), (2, 2, "valid"), (3, 1, "same"),
     (2, 3, "same")],
)
@pytest.mark.parametrize("integers", [False, True])
@pytest.mark.parametrize("with_geometry", [False, True])
def test_unpooling_equals_max_pool_gradient(pool_size, strides, padding,
                                            integers, with_geometry):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    if integers:  # many tied maxima
        x = rng.integers(0, 3, size=(2, 11, 9, 4)).astype("float32")
    else:
        x = rng.normal(size=(2, 11, 9, 4)).astype("float32")
    x = tf.constant(x)
    pooled, switches = MaxPoolingWithSwitches2D(
        pool_size, strides, padding, return_switches=True
    )(x)
    upstream = tf.constant(rng.normal(size=pooled.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, pool_size, strides, padding.upper())
    expected = tape.gradient(y, x, output_gradients=upstream)
    geometry = dict(pool_size=pool_size, strides=strides,
                    padding=padding) if with_geometry else {}
    result = MaxUnpooling2D(output_size=(11, 9), **geometry)(
        [upstream, switches])
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6)


def test_hand_written_example_with_overlap():
    # 3x3 input, 2x2 windows with stride 1: the centre value 9 is the
    # maximum of all four windows, so all four pooled values land there.
    x = np.array([[1, 2, 3], [4, 9, 5], [6, 7, 8]], "float32").reshape(
        1, 3, 3, 1
    )
    _, switches = MaxPoolingWithSwitches2D(
        2, strides=1, return_switches=True
    )(x)
    values = np.array([[1, 2], [3, 4]], "float32").reshape(1, 2, 2, 1)
    result = MaxUnpooling2D(output_size=(3, 3))([values, switches])
    expected = np.zeros((3, 3), "float32")
    expected[1, 1] = 1 + 2 + 3 + 4
    np.testing.assert_array_equal(np.asarray(result)[0, :, :, 0], expected)


def test_hand_written_example_without_overlap():
    x = np.array(
        [[1, 5, 0, 2], [3, 2, 7, 1], [0, 0, 1, 1], [4, 0, 1, 9]], "float32"
    ).reshape(1, 4, 4, 1)
    pooled, switches = MaxPoolingWithSwitches2D(2, return_switches=True)(x)
    np.testing.assert_array_equal(
        np.asarray(pooled)[0, :, :, 0], [[5, 7], [4, 9]]
    )
    result = np.asarray(MaxUnpooling2D((4, 4))([pooled, switches]))[0, :, :, 0]
    expected = np.array(
        [[0, 5, 0, 0], [0, 0, 7, 0], [0, 0, 0, 0], [4, 0, 0, 9]], "float32"
    )
    np.testing.assert_array_equal(result, expected)


def test_get_config_round_trip_and_errors():
    layer = MaxUnpooling2D(output_size=(7, 5), pool_size=3, strides=2,
                           padding="same")
    clone = MaxUnpooling2D.from_config(layer.get_config())
    assert clone.output_size == (7, 5)
    assert (clone.pool_size, clone.strides, clone.padding) == (
        (3, 3), (2, 2), "same")
    with pytest.raises(ValueError, match="padding"):
        MaxUnpooling2D((4, 4), pool_size=2, padding="full")
    with pytest.raises(ValueError, match="output_size"):
        MaxUnpooling2D(output_size=(0, 3))
    with pytest.raises(ValueError, match=r"\[values, switches\]"):
        MaxUnpooling2D((4, 4))(np.zeros((1, 2, 2, 1), "float32"))
