import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis._utils import transforms


def _model(size=12, classes=3):
    """conv1 is an identity 1x1 convolution: its features are the image."""
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv1")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", name="fc7")(x)
    outputs = keras.layers.Dense(classes, activation="softmax",
                                 name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv1").set_weights([np.ones((1, 1, 1, 1))])
    return model


def _images(n=3, size=12, seed=0):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 1), "float32")
    images[:, 3:9, 3:9] = rng.random((n, 6, 6, 1)) + 0.5
    return images


@pytest.mark.parametrize("transform,identity", [
    ("translate", 0), ("scale", 1.0), ("rotate", 0)])
def test_identity_amount_changes_nothing(transform, identity):
    model, images = _model(), _images()
    result = kz.invariance(model, images, transform, [identity, identity],
                           ["conv1", "fc7"], labels=[0, 1, 2])
    for layer in ("conv1", "fc7"):
        np.testing.assert_allclose(result.distance[layer], 0.0, atol=1e-6)
    expected = model.predict(images, verbose=0)[np.arange(3), [0, 1, 2]]
    np.testing.assert_allclose(result.probabilities[:, 0], expected,
                               rtol=1e-5)
    np.testing.assert_allclose(result.probability, expected.mean(), rtol=1e-5)


def test_rotation_by_360_returns_to_the_start_and_90_is_rot90():
    images = _images()
    back = transforms.transform_images(images, "rotate", 360.0)
    np.testing.assert_allclose(back, images, atol=1e-5)
    quarter = transforms.transform_images(images, "rotate", 90.0)
    np.testing.assert_allclose(quarter, np.rot90(images, 1, axes=(1, 2)),
                               atol=1e-5)
    result = kz.invariance(_model(), images, "rotate", [0, 45, 360], "fc7")
    assert result.distance["fc7"][1] > 0
    np.testing.assert_allclose(result.distance["fc7"][[0, 2]], 0, atol=1e-5)


def test_whole_pixel_translation_is_a_numpy_shift_filled_with_the_border():
    images = np.full((1, 6, 7, 1), 5.0, "float32")
    images[0, 1:5, 1:6, 0] = np.arange(20).reshape(4, 5)
    moved = transforms.transform_images(images, "translate", (2, -3))
    expected = np.full_like(images, 5.0)        # border median is 5
    expected[:, 2:, :4] = images[:, :-2, 3:]
    np.testing.assert_array_equal(moved, expected)
    vertical = transforms.transform_images(images, "translate", (1, 0))
    np.testing.assert_array_equal(vertical[:, 1:], images[:, :-1])


def test_distance_is_the_normalized_euclidean_distance():
    # conv1 is the identity: the expected distance is computed on pixels.
    model, images = _model(), _images()
    result = kz.invariance(model, images, "translate", [(1, 2), 3], "conv1")
    assert result.amounts.tolist() == [[1, 2], [3, 0]]
    expected = []
    for amount in result.amounts:
        moved = transforms.transform_images(images, "translate", amount)
        diff = np.linalg.norm((moved - images).reshape(3, -1), axis=1)
        expected.append(np.mean(diff / np.linalg.norm(
            images.reshape(3, -1), axis=1)))
    np.testing.assert_allclose(result.distance["conv1"], expected, rtol=1e-5)
    assert result.distances["conv1"].shape == (3, 2)
    assert result.probabilities.shape == (3, 2)


def test_logits_are_turned_into_probabilities():
    model, images = _model(), _images()
    logits = keras.Model(model.input, _logits(model))
    result = kz.invariance(logits, images, "scale", [1.0], "fc7",
                           labels=[2, 0, 1])
    z = logits.predict(images, verbose=0)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.probabilities[:, 0],
                               expected[np.arange(3), [2, 0, 1]], rtol=1e-5)


def _logits(model):
    """The pre-softmax output of `model`'s classifier (a new linear layer
    sharing its weights)."""
    dense = model.get_layer("predictions")
    linear = keras.layers.Dense(dense.units, name="logits")
    out = linear(model.get_layer("fc7").output)
    linear.set_weights(dense.get_weights())
    return out


