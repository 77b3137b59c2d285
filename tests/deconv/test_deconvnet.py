import keras
import numpy as np
import pytest

import keras_zfnet as kz
from tests.deconv import oracle


def _assert_close(result, expected, rtol=1e-4):
    """Relative to the largest magnitude of the expectation."""
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(result - expected).max() <= rtol * scale


def test_mirror_rectifies_the_worked_example():
    inputs = keras.Input((3, 3, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones",
                            name="c1")(inputs)
    x = keras.layers.ReLU(name="r")(x)
    dn = kz.Deconvnet(keras.Model(inputs, x))
    seed = np.array([[2, 1, -3], [1, 2, 1], [2, 1, -1]], "float32")
    out = dn.mirror_for("r")([seed.reshape(1, 3, 3, 1)])
    np.testing.assert_array_equal(
        np.asarray(out)[0, :, :, 0], [[2, 1, 0], [1, 2, 1], [2, 1, 0]]
    )
    assert dn.mirror_for("r").get_layer("r_rectify").step == "r: rectify"


def _tiny_model():
    inputs = keras.Input((5, 5, 1))
    x = keras.layers.Conv2D(1, 2, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    model = keras.Model(inputs, x)
    model.get_layer("conv").set_weights(
        [np.array([[1, 0], [0, 2]], "float32").reshape(2, 2, 1, 1),
         np.zeros(1, "float32")]
    )
    return model


TINY_INPUT = np.array(
    [[0, 1, 2, 0, 0],
     [3, 0, 0, 1, 0],
     [0, 0, 4, 0, 2],
     [1, 0, 0, 0, 0],
     [0, 2, 0, 0, 1]], "float32").reshape(1, 5, 5, 1)


def test_hand_computed_tiny_network():
    # conv y[i, j] = x[i, j] + 2 x[i+1, j+1]; pooled maxima 8 at (1, 1),
    # 5 at (1, 3), 5 at (3, 0), 4 at (2, 2) of the conv map. Projecting a
    # value v at conv position p puts v at p and 2v at p + (1, 1).
    dn = kz.Deconvnet(_tiny_model())
    strongest = np.zeros((5, 5), "float32")
    strongest[1, 1], strongest[2, 2] = 8, 16
    for layer in ("conv", "pool"):
        out = dn.project(TINY_INPUT, layer, 0, mode="max")
        np.testing.assert_array_equal(out[0, :, :, 0], strongest)
    every = np.zeros((5, 5), "float32")
    for (r, c), v in {(1, 1): 8, (1, 3): 5, (3, 0): 5, (2, 2): 4}.items():
        every[r, c] += v
        every[r + 1, c + 1] += 2 * v
    out = dn.project(TINY_INPUT, "pool", 0, mode="all")
    np.testing.assert_array_equal(out[0, :, :, 0], every)


def test_tied_maxima_use_the_first_switch_and_the_first_seed():
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones",
                            activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    dn = kz.Deconvnet(keras.Model(inputs, x))
    image = np.zeros((1, 4, 4, 1), "float32")
    image[0, 0, 1] = image[0, 1, 0] = 3.0  # tie inside window (0, 0)
    image[0, 2, 2] = image[0, 3, 3] = 3.0  # tie inside window (1, 1)
    out = dn.project(image, "pool", 0, mode="max")[0, :, :, 0]
    # Seed: first maximum of the pooled map (window (0, 0)); switch: first
    # maximum of that window, (0, 1).
    expected = np.zeros((4, 4))
    expected[0, 1] = 3.0
    np.testing.assert_array_equal(out, expected)
    every = dn.project(image, "pool", 0, mode="all")[0, :, :, 0]
    expected[2, 2] = 3.0
    np.testing.assert_array_equal(every, expected)


def _vgg_like():
    return keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                                name="b1c1"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                                name="b1c2"),
            keras.layers.MaxPooling2D(2, name="b1p"),
            keras.layers.Conv2D(12, 3, padding="same", name="b2c1"),
            keras.layers.BatchNormalization(name="b2bn"),
            keras.layers.ReLU(name="b2r"),
            keras.layers.MaxPooling2D(2, name="b2p"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="fc"),
            keras.layers.Dense(4, activation="softmax", name="out"),
        ]
    )


