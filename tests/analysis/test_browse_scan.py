"""browse_scan: top-k equal to top_activations, histograms equal to a brute
force count of each channel's per-image maximum, exact shard merging."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis._utils.browse_scan import browse_scan

BINS = 8


def _model():
    """Integer weights and integer images: every activation is an exact
    small integer, so bin edges (multiples of powers of two) are exact."""
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="c1")(inputs)
    y = keras.layers.Conv2D(2, 3, name="c2")(x)  # linear: negative maxima
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(y))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:
        layer.set_weights([rng.integers(-2, 3, w.shape).astype("float32")
                           for w in layer.get_weights()])
    kernel, _ = model.get_layer("c2").get_weights()
    # Channel 0 of c2 is pushed down: its maxima go negative on some images.
    model.get_layer("c2").set_weights([kernel, np.array([-40.0, 0.0],
                                                        "float32")])
    return model


def _images(count=13):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 3, (count, 6, 6, 1)).astype("float32")
    # Later images are larger: the histogram range must grow across
    # batches (and merge bins) during the scan.
    return images * (1 + np.arange(count) // 4)[:, None, None, None]


def _brute_force(model, images, layer):
    maps = keras.Model(model.input, model.get_layer(layer).output)(images)
    return keras.ops.convert_to_numpy(maps).max(axis=(1, 2))  # (N, C)


def _expected_histogram(maxima, bins):
    """Range: the smallest power of two above every |maximum|; counts by
    explicit comparison with the half-open bins."""
    limit = np.abs(maxima).max()
    limit = 0.0 if limit == 0 else 2.0 ** (np.floor(np.log2(limit)) + 1)
    edges = np.linspace(-limit, limit, bins + 1)
    counts = np.zeros(bins, "int64")
    for value in maxima:
        inside = (edges[:-1] <= value) & (value < edges[1:])
        counts[np.flatnonzero(inside)[0] if limit else bins // 2] += 1
    return limit, counts


def test_histograms_count_every_image_in_its_bin():
    model, images = _model(), _images()
    scan = browse_scan(model, images, ["c1", "c2"], k=3, bins=BINS,
                       batch_size=4, verbose=0)
    assert scan.scanned == len(images)
    for layer in ("c1", "c2"):
        maxima = _brute_force(model, images, layer)
        histogram = scan.histograms[layer]
        for c in range(maxima.shape[1]):
            limit, counts = _expected_histogram(maxima[:, c], BINS)
            assert histogram.limits[c] == limit
            np.testing.assert_array_equal(histogram.counts[c], counts)
            assert histogram.silent[c] == (maxima[:, c] <= 0).sum()
    # The linear layer has negative maxima: the lower half is used.
    assert scan.histograms["c2"].counts[:, : BINS // 2].sum() > 0


def test_top_entries_equal_top_activations():
    model, images = _model(), _images()
    scan = browse_scan(model, images, ["c1", "c2"], k=4, bins=BINS,
                       batch_size=4, verbose=0)
    for layer in ("c1", "c2"):
        top = kz.top_activations(model, images, layer, k=4, batch_size=4,
                                 verbose=0)
        np.testing.assert_array_equal(scan.top[layer].values, top.values)
        np.testing.assert_array_equal(scan.top[layer].indices, top.indices)
        np.testing.assert_array_equal(scan.top[layer].positions,
                                      top.positions)


def test_shards_merge_into_the_single_scan():
    model, images = _model(), _images()
    whole = browse_scan(model, images, ["c1", "c2"], k=3, bins=BINS,
                        batch_size=4, verbose=0)
    # The first shard holds the small images only: its ranges are narrower.
    first = browse_scan(model, images[:5], ["c1", "c2"], k=3, bins=BINS,
                        batch_size=4, verbose=0)
    second = browse_scan(model, images[5:], ["c1", "c2"], k=3, bins=BINS,
                         batch_size=4, index_offset=5, verbose=0)
    assert np.any(first.histograms["c1"].limits
                  < whole.histograms["c1"].limits)
    merged = first.merge(second)
    assert merged.scanned == whole.scanned
    for layer in ("c1", "c2"):
        for field in ("counts", "limits", "silent"):
            np.testing.assert_array_equal(
                getattr(merged.histograms[layer], field),
                getattr(whole.histograms[layer], field))
        np.testing.assert_array_equal(merged.top[layer].indices,
                                      whole.top[layer].indices)


def test_dataset_input_equals_array_input():
    tf = pytest.importorskip("tensorflow")
    model, images = _model(), _images()
    labels = np.arange(len(images)) % 2
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)
    from_array = browse_scan(model, images, ["c2"], k=3, bins=BINS,
                             batch_size=5, verbose=0)
    from_dataset = browse_scan(model, dataset, ["c2"], k=3, bins=BINS,
                               verbose=0)
    np.testing.assert_array_equal(from_array.histograms["c2"].counts,
                                  from_dataset.histograms["c2"].counts)
    np.testing.assert_array_equal(from_array.top["c2"].indices,
                                  from_dataset.top["c2"].indices)


def test_default_layers_are_the_convolutions():
    scan = browse_scan(_model(), _images(4), k=1, bins=BINS, verbose=0)
    assert scan.layers == ("c1", "c2")


@pytest.mark.parametrize("kwargs, message", [
    (dict(layers=["nope"]), "Unknown layers 'nope'.*Received: layers='nope'"),
    (dict(layers=["head"]), "spatial maps"),
    (dict(k=0), "`k` must be an integer >= 1"),
    (dict(bins=6), "multiple of 4"),
])
def test_bad_arguments(kwargs, message):
    arguments = dict(layers=["c1"], k=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        browse_scan(_model(), _images(4), verbose=0, **arguments)


def test_empty_data_is_refused():
    tf = pytest.importorskip("tensorflow")
    model = _model()
    with pytest.raises(ValueError, match="`data` is empty"):
        browse_scan(model, np.zeros((0, 6, 6, 1), "float32"), ["c1"])
    empty = tf.data.Dataset.from_tensor_slices(
        np.zeros((0, 6, 6, 1), "float32")).batch(2)
    with pytest.raises(ValueError, match="`data` is empty"):
        browse_scan(model, empty, ["c1"])