def test_plot_has_the_fig5_layout():
    model, images = _model(), _images()
    results = [kz.invariance(model, images, t, a, ["conv1", "fc7"],
                             verbose=0)
               for t, a in (("translate", [-2, 0, 2]), ("scale", [0.8, 1.2]),
                            ("rotate", [0, 90]))]
    figure = results[0].plot(*results[1:])
    assert len(figure.axes) == 9
    assert "InvarianceResult rotate" in repr(results[2])


def test_bad_input():
    model, images = _model(), _images()
    with pytest.raises(ValueError, match="transform.*Received: transform="):
        kz.invariance(model, images, "shear", [1], "fc7")
    with pytest.raises(ValueError, match="> 0. Received: amounts="):
        kz.invariance(model, images, "scale", [1.0, 0.0], "fc7")
    with pytest.raises(ValueError, match="Received: amounts="):
        kz.invariance(model, images, "rotate", [], "fc7")
    with pytest.raises(ValueError, match="Received: amounts="):
        kz.invariance(model, images, "translate", [(1, 2, 3)], "fc7")
    with pytest.raises(ValueError, match="Unknown layers 'fc9'"):
        kz.invariance(model, images, "rotate", [0], "fc9")
    with pytest.raises(ValueError, match="labels"):
        kz.invariance(model, images, "rotate", [0], "fc7", labels=[0, 1, 7])
    with pytest.raises(ValueError, match="images"):
        kz.invariance(model, images[:, :5], "rotate", [0], "fc7")


def test_interval_is_the_mean_with_a_normal_band():
    model = kz.MiniZFNet()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (12, 28, 28, 1)).astype("float32")
    r = kz.invariance(model, x, "rotate", [0, 90, 180], ["conv1"],
                      labels=np.zeros(12, int), verbose=0)
    for what, per_image in (("conv1", r.distances["conv1"]),
                            ("probability", r.probabilities)):
        mean, low, high = r.interval(what)
        sem = per_image.std(axis=0, ddof=1) / np.sqrt(12)
        np.testing.assert_allclose(mean, per_image.mean(axis=0))
        np.testing.assert_allclose(high - mean, 1.96 * sem, rtol=1e-9)
        np.testing.assert_allclose(mean - low, 1.96 * sem, rtol=1e-9)
    # identity: no distance, no spread
    assert r.interval("conv1")[2][0] == 0
    with pytest.raises(ValueError, match="fc7"):
        r.interval("fc7")
    figure = r.plot()  # more than 12 images? no: lines and the band
    assert len(figure.axes) == 3


def test_a_ragged_last_chunk_gives_the_same_numbers():
    # 5 images in chunks of 2 (the last one padded on JAX) against one chunk.
    model, images = _model(), _images(n=5)
    whole = kz.invariance(model, images, "rotate", [0, 90], ["conv2", "fc7"],
                          batch_size=64)
    chunked = kz.invariance(model, images, "rotate", [0, 90],
                            ["conv2", "fc7"], batch_size=2)
    for name in ("conv2", "fc7"):
        np.testing.assert_allclose(chunked.distances[name],
                                   whole.distances[name], rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(chunked.probabilities, whole.probabilities,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(keras.config.backend() == "torch",
                    reason="PyTorch runs the function eagerly, per call")
def test_one_trace_per_call_with_a_ragged_last_chunk(monkeypatch):
    # 5 images in chunks of 2: JAX compiles per shape, so without padding
    # the short last chunk would trace the pass a second time.
    from keras_zfnet import backend

    traced_shapes = []
    compile_function = backend.compile_function

    def counting(function, *args, **kwargs):
        def traced(x):
            traced_shapes.append(tuple(x.shape))
            return function(x)

        return compile_function(traced, *args, **kwargs)

    monkeypatch.setattr(backend, "compile_function", counting)
    kz.invariance(_model(), _images(n=5), "rotate", [0, 45, 90], ["conv2"],
                  batch_size=2, verbose=0)
    assert len(traced_shapes) == 1, traced_shapes
