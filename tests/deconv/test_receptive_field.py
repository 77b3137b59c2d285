import keras
import numpy as np
import pytest

import keras_zfnet as kz


def test_zfnet_by_hand():
    # size += (k - 1) * jump; start -= pad * jump; jump *= stride, through
    # conv1_pad, conv1 7/2, pool1_pad, pool1 3/2, conv2 5/2, pool2_pad,
    # pool2 3/2, conv3..5 3/1 "same" (pad 1).
    model = kz.ZFNet()
    expected = {
        "conv1": (7, 2, -1),
        "pool1": (11, 4, -3),
        "conv2": (27, 8, -3),
        "pool2": (43, 16, -11),
        "conv3": (75, 16, -27),
        "conv5": (139, 16, -59),
        "pool5": (171, 32, -59),
    }
    for layer, (size, jump, start) in expected.items():
        rf = kz.receptive_field(model, layer)
        assert rf.size == (size, size) and rf.jump == (jump, jump), layer
        assert rf.start == (start, start), layer
    rf = kz.receptive_field(model, "conv2")
    assert rf.box(1, 2) == ((5, 32), (13, 40))


def _positive_chain():
    ones = keras.initializers.Constant(1.0)
    return keras.Sequential(
        [
            keras.Input((23, 21, 1)),
            keras.layers.ZeroPadding2D(((2, 0), (1, 1))),
            keras.layers.Conv2D(1, 3, strides=2, kernel_initializer=ones),
            keras.layers.Conv2D(1, (3, 2), padding="same",
                                kernel_initializer=ones),
            keras.layers.Cropping2D(((1, 0), (0, 1))),
            keras.layers.Conv2D(1, 2, strides=(2, 1), padding="same",
                                kernel_initializer=ones, name="top"),
        ]
    )


@pytest.mark.tf_only  # the gradient comes from TensorFlow's tape
def test_box_equals_gradient_support():
    # With all-ones kernels and a positive input, the gradient of one
    # output position is non-zero exactly on its receptive field (clipped
    # to the image), an independent check of the box arithmetic.
    tf = pytest.importorskip("tensorflow")
    model = _positive_chain()
    rf = kz.receptive_field(model, "top")
    x = tf.ones((1, 23, 21, 1))
    out_shape = model(x).shape[1:3]
    for i, j in [(0, 0), (1, 3), (out_shape[0] - 1, out_shape[1] - 1)]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x)[0, i, j, 0]
        support = np.asarray(tape.gradient(y, x))[0, :, :, 0] != 0
        (r0, r1), (c0, c1) = rf.box(i, j)
        expected = np.zeros_like(support)
        expected[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
        np.testing.assert_array_equal(support, expected)


def test_errors():
    model = kz.MiniZFNet()
    with pytest.raises(ValueError, match="no spatial map"):
        kz.receptive_field(model, "fc6")
    with pytest.raises(ValueError, match="Unknown layer"):
        kz.receptive_field(model, "conv7")
    fully_conv = keras.applications.VGG16(weights=None, include_top=False)
    with pytest.raises(ValueError, match="input_shape"):
        kz.receptive_field(fully_conv, "block1_conv1")
    rf = kz.receptive_field(fully_conv, "block2_pool",
                            input_shape=(64, 64, 3))
    assert rf.size == (16, 16) and rf.jump == (4, 4) and rf.start == (-6, -6)
