import numpy as np
import pytest
from keras import ops

from keras_zfnet import backend
from keras_zfnet.deconv.transposed import METHODS
from keras_zfnet.deconv.transposed import conv_transpose_valid
from keras_zfnet.deconv.transposed import method_for
from keras_zfnet.deconv.transposed import taps_gain

SHAPES = [
    ((9, 8), (7, 7), (2, 2), 3, 5),  # few channels, strided (a first layer)
    ((6, 7), (5, 4), (3, 2), 1, 5),
    ((5, 5), (2, 3), (2, 2), 2, 5),  # kernel smaller than any stride
    ((5, 5), (1, 1), (3, 3), 2, 3),  # some phases get no tap at all
    ((5, 6), (3, 3), (2, 2), 16, 5),
    ((4, 4), (3, 3), (1, 1), 3, 5),
    ((1, 1), (3, 3), (1, 1), 4, 6),  # a single seed position
    ((4, 5), (3, 3), (1, 1), 128, 128),  # wide
    ((4, 3), (5, 5), (2, 2), 128, 128),  # wide, strided
    ((3, 2), (1, 2), (3, 1), 4, 6),  # kernel < stride on one axis only
    ((1, 1), (3, 3), (2, 2), 16, 6),  # one position at a stride > 1
]


@pytest.mark.parametrize("method", [*METHODS, None])
@pytest.mark.parametrize("size,kernel,strides,channels,filters", SHAPES)
def test_equals_the_gradient_of_a_valid_convolution(
        size, kernel, strides, channels, filters, method):
    # The oracle: the backend's autodiff of a "valid" forward convolution.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(*kernel, channels, filters)).astype("float32")
    out_rows = (size[0] - 1) * strides[0] + kernel[0]
    out_cols = (size[1] - 1) * strides[1] + kernel[1]
    x = np.zeros((2, out_rows, out_cols, channels), "float32")
    y = rng.normal(size=(2, *size, filters)).astype("float32")

    def forward(inputs):
        return ops.conv(inputs, w, strides, "valid")

    assert tuple(forward(x).shape[1:3]) == size
    expected = ops.convert_to_numpy(
        backend.vjp(forward, [x], ops.convert_to_tensor(y))[0])
    result = ops.convert_to_numpy(
        conv_transpose_valid(ops.convert_to_tensor(y), w, strides, method))
    assert result.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(result, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, scale))


def test_taps_gain_is_the_share_of_multiply_adds_saved_times_filters():
    # A 1 x 1 input through a 3 x 3 kernel: phases compute 3 x 3 outputs
    # over 9 taps (81 per filter pair), taps the 9 needed.
    assert taps_gain((1, 1), (3, 3, 4, 10), (1, 1)) == pytest.approx(
        10 * (1 - 9 / 81))
    # A 1 x 1 kernel at stride 1 wastes nothing.
    assert taps_gain((7, 7), (1, 1, 4, 10), (1, 1)) == 0


def test_choices_follow_the_size_of_the_map():
    wide = (3, 3, 256, 256)
    for name in ("tensorflow", "jax"):
        # a small window: taps save most of the multiply-adds
        assert method_for(name, wide, (1, 1), (3, 3)) == "taps"
        # a big map: the overlap-add costs more than taps save
        assert method_for(name, wide, (1, 1), (56, 56)) != "taps"


@pytest.mark.parametrize("backend_name,shape,strides,size,expected", [
    # the measured choices documented in `method_for`
    ("tensorflow", (7, 7, 3, 96), (2, 2), (67, 67), "kernel"),
    ("tensorflow", (5, 5, 96, 256), (2, 2), (15, 15), "phases"),
    ("tensorflow", (3, 3, 256, 384), (1, 1), (5, 5), "taps"),
    ("tensorflow", (3, 3, 64, 96), (1, 1), (7, 7), "kernel"),
    # PyTorch: its own kernel, read channels-last, for every shape
    ("torch", (5, 5, 96, 256), (2, 2), (15, 15), "kernel"),
    ("torch", (7, 7, 3, 96), (2, 2), (67, 67), "kernel"),
    ("torch", (3, 3, 384, 384), (1, 1), (3, 3), "kernel"),
    ("torch", (1, 1, 1024, 256), (1, 1), (14, 14), "kernel"),
    ("jax", (7, 7, 3, 96), (2, 2), (67, 67), "phases"),
    ("jax", (5, 5, 96, 256), (2, 2), (15, 15), "taps"),
    ("jax", (3, 3, 96, 64), (1, 1), (7, 7), "taps"),  # gain 25
    ("jax", (3, 3, 32, 64), (1, 1), (14, 14), "phases"),  # gain 15
    ("jax", (5, 5, 1, 32), (1, 1), (28, 28), "taps"),  # few channels
])
def test_documented_choices(backend_name, shape, strides, size, expected):
    assert method_for(backend_name, shape, strides, size) == expected


def test_one_item_on_jax_takes_taps_from_a_lower_gain():
    # MiniZFNet conv2's whole 14 x 14 map (gain 15): taps for one item,
    # phases for a batch; VGG16's 112 x 112 maps (gain 4.5) and ResNet50's
    # 28 x 28 maps (gain 16.5, unmeasured at one item) keep phases.
    mini = ((3, 3, 32, 64), (1, 1), (14, 14))
    assert method_for("jax", *mini, items=1) == "taps"
    assert method_for("jax", *mini, items=64) == "phases"
    assert method_for("jax", (3, 3, 128, 128), (1, 1), (112, 112),
                      items=1) == "phases"
    assert method_for("jax", (3, 3, 128, 128), (1, 1), (28, 28),
                      items=1) == "phases"
    assert method_for("tensorflow", *mini, items=1) == "kernel"


@pytest.mark.tf_only
def test_dynamic_sizes_run_on_the_kernel():
    # A direct caller may trace with maps of unknown size (only TensorFlow's
    # signatures have them); the result equals the static-size one.
    import tensorflow as tf

    rng = np.random.default_rng(1)
    y = rng.normal(size=(2, 3, 4, 16)).astype("float32")
    w = rng.normal(size=(3, 3, 5, 16)).astype("float32")
    expected = ops.convert_to_numpy(conv_transpose_valid(y, w, (1, 1)))
    f = tf.function(lambda a: conv_transpose_valid(a, w, (1, 1)),
                    input_signature=[tf.TensorSpec((None, None, None, 16))])
    np.testing.assert_allclose(f(y).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_the_signal_dtype_is_kept(method):
    y = np.ones((1, 3, 3, 4), "float16")
    w = np.ones((3, 3, 2, 4), "float32")
    out = conv_transpose_valid(ops.convert_to_tensor(y), w, (1, 1), method)
    assert "float16" in str(out.dtype)


def test_an_unknown_method_is_named():
    y = np.ones((1, 2, 2, 4), "float32")
    k = np.ones((3, 3, 1, 4), "float32")
    with pytest.raises(ValueError, match="method='fft'"):
        conv_transpose_valid(y, k, (1, 1), method="fft")


def test_docstring_example():
    y = np.ones((1, 2, 2, 4), "float32")
    k = np.ones((3, 3, 1, 4), "float32")
    got = ops.convert_to_numpy(conv_transpose_valid(y, k, (1, 1)))[0, :, :, 0]
    corner, edge, middle = 4.0, 8.0, 16.0
    expected = np.array([[corner, edge, edge, corner],
                         [edge, middle, middle, edge],
                         [edge, middle, middle, edge],
                         [corner, edge, edge, corner]])
    np.testing.assert_array_equal(got, expected)
