import os

import keras
import numpy as np
import pytest

from keras_zfnet.callbacks import FeatureEvolution
from keras_zfnet.callbacks import load_history
from keras_zfnet.callbacks import save_history
from keras_zfnet.callbacks import settle_epochs
from keras_zfnet.plotting.evolution import evolution_grid
from keras_zfnet.plotting.images import projection_to_image
from tests.callbacks.helpers import ArrayBatches
from tests.callbacks.helpers import EpochCounter
from tests.callbacks.helpers import decode_png
from tests.callbacks.helpers import read_events
from tests.callbacks.helpers import brute_force_entry
from tests.callbacks.helpers import tiny_data
from tests.callbacks.helpers import tiny_model

LAYERS = ["c1", "c2"]
TF = keras.config.backend() == "tensorflow"


def _tf_data(*arrays, batch=None):
    """A `tf.data.Dataset` of `arrays` (TensorFlow backend only)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(
        arrays if len(arrays) > 1 else arrays[0])
    return dataset.batch(batch) if batch else dataset


def _assert_entry(entry, expected):
    np.testing.assert_array_equal(entry["channels"], expected["channels"])
    np.testing.assert_array_equal(entry["indices"], expected["indices"])
    np.testing.assert_allclose(entry["values"], expected["values"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(entry["projections"],
                               expected["projections"], rtol=1e-4,
                               atol=1e-6)


def test_two_epochs_write_files_and_match_brute_force(tmp_path):
    model = tiny_model()
    x, y = tiny_data()
    probe = x[:20]
    callback = FeatureEvolution(probe, LAYERS, features=3, epochs=(1, 2),
                                output_dir=str(tmp_path))
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
              callbacks=[callback])
    assert sorted(os.listdir(tmp_path)) == [
        "epoch_0001.npz", "epoch_0002.npz", "evolution.png"]
    assert sorted(callback.history) == [1, 2]
    for layer in LAYERS:
        channels = callback.history[2][layer]["channels"]
        assert len(channels) == 3 and len(set(channels.tolist())) == 3
        # The same random channels at every epoch.
        np.testing.assert_array_equal(callback.history[1][layer]["channels"],
                                      channels)
        expected = brute_force_entry(model, probe, layer, channels)
        _assert_entry(callback.history[2][layer], expected)
        with np.load(tmp_path / "epoch_0002.npz") as stored:
            for key in ("channels", "values", "indices", "projections"):
                np.testing.assert_array_equal(
                    stored[f"{layer}/{key}"], callback.history[2][layer][key])


def test_epochs_past_the_end_and_unlisted_are_skipped():
    model = tiny_model()
    x, y = tiny_data()
    callback = FeatureEvolution(x[:8], "c1", features=2, epochs=(2, 5))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[callback])
    assert sorted(callback.history) == [2]


@pytest.mark.parametrize("source", [
    pytest.param("tf.data", marks=pytest.mark.tf_only), "PyDataset"])
def test_dict_features_dense_layer_and_dataset_probe(source):
    model = tiny_model()
    x, y = tiny_data()
    dataset = (_tf_data(x[:20], y[:20], batch=6) if source == "tf.data"
               else ArrayBatches(x[:20], y[:20], 6))
    callback = FeatureEvolution(dataset, ["c2", "d1"],
                                features={"c2": [5, 0], "d1": [1, 3, 4]},
                                epochs=(1,))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    for layer, channels in (("c2", [5, 0]), ("d1", [1, 3, 4])):
        expected = brute_force_entry(model, x[:20], layer, channels)
        _assert_entry(callback.history[1][layer], expected)


def test_nested_model_path():
    model = tiny_model(nested=True)
    x, y = tiny_data()
    callback = FeatureEvolution(x[:16], ["body/c2"], features=2, epochs=(1,))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    (layer,) = callback.history[1]
    expected = brute_force_entry(model, x[:16], layer,
                                 callback.history[1][layer]["channels"])
    _assert_entry(callback.history[1][layer], expected)


def test_resume_with_initial_epoch_equals_one_run(tmp_path):
    x, y = tiny_data()
    probe = x[:20]
    model = tiny_model()
    whole = FeatureEvolution(probe, LAYERS, features=3, epochs=(1, 2),
                             output_dir=str(tmp_path / "whole"))
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
              callbacks=[whole])

    model = tiny_model()
    first = FeatureEvolution(probe, LAYERS, features=3, epochs=(1, 2),
                             output_dir=str(tmp_path / "resumed"))
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0,
              callbacks=[first])
    # A new callback (as in a new process) continues from the files.
    second = FeatureEvolution(probe, LAYERS, features=3, epochs=(1, 2),
                              output_dir=str(tmp_path / "resumed"))
    model.fit(x, y, epochs=2, initial_epoch=1, batch_size=8, shuffle=False,
              verbose=0, callbacks=[second])
    assert sorted(second.history) == [1, 2]
    for epoch in (1, 2):
        for layer in LAYERS:
            _assert_entry(second.history[epoch][layer],
                          whole.history[epoch][layer])
    grid_whole, _, rows_whole = evolution_grid(whole.history, whole.images())
    grid_resumed, _, rows_resumed = evolution_grid(second.history,
                                                   second.images())
    assert rows_whole == rows_resumed
    np.testing.assert_allclose(grid_resumed, grid_whole, atol=1e-5)


def test_output_dir_of_other_features_is_rejected(tmp_path):
    x, y = tiny_data()
    model = tiny_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[FeatureEvolution(
        x[:8], "c1", features={"c1": [0, 1]}, epochs=(1,),
        output_dir=str(tmp_path))])
    other = FeatureEvolution(x[:8], "c1", features={"c1": [2, 3]},
                             epochs=(1, 2), output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="other features"):
        model.fit(x, y, epochs=2, initial_epoch=1, verbose=0,
                  callbacks=[other])


def test_tensorboard_images_read_back(tmp_path):
    x, y = tiny_data()
    model = tiny_model()
    callback = FeatureEvolution(x[:12], LAYERS, features=2, epochs=(1, 2),
                                tensorboard_dir=str(tmp_path))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[callback])
    found = read_events(tmp_path)
    assert sorted(found) == [(f"feature_evolution/{layer}", step)
                             for layer in LAYERS for step in (1, 2)]
    for (tag, step), strings in found.items():
        layer = tag.split("/", 1)[1]
        # [width, height, png, png, ...], as tf.summary.image writes it.
        assert (int(strings[0]), int(strings[1])) == (12, 12)
        decoded = np.stack([decode_png(s)[..., 0] for s in strings[2:]])
        expected = projection_to_image(
            callback.history[step][layer]["projections"])
        assert decoded.shape == (2, 12, 12)
        np.testing.assert_allclose(decoded / 255.0, expected, atol=1 / 255)


def test_save_and_load_history_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    history = {
        e: {"a": dict(channels=np.array([0, 2]), values=rng.random(2),
                      indices=np.array([4, 1]),
                      projections=rng.normal(size=(2, 5, 5, 1)) * 1e-4)}
        for e in (1, 3)
    }
    path = save_history(str(tmp_path / "h.npz"), history,
                        images={4: np.ones((5, 5, 1)), 1: np.zeros((5, 5, 1))})
    loaded, images = load_history(path, return_images=True)
    assert sorted(loaded) == [1, 3] and sorted(images) == [1, 4]
    for e in (1, 3):
        got, want = loaded[e]["a"], history[e]["a"]
        np.testing.assert_array_equal(got["indices"], want["indices"])
        # float16 relative to each projection's own maximum.
        np.testing.assert_allclose(got["projections"], want["projections"],
                                   atol=1e-3 * np.abs(want["projections"]).max())


def test_settle_epochs_by_hand():
    base = np.zeros((1, 4, 4, 1))
    base[0, 1, 1, 0] = 1.0
    noisy = base.copy()
    noisy[0, 2, 2, 0] = 0.2  # correlation with base ~0.98 -> settled
    moved = np.zeros((1, 4, 4, 1))
    moved[0, 3, 3, 0] = 1.0  # correlation with base < 0 -> not settled

    def entry(index, projection):
        return dict(channels=np.array([0]), values=np.array([1.0]),
                    indices=np.array([index]), projections=projection)

    history = {
        1: {"low": entry(0, moved), "high": entry(0, base)},
        2: {"low": entry(0, noisy), "high": entry(1, base)},  # image differs
        5: {"low": entry(0, base), "high": entry(0, base)},
        9: {"low": entry(0, base), "high": entry(0, base)},
    }
    assert settle_epochs(history) == {"low": 2, "high": 5}


def _fit_raises(callback, match):
    model = tiny_model()
    x, y = tiny_data()
    counter = EpochCounter()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback, counter])
    assert counter.began == 0  # failed before any epoch was spent


def test_bad_layer_lists_valid_names():
    x, _ = tiny_data()
    _fit_raises(FeatureEvolution(x, ["c1", "nope"]),
                r"Valid names: .*'c1'.*Received: layers='nope'")


def test_bad_channel():
    x, _ = tiny_data()
    _fit_raises(FeatureEvolution(x, "c1", features={"c1": [0, 4]}),
                r"features\['c1'\].*\[0, 3\].*Received")


def test_features_dict_must_cover_layers():
    x, _ = tiny_data()
    _fit_raises(FeatureEvolution(x, ["c1", "c2"], features={"c1": [0]}),
                r"exactly the layers.*Received")


@pytest.mark.parametrize("probe", [
    lambda: np.zeros((0, 12, 12, 1), "float32"),
    pytest.param(lambda: _tf_data(np.zeros((0, 12, 12, 1), "float32")),
                 marks=pytest.mark.tf_only),
    lambda: ArrayBatches(np.zeros((0, 12, 12, 1), "float32")),
])
def test_empty_probe(probe):
    _fit_raises(FeatureEvolution(probe(), "c1"), r"`probe_data` is empty")


@pytest.mark.parametrize("probe", [
    lambda: np.zeros((4, 10, 10, 1), "float32"),
    lambda: np.zeros((12, 12, 1), "float32"),
    pytest.param(lambda: _tf_data(np.zeros((4, 10, 10, 1), "float32")),
                 marks=pytest.mark.tf_only),
    lambda: ArrayBatches(np.zeros((4, 10, 10, 1), "float32")),
])
def test_probe_of_wrong_shape(probe):
    _fit_raises(FeatureEvolution(probe(), "c1"), r"`probe_data`.*Received")


@pytest.mark.parametrize("epochs", [(0, 1), (1.5,), ("2",), (), 3, (True,)])
def test_bad_epochs(epochs):
    with pytest.raises(ValueError, match=r"`epochs` must be .*Received"):
        FeatureEvolution(np.zeros((2, 12, 12, 1)), "c1", epochs=epochs)


@pytest.mark.parametrize("features", [0, -2, 1.5, "9", True])
def test_bad_features(features):
    with pytest.raises(ValueError, match=r"`features` must be .*Received"):
        FeatureEvolution(np.zeros((2, 12, 12, 1)), "c1", features=features)


def test_features_capped_at_channel_count():
    model = tiny_model()
    x, y = tiny_data()
    callback = FeatureEvolution(x[:8], "c1", features=9, epochs=(1,))
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    np.testing.assert_array_equal(callback.history[1]["c1"]["channels"],
                                  np.arange(4))
