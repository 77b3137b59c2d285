"""`Deconvnet.project_positions` with shared images and ragged passes, on
every backend (JAX pads passes to one compiled shape,
`keras_zfnet.backend.padded_size`)."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet import backend


def test_padded_size():
    expected = 8 if keras.config.backend() == "jax" else 3
    assert backend.padded_size(3, 8) == expected
    assert backend.padded_size(8, 8) == 8


def test_shared_images_equal_one_image_per_entry():
    # Entries sharing images (one forward per distinct image) give the same
    # projections as the same entries each with its own copy of the image,
    # in entry order, whatever the batching.
    model = kz.MiniZFNet()
    dn = kz.Deconvnet(model)
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, size=(4, 28, 28, 1)).astype("float32")
    which = np.array([2, 0, 2, 3, 0, 2, 1, 2, 3])
    channels = rng.integers(0, 16, size=len(which))
    positions = rng.integers(0, 7, size=(len(which), 2))
    expected = dn.project_positions(images[which], "conv2", channels,
                                    positions)
    assert np.abs(expected).max() > 0
    for batch_size in (64, 4, 1):
        shared = dn.project_positions(images, "conv2", channels, positions,
                                      batch_size=batch_size,
                                      image_indices=which)
        np.testing.assert_allclose(shared, expected, rtol=1e-5,
                                   atol=1e-5 * np.abs(expected).max())
    with pytest.raises(ValueError, match="image_indices"):
        dn.project_positions(images, "conv2", channels, positions,
                             image_indices=which + 4)
    with pytest.raises(ValueError, match="same length"):
        dn.project_positions(images, "conv2", channels, positions)


def test_windows_at_the_border_equal_whole_maps():
    # Receptive-field windows of border seeds reach outside the maps. The
    # engine masks them only below layers that can spread signal there
    # (transposed convolutions, crops); unpooling and elementwise layers
    # keep it inside. Switches that land on zero padding (a window of zeros
    # after ReLU, whose first maximum is the padding) must drop their
    # signal as the whole-map mirror does, for every position of the map.
    keras.utils.set_random_seed(5)
    inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu",
                            bias_initializer=keras.initializers.Constant(
                                -0.2))(inputs)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.MaxPooling2D(3, 2)(x)
    x = keras.layers.Conv2D(5, 3, padding="same")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    x = keras.layers.Conv2D(3, 2, name="seed")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(5)
    images = rng.normal(size=(2, 12, 12, 2)).astype("float32")
    images[0, :6] = 0.0  # all-zero rows: ties with the padding
    size = model.get_layer("seed").output.shape[1]
    grid = np.array([(r, c) for r in range(size) for c in range(size)])
    which = np.repeat([0, 1], len(grid) * 3)
    channels = np.tile(np.repeat([0, 1, 2], len(grid)), 2)
    positions = np.tile(grid, (6, 1))
    whole = kz.Deconvnet(model, windowed=False).project_positions(
        images, "seed", channels, positions, image_indices=which)
    windowed = kz.Deconvnet(model, windowed=True).project_positions(
        images, "seed", channels, positions, image_indices=which)
    assert np.abs(whole).max() > 0
    np.testing.assert_allclose(windowed, whole, rtol=1e-5,
                               atol=1e-6 * np.abs(whole).max())


def _border_model():
    keras.utils.set_random_seed(7)
    inputs = keras.Input((14, 14, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(3, 2, padding="same")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="seed")(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("batch_size", ["auto", 4])
def test_windowed_project_pastes_windows_like_whole_maps(batch_size):
    # A windowed pass returns each item's input window and its seed
    # position; the windows are pasted into the result on the host
    # (`engine.paste_windows`), cut where they reach past the image. Every
    # channel's first maximum, over several images and (with batch_size=4)
    # several passes and channel steps, equals the whole-map projection.
    model = _border_model()
    rng = np.random.default_rng(7)
    images = rng.normal(size=(3, 14, 14, 2)).astype("float32")
    windowed = kz.Deconvnet(model, windowed=True)
    got = windowed.project(images, "seed", list(range(6)),
                           batch_size=batch_size, verbose=0)
    [(function, windows)] = windowed._function_cache.values()
    assert windows is not None  # the pass did paste on the host
    expected = kz.Deconvnet(model, windowed=False).project(
        images, "seed", list(range(6)), batch_size=batch_size, verbose=0)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-5,
                               atol=1e-6 * np.abs(expected).max())


def test_paste_windows_cuts_at_the_image_edges():
    from keras_zfnet.deconv import engine

    rng = np.random.default_rng(0)
    windows = rng.normal(size=(4, 3, 4, 2)).astype("float32")
    starts = np.array([[-2, 1], [0, -3], [3, 4], [9, 0]])  # last: outside
    frames = np.zeros((4, 5, 6, 2), "float32")
    engine.paste_windows(list(frames), windows, starts)
    expected = np.zeros_like(frames)
    for i, (r, c) in enumerate(starts):
        for a in range(3):
            for b in range(4):
                if 0 <= r + a < 5 and 0 <= c + b < 6:
                    expected[i, r + a, c + b] = windows[i, a, b]
    np.testing.assert_array_equal(frames, expected)


def test_project_checks_every_call_after_a_good_one():
    # `project` remembers each (shape, layer, mode, batch_size)'s plan; a
    # bad argument still fails after a good call with a similar one.
    model = _border_model()
    images = np.zeros((1, 14, 14, 2), "float32")
    dn = kz.Deconvnet(model)
    dn.project(images, "seed", 0, batch_size=1, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        dn.project(images, "seed", 0, batch_size=True, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        dn.project(images, "seed", 0, batch_size=[1], verbose=0)
    with pytest.raises(ValueError, match="channels"):
        dn.project(images, "seed", 6, batch_size=1, verbose=0)
    with pytest.raises(ValueError):
        dn.project(images, "nope", 0, batch_size=1, verbose=0)
    # `jit_compile` set after a call takes effect (a new compiled pass).
    dn.jit_compile = not dn._use_xla(
        dn._graph((14, 14, 2)), dn._graph((14, 14, 2)).by_name["seed"],
        "max", 1, 1)
    dn.project(images, "seed", 0, batch_size=1, verbose=0)
    assert {key[3] for key in dn._function_cache} == {True, False}
    bad = images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dn.project(bad, "seed", 0, batch_size=1, verbose=0)


@pytest.mark.parametrize("layer,mode", [("conv3", "max"), ("conv2", "all"),
                                        ("fc6", "max")])
def test_mirror_in_parts_equals_one_call(monkeypatch, layer, mode):
    # A pass's mirror runs in parts (parallel lanes on TensorFlow, a
    # sequential map on JAX; `keras_zfnet.backend.map_parts`): in parts of
    # two items (21 items: ten parts and a remainder on JAX, lanes of 11
    # and 10 on TensorFlow) every projection equals the one-call result.
    from keras_zfnet.deconv import deconvnet
    from keras_zfnet.deconv import windows as windows_lib

    keras.utils.set_random_seed(2)
    model = kz.MiniZFNet()
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 255, size=(3, 28, 28, 1)).astype("float32")
    channels = [0, 3, 5, 6, 9, 12, 15]
    monkeypatch.setattr(deconvnet, "_PART_FLOATS", 2 ** 40)
    one_call = kz.Deconvnet(model, jit_compile=False)
    expected = one_call.project(images, layer, channels, mode=mode)
    which = np.array([2, 0, 2, 1, 0])
    entries = (np.array([1, 2, 3, 4, 5]), rng.integers(0, 3, size=(5, 2)))
    expected_entries = one_call.project_positions(
        images, "conv3", *entries, image_indices=which)
    assert not any(key[-1] for key in one_call._function_cache)

    def floats(layer, mode):
        graph = one_call._graph((28, 28, 1))
        seed = graph.by_name[layer]
        return windows_lib.signal_floats(
            graph, seed, one_call._windows(graph, seed, mode))

    for seed_layer, seed_mode in ((layer, mode), ("conv3", "positions")):
        # Parts of two items for this pass (the floats of one item are the
        # same for every pass of a seed and kind).
        monkeypatch.setattr(deconvnet, "_PART_FLOATS",
                            2 * floats(seed_layer, seed_mode))
        in_parts = kz.Deconvnet(model, jit_compile=False)
        if seed_mode == "positions":
            projected = in_parts.project_positions(
                images, "conv3", *entries, batch_size=4,
                image_indices=which)
            reference = expected_entries
        else:
            projected = in_parts.project(images, layer, channels,
                                         mode=mode)
            reference = expected
        split = {key[-1] for key in in_parts._function_cache}
        assert split == ({2} if backend.splits_parts() else {None})
        assert np.abs(reference).max() > 0
        np.testing.assert_allclose(projected, reference, rtol=1e-5,
                                   atol=1e-6 * np.abs(reference).max())
