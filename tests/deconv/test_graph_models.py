"""Deconvnet, receptive fields and analyses on graph models (branches)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_zfnet as kz
from keras_zfnet.deconv import engine
from keras_zfnet.deconv import windows as windows_lib
from tests.deconv import graph_oracle as oracle


def _assert_close(result, expected, rtol=1e-4):
    """Relative to the largest magnitude of the expectation."""
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(result - expected).max() <= rtol * scale


def _randomize_batch_norms(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(
                "float32") for w in layer.get_weights()])


def _small_graph(size=16):
    """Fan-out, Add of three, BatchNormalization, ReLU(6), DepthwiseConv2D,
    swish, max and average pooling, Concatenate, padding, a strided conv."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                            name="c1")(inputs)
    a = keras.layers.Conv2D(8, 3, padding="same", name="a")(x)
    a = keras.layers.BatchNormalization(name="bn")(a)
    a = keras.layers.ReLU(6.0, name="r6")(a)
    b = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    b = keras.layers.Activation("swish", name="sw")(b)
    s = keras.layers.Add(name="add")([a, b, x])
    p = keras.layers.MaxPooling2D(2, name="mp")(s)
    q = keras.layers.AveragePooling2D(3, strides=1, padding="same",
                                      name="ap")(p)
    c = keras.layers.Concatenate(name="cat")([p, q])
    c = keras.layers.ZeroPadding2D(1, name="zp")(c)
    y = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="c2")(c)
    model = keras.Model(inputs, y)
    _randomize_batch_norms(model)
    return model


def _se_graph():
    """A squeeze-and-excitation block (EfficientNet's): global pooling,
    reshape, swish and sigmoid convolutions, a broadcast Multiply, then a
    separable convolution and a dense head."""
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="swish",
                            name="stem")(inputs)
    s = keras.layers.GlobalAveragePooling2D(name="squeeze")(x)
    s = keras.layers.Reshape((1, 1, 8), name="reshape")(s)
    s = keras.layers.Conv2D(4, 1, activation="swish", name="reduce")(s)
    s = keras.layers.Conv2D(8, 1, activation="sigmoid", name="expand")(s)
    x = keras.layers.Multiply(name="excite")([x, s])
    x = keras.layers.SeparableConv2D(6, 3, strides=2, activation="relu",
                                     name="sep")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(5, activation="relu", name="fc")(x)
    return keras.Model(inputs, x)


def _strong_channels(model, layer, images, count=2):
    """The channels with the largest activations (never a dead one)."""
    act = keras.Model(model.input, model.get_layer(layer).output)(images)
    peaks = np.asarray(act).reshape(-1, act.shape[-1]).max(axis=0)
    return [int(c) for c in np.argsort(-peaks)[:count]]


IMAGES = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(
    "float32")


@pytest.mark.parametrize("mode", ["max", "all"])
def test_small_graph_equals_autodiff_formulation(mode):
    model = _small_graph()
    dn = kz.Deconvnet(model)
    seed = oracle.max_seed if mode == "max" else oracle.all_seed
    for layer in ("c1", "sw", "add", "cat", "c2"):
        channels = _strong_channels(model, layer, IMAGES)
        got = dn.project(IMAGES, layer, channels, mode=mode)
        for k, channel in enumerate(channels):
            expected = oracle.project(model, IMAGES, layer, seed(channel))
            _assert_close(got[:, k], expected)


def test_squeeze_excitation_and_dense_equal_autodiff_formulation():
    model = _se_graph()
    dn = kz.Deconvnet(model)
    images = IMAGES[:, :12, :12]
    for layer, mode in (("excite", "max"), ("sep", "all"), ("fc", "max")):
        seed = oracle.max_seed if mode == "max" else oracle.all_seed
        expected = oracle.project(model, images, layer, seed(2))
        _assert_close(dn.project(images, layer, 2, mode=mode), expected)


def test_windowed_and_whole_map_mirrors_agree():
    model = _small_graph()
    full = kz.Deconvnet(model, windowed=False)
    windows = kz.Deconvnet(model, windowed=True)
    shape = IMAGES.shape[1:]
    graph = windows._graph(shape)
    assert windows_lib.choose(graph, graph.by_name["c2"], "max",
                              True).windowed
    for layer in ("add", "c2"):
        _assert_close(windows.project(IMAGES, layer, [0, 5]),
                      full.project(IMAGES, layer, [0, 5]), rtol=1e-5)