def _randomize_batchnorm(model):
    bn = model.get_layer("b2bn")
    rng = np.random.default_rng(3)
    bn.set_weights([rng.uniform(0.5, 2, 12), rng.normal(size=12),
                    rng.normal(size=12), rng.uniform(0.5, 2, 12)])


MODELS = {
    "zfnet": (lambda: kz.ZFNet(), (224, 224, 3),
              ["conv1", "pool1", "conv2", "norm2", "conv4", "conv5", "pool5",
               "fc6", "fc7"]),
    "mini": (lambda: kz.MiniZFNet(), (28, 28, 1),
             ["conv1", "norm1", "conv2", "conv3", "conv5", "pool5", "fc7"]),
    "vgg_like": (_vgg_like, (20, 20, 3),
                 ["b1c1", "b1c2", "b1p", "b2c1", "b2bn", "b2r", "b2p",
                  "fc"]),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    keras.utils.set_random_seed(7)
    build, shape, layers = MODELS[request.param]
    model = build()
    if request.param == "vgg_like":
        _randomize_batchnorm(model)
    rng = np.random.default_rng(11)
    images = rng.uniform(0, 255, size=(2, *shape)).astype("float32")
    if request.param == "zfnet":
        images = kz.preprocess_input(images)
    return model, images, layers


def test_equals_autodiff_formulation(case):
    model, images, layers = case
    dn = kz.Deconvnet(model)
    for layer in layers:
        out = dn.project(images, layer, [0, 3], mode="max")
        for k, channel in enumerate([0, 3]):
            expected = oracle.project(model.layers, images, layer,
                                      oracle.max_seed(channel))
            if np.abs(expected).max() == 0:
                continue  # a dead unit: nothing to compare
            _assert_close(out[:, k], expected)


def test_mode_all_equals_autodiff_formulation(case):
    model, images, layers = case
    dn = kz.Deconvnet(model)
    for layer in layers[:3]:
        out = dn.project(images, layer, 1, mode="all")
        expected = oracle.project(model.layers, images, layer,
                                  oracle.all_seed(1))
        _assert_close(out, expected)


def test_windowed_and_full_mirrors_agree(case):
    model, images, layers = case
    full = kz.Deconvnet(model, windowed=False)
    windows = kz.Deconvnet(model, windowed=True)
    for layer in layers:
        a = full.project(images, layer, [1, 2], mode="max")
        b = windows.project(images, layer, [1, 2], mode="max")
        np.testing.assert_allclose(b, a, rtol=1e-5,
                                   atol=1e-6 * np.abs(a).max())


def test_batched_channels_equal_separate_calls(case):
    model, images, layers = case
    dn = kz.Deconvnet(model)
    layer = layers[1]
    channels = [4, 0, 4, 2]
    batched = dn.project(images, layer, channels)
    # Same math; only the float summation order of batched convolutions may
    # differ, hence a tolerance of a few float32 ulps.
    for k, channel in enumerate(channels):
        single = dn.project(images, layer, channel)
        _assert_close(batched[:, k], single, rtol=1e-6)
    np.testing.assert_array_equal(batched[:, 0], batched[:, 2])
    # Splitting into several passes changes nothing.
    small = dn.project(images, layer, channels, batch_size=3)
    _assert_close(small, batched, rtol=1e-6)


def test_mode_all_is_the_sum_of_single_positions_when_linear():
    # One convolution (plus pooling): the only rectification acts on the
    # non-negative seed, so the mirror is linear given the switches and
    # "all" equals the sum of the one-position projections.
    model = _tiny_model()
    model.get_layer("conv").set_weights(
        [np.random.normal(size=(2, 2, 1, 1)).astype("float32"),
         np.zeros(1, "float32")]
    )
    dn = kz.Deconvnet(model)
    image = np.random.uniform(size=(1, 5, 5, 1)).astype("float32")
    every = dn.project(image, "conv", 0, mode="all")[0]
    positions = np.array([(r, c) for r in range(4) for c in range(4)])
    singles = dn.project_positions(
        np.repeat(image, len(positions), 0), "conv",
        np.zeros(len(positions), "int32"), positions,
    )
    np.testing.assert_allclose(singles.sum(0), every, rtol=1e-5, atol=1e-6)


def test_mode_all_is_not_linear_through_inner_rectification():
    # Deeper, the mirror rectifies reconstructed signals, so "all" differs
    # from the sum of single positions (the paper's deconvnet is not linear).
    model = _vgg_like()
    dn = kz.Deconvnet(model)
    image = np.random.uniform(size=(1, 20, 20, 3)).astype("float32")
    every = dn.project(image, "b1c2", 0, mode="all")[0]
    positions = np.array([(r, c) for r in range(20) for c in range(20)])
    singles = dn.project_positions(
        np.repeat(image, len(positions), 0), "b1c2",
        np.zeros(len(positions), "int32"), positions,
    ).sum(0)
    assert np.abs(singles - every).max() > 1e-3 * np.abs(every).max()


def test_project_positions_matches_max_mode():
    model = kz.MiniZFNet()
    dn = kz.Deconvnet(model)
    images = np.random.uniform(0, 255, size=(3, 28, 28, 1)).astype("float32")
    act = keras.Model(model.input, model.get_layer("conv2").output).predict(
        images, verbose=0)[..., 5]
    positions = [np.unravel_index(np.argmax(a), a.shape) for a in act]
    at = dn.project_positions(images, "conv2", [5, 5, 5], positions)
    np.testing.assert_array_equal(at, dn.project(images, "conv2", 5))


def test_vgg16_in_three_lines():
    model = keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(32, 32, 3))
    dn = kz.Deconvnet(model)
    images = np.random.uniform(-100, 100, (2, 32, 32, 3)).astype("float32")
    out = dn.project(images, "block4_conv2", [3, 7])
    assert out.shape == (2, 2, 32, 32, 3)
    # Compare on the most active channel (random weights leave some dead).
    act = keras.Model(model.input, model.get_layer("block4_conv2").output)(
        images)
    channel = int(np.argmax(np.max(act, axis=(0, 1, 2))))
    expected = oracle.project(model.layers, images, "block4_conv2",
                              oracle.max_seed(channel))
    _assert_close(dn.project(images, "block4_conv2", channel), expected)


