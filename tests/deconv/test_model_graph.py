"""One parsed view per model: nested, variable-size and subclassed models
behave the same in every entry point."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.deconv import graph as graph_lib
from keras_zfnet.deconv.model_graph import model_graph

SIZE = 32


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(1)
    return keras.applications.VGG16(weights=None, include_top=False,
                                    input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="module")
def nested(base):
    """The user's classifier: a base model nested in a Sequential."""
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)), base,
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5, activation="softmax"),
    ])


@pytest.fixture(scope="module")
def nested_functional(base):
    inputs = keras.Input((SIZE, SIZE, 3))
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5)(x))  # logits


@pytest.fixture(scope="module")
def flat(base):
    """The same network with the base's layers called directly (no
    nesting): an independent reference for occlusion."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    for layer in base.layers[1:]:
        x = layer(x)
    return x, inputs


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (6, SIZE, SIZE, 3)).astype("float32")


def test_inner_names_and_paths_resolve(nested):
    view = model_graph(nested)
    layer = view.get_layer("block5_conv3")
    assert view.resolve("vgg16/block5_conv3") == "block5_conv3"
    assert view.resolve(layer) == "block5_conv3"
    assert view.output_shape("block5_conv3") == (2, 2, 512)
    assert view.output_is_probability
    with pytest.raises(ValueError, match="Valid names.*block5_conv3"):
        view.resolve("block9_conv1")


@pytest.mark.parametrize("which", ["nested", "nested_functional"])
def test_top_k_patches_projections_equal_the_base_model(
        which, base, images, request):
    model = request.getfixturevalue(which)
    kwargs = dict(channels=[0, 3, 7], k=3, verbose=0)
    got = kz.top_activations(model, images, "block5_conv3", **kwargs)
    want = kz.top_activations(base, images, "block5_conv3", **kwargs)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.positions, want.positions)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-6)
    np.testing.assert_array_equal(got.patches(images), want.patches(images))
    np.testing.assert_allclose(got.projections(images),
                               want.projections(images), atol=1e-6)
    assert got.receptive_field == want.receptive_field


def test_occlusion_on_a_nested_model_equals_the_unnested_graph(
        nested, images):
    # Reference: the same layers, called without nesting.
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    base = nested.layers[0]
    for layer in base.layers[1:]:
        x = layer(x)
    for layer in nested.layers[1:]:
        x = layer(x)
    unnested = keras.Model(inputs, x)
    kwargs = dict(patch_size=8, stride=8, layer="block5_conv3", verbose=0)
    got = kz.occlusion_sensitivity(nested, images[:2], **kwargs)
    want = kz.occlusion_sensitivity(unnested, images[:2], **kwargs)
    np.testing.assert_allclose(got.probability, want.probability, atol=1e-6)
    np.testing.assert_allclose(got.activity, want.activity, rtol=1e-5)
    np.testing.assert_array_equal(got.strongest_channel,
                                  want.strongest_channel)


def test_variable_input_size(images):
    keras.utils.set_random_seed(2)
    model = keras.applications.VGG16(weights=None, include_top=False)
    fixed = keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(SIZE, SIZE, 3))
    fixed.set_weights(model.get_weights())
    kwargs = dict(channels=[1, 2], k=2, verbose=0)
    got = kz.top_activations(model, images, "block3_conv1", **kwargs)
    want = kz.top_activations(fixed, images, "block3_conv1", **kwargs)
    np.testing.assert_array_equal(got.indices, want.indices)
    assert got.image_shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(got.patches(images), want.patches(images))
    np.testing.assert_allclose(got.projections(images),
                               want.projections(images), atol=1e-6)
    figure = got.plot(images)
    assert len(figure.axes) >= 2


def test_variable_size_classifier_occlusion(images):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    result = kz.occlusion_sensitivity(model, images[:2], 8, 8, layer="c1",
                                      verbose=0)
    assert result.probability.shape == (2, 4, 4)
    # Brute force for one position.
    occluded = images[:1].copy()
    occluded[0, 8:16, 0:8] = images[0].mean(axis=(0, 1))
    label = int(np.argmax(keras.ops.convert_to_numpy(model(images[:1]))[0]))
    want = float(keras.ops.convert_to_numpy(model(occluded))[0, label])
    np.testing.assert_allclose(result.probability[0, 1, 0], want, rtol=1e-5)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(2, 3)
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(keras.ops.mean(self.conv(x), axis=(1, 2)))


@pytest.mark.parametrize("entry", [
    lambda m, x: kz.Deconvnet(m),
    lambda m, x: kz.top_activations(m, x, "conv", verbose=0),
    lambda m, x: kz.occlusion_sensitivity(m, x, 8, 8, verbose=0),
    lambda m, x: kz.receptive_field(m, "conv"),
])
def test_subclassed_models_get_one_clear_error(entry, images):
    model = Subclassed()
    model(images[:1])
    with pytest.raises(ValueError, match="functional or Sequential"):
        entry(model, images[:2])


def test_occlusion_needs_class_scores(base, images):
    with pytest.raises(ValueError, match=r"needs a classifier.*\(N, classes\)"):
        kz.occlusion_sensitivity(base, images[:1], 8, 8, verbose=0)


def test_ambiguous_inner_names_list_the_full_paths(images):
    def block(name):
        inputs = keras.Input((SIZE, SIZE, 3))
        out = keras.layers.Conv2D(2, 3, name="conv")(inputs)
        return keras.Model(inputs, out, name=name)

    inputs = keras.Input((SIZE, SIZE, 3))
    a, b = block("left"), block("right")
    model = keras.Model(inputs, keras.layers.Add()([a(inputs), b(inputs)]))
    view = model_graph(model)
    with pytest.raises(ValueError, match=r"left/conv.*right/conv"):
        view.resolve("conv")
    assert view.get_layer("right/conv") is b.get_layer("conv")
    features = view.feature_model(["left/conv", "right/conv"])(images[:1])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(features[1]),
                               keras.ops.convert_to_numpy(b(images[:1])),
                               rtol=1e-6)


def test_the_model_is_parsed_once(monkeypatch, images):
    model = kz.MiniZFNet(input_shape=(28, 28, 1), classes=4)
    x = np.random.default_rng(0).uniform(0, 255, (3, 28, 28, 1)).astype(
        "float32")
    calls = []
    original = graph_lib.parse
    monkeypatch.setattr(graph_lib, "parse",
                        lambda v, s: calls.append(v.model) or original(v, s))
    kz.Deconvnet(model).project(x, "conv2", 0)
    top = kz.top_activations(model, x, "conv3", k=2, verbose=0)
    top.projections(x)
    kz.occlusion_sensitivity(model, x, 8, 4, layer="conv5", verbose=0)
    kz.receptive_field(model, "conv4")
    assert calls == [model]
    assert model_graph(model) is model_graph(model)


def test_the_users_model_is_not_modified(nested, images):
    inner = nested.layers[0].get_layer("block5_conv3")
    nodes = len(inner._inbound_nodes)
    kz.top_activations(nested, images[:2], ["block1_conv1", "block5_conv3"],
                       k=1, verbose=0)
    assert len(inner._inbound_nodes) == nodes
    assert inner.output.shape[1:] == (2, 2, 512)


def test_display_undoes_caffe_preprocessing():
    from keras_zfnet.plotting.display import undo_preprocessing

    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    for family, module in (("vgg16", keras.applications.vgg16),
                           ("resnet50", keras.applications.resnet50),
                           ("mobilenet_v2", keras.applications.mobilenet_v2)):
        x = module.preprocess_input(pixels.copy())
        np.testing.assert_allclose(undo_preprocessing(x, family) * 255,
                                   pixels, atol=1e-3)
    shown = undo_preprocessing(pixels, lambda x: x)
    np.testing.assert_allclose(shown, pixels / 255, atol=1e-6)
    with pytest.raises(ValueError, match="display"):
        undo_preprocessing(pixels, "bgr-ish")