def test_windows_turn_into_whole_maps_where_they_would_cover_them():
    # On 10 x 10 images, c2's receptive field covers mp's whole 5 x 5 map:
    # from mp down the pass runs on whole maps, and the windowed ap and
    # cat above paste their signals into mp's map at each item's offset.
    model = _small_graph(size=10)
    windows = kz.Deconvnet(model, windowed=True)
    images = np.random.default_rng(1).normal(size=(3, 10, 10, 3)).astype(
        "float32")
    graph = windows._graph(images.shape[1:])
    local = windows_lib.receptive_windows(graph, graph.by_name["c2"])
    assert {graph.nodes[i].name for i in local.whole} == {
        "mp", "add", "r6", "bn", "a", "sw", "dw", "c1", "input"}
    assert all(local.windowed_at(graph.by_name[n])
               for n in ("c2", "zp", "cat", "ap"))
    assert all(local.sizes[i] == graph.nodes[i].output_shape[:2]
               for i in local.whole)
    channels = _strong_channels(model, "c2", images, count=3)
    got = windows.project(images, "c2", channels)
    for k, channel in enumerate(channels):
        expected = oracle.project(model, images, "c2",
                                  oracle.max_seed(channel))
        _assert_close(got[:, k], expected)
    _assert_close(got, kz.Deconvnet(model, windowed=False).project(
        images, "c2", channels), rtol=1e-5)


def test_a_whole_map_read_by_a_whole_and_a_windowed_layer():
    # c2's 9 x 9 kernel makes c1's window cover its 8 x 8 map, so c1 and c0
    # run whole; the 1 x 1 `side` stays windowed: c0 receives a part placed
    # as a whole map (from c1) and one pasted at each item's offset.
    inputs = keras.Input((8, 8, 2))
    c0 = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                             name="c0")(inputs)
    c1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                             name="c1")(c0)
    c2 = keras.layers.Conv2D(4, 9, padding="same", name="c2")(c1)
    side = keras.layers.Conv2D(4, 1, name="side")(c0)
    model = keras.Model(inputs, keras.layers.Add(name="add")([c2, side]))
    images = np.random.default_rng(2).normal(size=(3, 8, 8, 2)).astype(
        "float32")
    dn = kz.Deconvnet(model, windowed=True)
    graph = dn._graph(images.shape[1:])
    local = windows_lib.receptive_windows(graph, graph.by_name["add"])
    assert {graph.nodes[i].name for i in local.whole} == {
        "c1", "c0", "input"}
    assert local.windowed_at(graph.by_name["side"])
    got = dn.project(images, "add", [0, 1, 2, 3])
    for channel in range(4):
        _assert_close(got[:, channel], oracle.project(
            model, images, "add", oracle.max_seed(channel)))


def test_a_one_by_one_seed_map_runs_on_whole_maps():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(3, 2, name="top")(x)
    model = keras.Model(inputs, x)
    images = np.random.default_rng(4).normal(size=(2, 4, 4, 2)).astype(
        "float32")
    dn = kz.Deconvnet(model, windowed=True)
    graph = dn._graph(images.shape[1:])
    assert windows_lib.receptive_windows(graph, graph.by_name["top"]) is None
    got = dn.project(images, "top", [0, 2])
    for k, channel in enumerate((0, 2)):
        _assert_close(got[:, k], oracle.project(
            model, images, "top", oracle.max_seed(channel)))


def test_positions_and_batched_channels_match_max_mode():
    dn = kz.Deconvnet(_small_graph())
    batched = dn.project(IMAGES, "add", [0, 3, 7])
    for k, channel in enumerate((0, 3, 7)):
        np.testing.assert_allclose(dn.project(IMAGES, "add", channel),
                                   batched[:, k], rtol=1e-5, atol=1e-6)
    activations = np.asarray(model_features(dn.model, "add")(IMAGES))
    positions = [np.unravel_index(np.argmax(a[..., 3]), a.shape[:2])
                 for a in activations]
    out = dn.project_positions(IMAGES, "add", [3, 3], np.array(positions))
    np.testing.assert_allclose(out, batched[:, 1], rtol=1e-5, atol=1e-6)


def test_mirror_model_is_inspectable_and_runs():
    model = _small_graph()
    dn = kz.Deconvnet(model, windowed=False)
    assert dn.layer_names == ["c1", "a", "dw", "bn", "r6", "sw", "add",
                              "mp", "ap", "cat", "zp", "c2"]
    mirror = dn.mirror
    assert isinstance(mirror, keras.Model)
    assert [i.name for i in mirror.inputs] == ["seed", "mp_switches",
                                               "sw_preactivation"]
    steps = [layer.step for layer in mirror.layers if hasattr(layer, "step")]
    assert steps[0] == "c2: rectify, filter"
    assert steps[-1] == "c1: rectify, filter"
    assert "sw: local derivative" in steps
    assert "c1_sum" in [layer.name for layer in mirror.layers]
    # Calling the mirror with a seed and the recorded forward values gives
    # the projection.
    graph = dn._graph(IMAGES.shape[1:])
    ids = graph.by_name
    act, records = engine.forward(graph, tf.constant(IMAGES), ids["c2"])
    seed = tf.constant(oracle.all_seed(2)(act.numpy()))
    out = mirror([seed, records[f"{ids['mp']}:switches"],
                  records[f"{ids['sw']}:z"]])
    _assert_close(np.asarray(out), dn.project(IMAGES, "c2", 2, mode="all"))
    assert model.get_layer("c2").kernel is mirror.get_layer(
        "c2_filter").kernel