def test_mirror_shares_kernels_and_model_is_untouched():
    model = kz.MiniZFNet()
    nodes = {layer.name: len(layer._inbound_nodes) for layer in model.layers}
    weights = [np.array(w) for w in model.get_weights()]
    dn = kz.Deconvnet(model)
    dn.project(np.zeros((1, 28, 28, 1)), "conv5", 0)
    filt = dn.mirror_for("conv3").get_layer("conv3_filter")
    assert filt.kernel is model.get_layer("conv3").kernel
    assert {layer.name: len(layer._inbound_nodes)
            for layer in model.layers} == nodes
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    # A mirror follows the live weights.
    conv1 = model.get_layer("conv1")
    image = np.random.uniform(0, 255, (1, 28, 28, 1)).astype("float32")
    first = dn.project(image, "conv1", 0)
    conv1.kernel.assign(conv1.kernel * 2.0)
    np.testing.assert_allclose(dn.project(image, "conv1", 0), 4 * first,
                               rtol=1e-5)


def test_nested_models_and_mirror_summary():
    base = kz.MiniZFNet(include_top=False)
    outer = keras.Sequential(
        [keras.Input((28, 28, 1)), base, keras.layers.Flatten(),
         keras.layers.Dense(3, activation="relu", name="head")]
    )
    dn = kz.Deconvnet(outer)
    assert "conv3" in dn.layer_names and "head" in dn.layer_names
    assert dn.mirror.name == "head_deconvnet"
    assert dn.project(np.ones((1, 28, 28, 1)), "head", 2).shape == (
        1, 28, 28, 1)


