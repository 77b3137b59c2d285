"""Occlusion sensitivity on every Keras backend: `keras.ops` only, current
weights, and the same maps from the incremental and the plain paths."""

import inspect

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis._utils import incremental
from keras_zfnet.analysis import occlusion


def _images(n=2, shape=(20, 18, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, *shape)).astype("float32")


@pytest.mark.parametrize("module", [occlusion, incremental])
def test_no_direct_tensorflow(module):
    source = inspect.getsource(module)
    assert "import tensorflow" not in source
    assert "tf." not in source


def test_sees_weights_changed_after_a_first_call():
    """The compiled functions are cached per model: on JAX they must read
    the weights of each call, not those of their first trace."""
    keras.utils.set_random_seed(5)
    model = kz.MiniZFNet(input_shape=(20, 18, 3), classes=5)
    images = _images()
    kwargs = dict(labels=[1, 2], layer="conv2", verbose=0)
    first = kz.occlusion_sensitivity(model, images, 6, 4, **kwargs)
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    second = kz.occlusion_sensitivity(model, images, 6, 4, **kwargs)
    fresh = kz.MiniZFNet(input_shape=(20, 18, 3), classes=5)
    fresh.set_weights(model.get_weights())
    expected = kz.occlusion_sensitivity(fresh, images, 6, 4, **kwargs)
    assert not np.allclose(first.activity, second.activity)
    np.testing.assert_allclose(second.probability, expected.probability,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.activity, expected.activity,
                               rtol=1e-5,
                               atol=1e-5 * np.abs(expected.activity).max())
    np.testing.assert_array_equal(second.predicted, expected.predicted)


@pytest.mark.parametrize("layer", [None, "conv1", "conv3"])
def test_incremental_matches_plain_on_this_backend(layer):
    keras.utils.set_random_seed(6)
    model = kz.MiniZFNet(input_shape=(28, 28, 1), classes=10)
    images = _images(3, (28, 28, 1), seed=1)
    kwargs = dict(fill=127.5, layer=layer, cover_edges=True, batch_size=50,
                  verbose=0)
    assert incremental.make_plan(occlusion.model_graph(model), (28, 28, 1),
                                 (5, 5)) is not None
    fast = kz.occlusion_sensitivity(model, images, 5, 3, **kwargs)
    plain = kz.occlusion_sensitivity(model, images, 5, 3, incremental=False,
                                     **kwargs)
    np.testing.assert_array_equal(fast.labels, plain.labels)
    np.testing.assert_allclose(fast.probability, plain.probability,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fast.predicted, plain.predicted)
    if layer is None:
        assert fast.activity is None and plain.activity is None
    else:
        np.testing.assert_array_equal(fast.strongest_channel,
                                      plain.strongest_channel)
        np.testing.assert_allclose(
            fast.activity, plain.activity, rtol=1e-5,
            atol=1e-5 * np.abs(plain.activity).max())


def test_ties_pick_the_first_class():
    """A constant classifier: every class ties; the first one wins on every
    backend (numpy's and `keras.ops.argmax`'s rule)."""
    inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(3, 3, name="conv", kernel_initializer="zeros")(
        inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(4, activation="softmax",
                                 kernel_initializer="zeros")(x)
    model = keras.Model(inputs, outputs)
    result = kz.occlusion_sensitivity(model, _images(2, (12, 12, 2)), 4, 4,
                                      layer="conv", verbose=0)
    assert np.all(result.predicted == 0)
    np.testing.assert_array_equal(result.base_predicted, [0, 0])
    np.testing.assert_array_equal(result.strongest_channel, [0, 0])
    np.testing.assert_allclose(result.probability, 0.25, rtol=1e-6)
