import numpy as np
import pytest
import tensorflow as tf

from keras_zfnet.deconv.transposed import conv_transpose_valid


@pytest.mark.parametrize(
    "size,kernel,strides,channels,filters",
    [
        ((9, 8), (7, 7), (2, 2), 3, 5),  # the phase path (few channels)
        ((6, 7), (5, 4), (3, 2), 1, 5),
        ((5, 5), (2, 3), (2, 2), 2, 5),  # kernel smaller than any stride
        ((5, 6), (3, 3), (2, 2), 16, 5),  # the plain path
        ((4, 4), (3, 3), (1, 1), 3, 5),
        ((4, 5), (3, 3), (1, 1), 128, 128),  # wide: forward convolution
        ((4, 3), (5, 5), (2, 2), 128, 128),  # wide, strided: phases
    ],
)
def test_equals_the_gradient_of_a_valid_convolution(size, kernel, strides,
                                                    channels, filters):
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(*kernel, channels, filters)),
                    tf.float32)
    out_rows = (size[0] - 1) * strides[0] + kernel[0]
    out_cols = (size[1] - 1) * strides[1] + kernel[1]
    x = tf.zeros((2, out_rows, out_cols, channels))
    y = tf.constant(rng.normal(size=(2, *size, filters)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        forward = tf.nn.conv2d(x, w, strides, "VALID")
    assert forward.shape[1:3] == size
    expected = tape.gradient(forward, x, output_gradients=y)
    result = conv_transpose_valid(y, w, strides)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(result, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, scale))
