import tracemalloc

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis.features import extract_features

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return kz.MiniZFNet(fc_units=16)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (10, 28, 28, 1)).astype("float32")


def truncated(model, layer, images, batch_size=4):
    """The reference: one truncated model per layer, flattened."""
    sub = keras.Model(model.input, model.get_layer(layer).output)
    out = sub.predict(images, batch_size=batch_size, verbose=0)
    return out.reshape(len(out), -1)


def test_equals_truncated_models_for_seven_layers(model, images):
    features = extract_features(model, LAYERS, images, batch_size=4,
                                verbose=0)
    assert list(features) == LAYERS
    for layer in LAYERS:
        expected = truncated(model, layer, images)
        assert features[layer].dtype == np.float32
        np.testing.assert_array_equal(features[layer], expected)


def test_pooling_avg_and_max_over_space(model, images):
    conv = keras.Model(model.input, model.get_layer("conv2").output).predict(
        images, verbose=0)
    avg = extract_features(model, ["conv2", "fc7"], images, pooling="avg",
                           verbose=0)
    mx = extract_features(model, "conv2", images, pooling="max", verbose=0)
    np.testing.assert_allclose(avg["conv2"], conv.mean(axis=(1, 2)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mx["conv2"], conv.max(axis=(1, 2)))
    # Dense outputs are not pooled.
    # (batches differ in composition: oneDNN may sum in another order)
    np.testing.assert_allclose(avg["fc7"], truncated(model, "fc7", images),
                               rtol=1e-5, atol=1e-7)


class _Images(keras.utils.PyDataset):
    def __init__(self, x, batch):
        super().__init__()
        self.x, self.batch = x, batch

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        part = self.x[i * self.batch:(i + 1) * self.batch]
        return part, np.zeros(len(part))


def test_streaming_sources_agree_with_arrays(model, images):
    tf = pytest.importorskip("tensorflow")
    layers = ["conv5", "fc6"]
    expected = extract_features(model, layers, images, pooling="avg",
                                batch_size=3, verbose=0)
    labels = np.arange(len(images))
    sources = [
        tf.data.Dataset.from_tensor_slices(images),
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(4),
        _Images(images, 3),
    ]
    for source in sources:
        got = extract_features(model, layers, source, pooling="avg",
                               batch_size=3, verbose=0)
        for layer in layers:
            np.testing.assert_allclose(got[layer], expected[layer],
                                       rtol=1e-5, atol=1e-6)


def test_nested_model_layers_by_path_and_object():
    keras.utils.set_random_seed(1)
    inner = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
        keras.layers.Flatten(name="flat"),
    ], name="inner")
    outer = keras.Sequential([keras.Input((8, 8, 1)), inner,
                              keras.layers.Dense(2, name="dense")],
                             name="outer")
    x = np.random.default_rng(1).normal(size=(5, 8, 8, 1)).astype("float32")
    got = extract_features(outer, ["inner/conv", outer.get_layer("dense")],
                           x, verbose=0)
    assert list(got) == ["conv", "dense"]
    conv = keras.ops.convert_to_numpy(
        inner.get_layer("conv")(x)).reshape(5, -1)
    np.testing.assert_allclose(got["conv"], conv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["dense"], outer.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def _peak_bytes(model, count):
    """tracemalloc peak while streaming `count` generated images."""
    tf = pytest.importorskip("tensorflow")
    def generate():
        rng = np.random.default_rng(0)
        for _ in range(count):
            yield rng.uniform(0, 255, (28, 28, 1)).astype("float32")

    dataset = tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec((28, 28, 1), tf.float32))
    extract_features(model, LAYERS, dataset.take(8), pooling="avg",
                     batch_size=16, verbose=0)  # trace outside the window
    tracemalloc.start()
    features = extract_features(model, LAYERS, dataset, pooling="avg",
                                batch_size=16, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = sum(f.nbytes for f in features.values())
    return peak, size


def test_memory_does_not_grow_with_the_dataset(model):
    small_peak, small_size = _peak_bytes(model, 64)
    large_peak, large_size = _peak_bytes(model, 640)
    # Unpooled conv1 maps alone would be 28*28*32*4 bytes = 100 KB per
    # image; only the pooled features (and their final concatenation) may
    # grow with the data.
    per_image_maps = 28 * 28 * 32 * 4
    assert large_size - small_size < 576 * per_image_maps / 50
    assert large_peak - small_peak <= 2 * (large_size - small_size) + 200_000


def test_unknown_layer_lists_valid_names(model, images):
    with pytest.raises(ValueError, match="Valid names.*conv1"):
        extract_features(model, ["conv1", "conv9"], images, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(pooling="sum"), "pooling"),
    (dict(batch_size=0), "batch_size"),
])
def test_bad_arguments(model, images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_features(model, "conv1", images, verbose=0, **kwargs)


def test_wrong_image_shape(model):
    with pytest.raises(ValueError, match="shape"):
        extract_features(model, "conv1", np.zeros((2, 32, 32, 1)), verbose=0)