def test_operations_with_arguments_and_softmax_heads_project():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    y = keras.layers.Conv2D(4, 3, activation="relu", name="c2")(x)
    x = keras.layers.Add(name="add")([x[:, 1:-1, 1:-1], y])  # a slice op
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(3, activation="softmax", name="out")(x)
    model = keras.Model(inputs, out)
    dn = kz.Deconvnet(model)
    assert dn.layer_names[-1] == "out"
    images = IMAGES[:, :8, :8]
    for layer, mode in (("add", "max"), ("add", "all"), ("out", "max")):
        seed = oracle.max_seed if mode == "max" else oracle.all_seed
        expected = oracle.project(model, images, layer, seed(1))
        _assert_close(dn.project(images, layer, 1, mode=mode), expected)


def _receptive_graph():
    inputs = keras.Input((24, 24, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(2, 5, strides=1, padding="valid", name="b")(
        inputs)
    b = keras.layers.ZeroPadding2D(((1, 3), (2, 2)), name="pad")(b)
    x = keras.layers.Add(name="add")([a, b])
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="top")(x)
    return keras.Model(inputs, x)


def test_receptive_field_is_the_union_over_paths():
    model = _receptive_graph()
    rf = kz.receptive_field(model, "add")
    # Path a: rows [i-1, i+2); path b: rows [i-1, i+4), cols [i-2, i+3).
    assert rf == ((5, 5), (1, 1), (-1, -2))
    rf = kz.receptive_field(model, "top")
    x = tf.Variable(np.zeros((1, 24, 24, 1), "float32"))
    features = model_features(model, "top")
    for i, j in ((0, 0), (3, 5), (11, 11)):
        with tf.GradientTape() as tape:
            y = features(x)[0, i, j, 0]
        grad = np.abs(tape.gradient(y, x).numpy()[0, :, :, 0])
        rows, cols = np.nonzero(grad > 0)
        (r0, r1), (c0, c1) = rf.box(i, j)
        assert rows.min() == max(r0, 0) and rows.max() == min(r1, 24) - 1
        assert cols.min() == max(c0, 0) and cols.max() == min(c1, 24) - 1


def model_features(model, layer):
    return keras.Model(model.input, model.get_layer(layer).output)


def test_receptive_field_through_a_global_gate_covers_the_image():
    rf = kz.receptive_field(_se_graph(), "excite")
    for i in (0, 11):
        (r0, r1), (c0, c1) = rf.box(i, i)
        assert r0 <= 0 and r1 >= 12 and c0 <= 0 and c1 >= 12


def test_top_activations_and_occlusion_on_a_graph_model():
    model = _small_graph()
    data = np.random.default_rng(1).normal(size=(6, 16, 16, 3)).astype(
        "float32")
    top = kz.top_activations(model, data, "add", channels=[0, 2], k=3,
                             verbose=0)
    projections = top.projections(data)
    for c, channel in enumerate(top.channels):
        for j in range(3):
            image = data[top.indices[c, j]][None]
            expected = oracle.project(model, image, "add",
                                      oracle.max_seed(int(channel)))
            _assert_close(projections[c, j], expected[0])
    assert top.receptive_field == kz.receptive_field(model, "add")
    pooled = keras.layers.GlobalAveragePooling2D()(model.output)
    classifier = keras.Model(model.input, keras.layers.Dense(
        3, activation="softmax")(pooled))
    result = kz.occlusion_sensitivity(classifier, data[:2], patch_size=4,
                                      stride=4, layer="add", verbose=0)
    assert result.activity.shape == (2, 4, 4)
    assert np.isfinite(result.activity).all()


# Three keras.applications checks (random weights, 64x64): each builds the
# model and traces two projection passes (a few seconds each).
APPLICATIONS = [
    ("ResNet50", "conv2_block3_out", "conv4_block6_out"),
    ("MobileNetV2", "block_3_project_BN", "block_13_expand_relu"),
    ("DenseNet121", "pool2_pool", "conv4_block3_concat"),
]


@pytest.mark.parametrize("name,max_layer,all_layer", APPLICATIONS)
def test_keras_applications_equal_autodiff_formulation(name, max_layer,
                                                       all_layer):
    model = getattr(keras.applications, name)(
        weights=None, include_top=False, input_shape=(64, 64, 3))
    _randomize_batch_norms(model)
    images = np.random.default_rng(2).normal(size=(1, 64, 64, 3)).astype(
        "float32")
    dn = kz.Deconvnet(model)
    channels = _strong_channels(model, max_layer, images)
    got = dn.project(images, max_layer, channels, mode="max")
    for k, channel in enumerate(channels):
        expected = oracle.project(model, images, max_layer,
                                  oracle.max_seed(channel))
        _assert_close(got[:, k], expected)
    channel = _strong_channels(model, all_layer, images, count=1)[0]
    expected = oracle.project(model, images, all_layer,
                              oracle.all_seed(channel))
    _assert_close(dn.project(images, all_layer, channel, mode="all"),
                  expected)