def test_a_softmax_head_passes_its_local_derivative():
    from tests.deconv import graph_oracle

    model = _vgg_like()
    dn = kz.Deconvnet(model)
    assert dn.layer_names[-1] == "out"
    images = np.random.default_rng(0).uniform(0, 1, (2, 20, 20, 3)).astype(
        "float32")
    expected = graph_oracle.project(model, images, "out",
                                    graph_oracle.max_seed(1))
    _assert_close(dn.project(images, "out", 1), expected)


@keras.saving.register_keras_serializable(package="tests")
class _TwoOutputs(keras.layers.Layer):
    def call(self, x):
        return x, -x

    def compute_output_shape(self, input_shape):
        return input_shape, input_shape


def test_a_layer_with_two_outputs_is_named_when_refused():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 3, name="c1")(inputs)
    a, b = _TwoOutputs(name="pair")(x)
    x = keras.layers.Add(name="add")([a, b])
    x = keras.layers.Conv2D(4, 3, name="c2")(x)
    with pytest.raises(ValueError, match=r"'pair' \(_TwoOutputs\).*2 "
                                         r"outputs.*\['c1'\]") as info:
        kz.Deconvnet(keras.Model(inputs, x))
    assert "Supported layers:" in str(info.value)


def test_bad_inputs():
    dn = kz.Deconvnet(kz.MiniZFNet())
    image = np.zeros((1, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"Unknown layer 'conv9'.*conv1"):
        dn.project(image, "conv9", 0)
    with pytest.raises(ValueError, match=r"64 channels.*\[0, 63\]"):
        dn.project(image, "conv5", 64)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\).*\(1, 32, 32, 1\)"):
        dn.project(np.zeros((1, 32, 32, 1)), "conv1", 0)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        dn.project(np.zeros((28, 28, 1)), "conv1", 0)
    bad = image.copy()
    bad[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dn.project(bad, "conv1", 0)
    with pytest.raises(ValueError, match="mode"):
        dn.project(image, "conv1", 0, mode="mean")
    with pytest.raises(ValueError, match="channels"):
        dn.project(image, "conv1", [])
    # Non-float images are converted.
    as_uint8 = dn.project(np.full((1, 28, 28, 1), 200, "uint8"), "conv1", 0)
    as_float = dn.project(np.full((1, 28, 28, 1), 200.0), "conv1", 0)
    np.testing.assert_array_equal(as_uint8, as_float)


def test_layer_objects_are_accepted():
    model = kz.MiniZFNet()
    dn = kz.Deconvnet(model)
    image = np.random.uniform(0, 255, (1, 28, 28, 1))
    np.testing.assert_array_equal(
        dn.project(image, model.get_layer("conv2"), 1),
        dn.project(image, "conv2", 1),
    )


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_xla_switches_equal_tensorflow_switches(padding):
    import tensorflow as tf

    from keras_zfnet.ops import max_pool_with_switches_xla as pool_with_switches

    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 3, (2, 9, 10, 4)).astype("float32"))
    for window, stride in [(3, 2), (2, 2), (3, 1), (2, 3)]:
        expected = tf.nn.max_pool_with_argmax(
            x, window, stride, padding.upper(), include_batch_in_index=False)
        geometry = ((window, stride, 0), (window, stride, 0))
        compiled = tf.function(
            lambda t: pool_with_switches(t, geometry, padding),
            jit_compile=True)
        for got, want in zip(compiled(x), expected):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_xla_and_plain_projections_agree(jit_compile):
    model = kz.MiniZFNet()
    images = np.random.uniform(0, 255, (2, 28, 28, 1)).astype("float32")
    reference = kz.Deconvnet(model, windowed=False, jit_compile=False)
    dn = kz.Deconvnet(model, jit_compile=jit_compile)
    for layer in ("conv1", "conv3", "fc6"):
        for mode in ("max", "all"):
            a = reference.project(images, layer, [0, 5], mode=mode)
            b = dn.project(images, layer, [0, 5], mode=mode)
            _assert_close(b, a, rtol=1e-5)
