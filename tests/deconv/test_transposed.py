import numpy as np
import pytest
import tensorflow as tf

from keras_zfnet.deconv.transposed import conv_transpose_valid


@pytest.mark.parametrize(
    "size,kernel,strides,channels",
    [
        ((9, 8), (7, 7), (2, 2), 3),  # the phase path (few channels)
        ((6, 7), (5, 4), (3, 2), 1),
        ((5, 5), (2, 3), (2, 2), 2),  # kernel smaller than... any stride
        ((5, 6), (3, 3), (2, 2), 16),  # the plain path
        ((4, 4), (3, 3), (1, 1), 3),
    ],
)
def test_equals_the_gradient_of_a_valid_convolution(size, kernel, strides,
                                                    channels):
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(*kernel, channels, 5)), tf.float32)
    out_rows = (size[0] - 1) * strides[0] + kernel[0]
    out_cols = (size[1] - 1) * strides[1] + kernel[1]
    x = tf.zeros((2, out_rows, out_cols, channels))
    y = tf.constant(rng.normal(size=(2, *size, 5)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        forward = tf.nn.conv2d(x, w, strides, "VALID")
    assert forward.shape[1:3] == size
    expected = tape.gradient(forward, x, output_gradients=y)
    result = conv_transpose_valid(y, w, strides)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
