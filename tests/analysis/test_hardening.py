"""Bad input never gives a silently wrong result: each class of mistake is
refused with a ValueError naming the argument and the value received."""

import keras
import numpy as np
import pytest

import keras_zfnet as kz


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(5)
    return kz.MiniZFNet(input_shape=(28, 28, 1), classes=4)


@pytest.fixture(scope="module")
def other_model():
    keras.utils.set_random_seed(6)
    return kz.MiniZFNet(input_shape=(28, 28, 1), classes=4)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (10, 28, 28, 1)).astype("float32")


def scan(model, images, **kwargs):
    kwargs.setdefault("k", 2)
    return kz.top_activations(model, images, "conv3", verbose=0,
                              batch_size=4, **kwargs)


def test_checkpoint_of_another_model_is_refused(model, other_model, images,
                                                tmp_path):
    path = str(tmp_path / "scan.npz")
    scan(model, images[:8], checkpoint=path)
    with pytest.raises(ValueError, match=r"another scan.*weights"):
        scan(other_model, images[:8], checkpoint=path)
    with pytest.raises(ValueError, match=r"another scan.*\bk\b"):
        scan(model, images[:8], checkpoint=path, k=3)
    with pytest.raises(ValueError, match=r"another scan.*first_batch"):
        scan(model, images[::-1].copy(), checkpoint=path)
    # The right scan still resumes (and gives the uninterrupted result).
    resumed = scan(model, images, checkpoint=path)
    np.testing.assert_array_equal(resumed.indices, scan(model, images).indices)


def test_corrupt_or_foreign_files(model, images, tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"not a readable.*corrupt\.npz"):
        scan(model, images, checkpoint=str(corrupt))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.arange(3))
    with pytest.raises(ValueError, match="not a top_activations checkpoint"):
        scan(model, images, checkpoint=str(foreign))
    with pytest.raises(ValueError, match=r"not a TopActivations result.*lacks"):
        kz.TopActivations.from_npz(str(foreign))
    checkpoint = str(tmp_path / "ck.npz")
    scan(model, images, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="not a TopActivations result"):
        kz.TopActivations.from_npz(checkpoint)


def test_overlapping_shards_do_not_merge(model, images, tmp_path):
    first = scan(model, images[:6])
    second = scan(model, images[4:], index_offset=4)
    with pytest.raises(ValueError, match=r"overlapping shards.*\[0, 6\].*\[4"):
        first.merge(second)
    with pytest.raises(ValueError, match="overlapping shards"):
        first.merge(first)
    # Disjoint shards merge, also after a round trip through files.
    third = scan(model, images[6:], index_offset=6)
    first.to_npz(tmp_path / "a.npz")
    merged = kz.TopActivations.from_npz(tmp_path / "a.npz").merge(third)
    np.testing.assert_array_equal(merged.indices, scan(model, images).indices)
    assert merged.scanned == len(images)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(index_offset=-1), r"index_offset.*Received: index_offset=-1"),
    (dict(layer=["conv3", "conv3"]), r"same layer more than once.*conv3"),
    (dict(channels={"conv3": [0], "conv9": [1]}), r"channels.*'conv9'"),
    (dict(channels={"conv4": [0]}), r"channels.*'conv4'"),
])
def test_scan_arguments(model, images, kwargs, pattern):
    layer = kwargs.pop("layer", "conv3")
    with pytest.raises(ValueError, match=pattern):
        kz.top_activations(model, images, layer, verbose=0, **kwargs)


def test_non_finite_images_are_refused_everywhere(model, images):
    bad = images.copy()
    bad[1, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"`data` contains 1 NaN"):
        kz.top_activations(model, bad, "conv3", verbose=0)
    import tensorflow as tf
    with pytest.raises(ValueError, match=r"`data` contains 1 NaN"):
        kz.top_activations(model, tf.data.Dataset.from_tensor_slices(bad),
                           "conv3", verbose=0)
    with pytest.raises(ValueError, match=r"`images` contains 1 NaN"):
        kz.occlusion_sensitivity(model, bad, 8, 8, verbose=0)
    with pytest.raises(ValueError, match=r"`images` contains 1 NaN"):
        kz.Deconvnet(model).project(bad, "conv3", 0)
    with pytest.raises(ValueError, match=r"`fill` must be finite.*nan"):
        kz.occlusion_sensitivity(model, images, 8, 8, fill=np.nan, verbose=0)


@pytest.mark.parametrize("dtype", ["U3", "complex64", object])
def test_string_and_complex_images(model, images, dtype):
    bad = images.astype(dtype)
    with pytest.raises(ValueError, match=r"`data` must hold real numbers"):
        kz.top_activations(model, bad, "conv3", verbose=0)
    with pytest.raises(ValueError, match=r"`images` must hold real numbers"):
        kz.occlusion_sensitivity(model, bad, 8, 8, verbose=0)
    with pytest.raises(ValueError, match=r"`images` must hold real numbers"):
        kz.Deconvnet(model).project(bad, "conv3", 0)


def test_project_positions_shapes(model, images):
    dn = kz.Deconvnet(model)
    x = images[:3]
    rows, cols = np.array([1, 2, 3]), np.array([4, 0, 2])
    with pytest.raises(ValueError, match=r"\(N, 2\).*np\.nonzero"):
        dn.project_positions(x, "conv1", [0, 1, 2], np.stack([rows, cols]))
    with pytest.raises(ValueError, match=r"integers.*float"):
        dn.project_positions(x, "conv1", [0, 1, 2],
                             np.stack([rows, cols], 1) + 0.5)
    with pytest.raises(ValueError, match=r"one per image \(N=3\)"):
        dn.project_positions(x, "conv1", [0, 1, 2], [[1, 2]])
    got = dn.project_positions(x, "conv1", [0, 1, 2], np.stack([rows, cols], 1))
    one = dn.project_positions(x[1:2], "conv1", [1], [2, 0])
    np.testing.assert_allclose(got[1], one[0], atol=1e-6)


def test_reprs_are_one_line(model, images):
    top = scan(model, images)
    result = kz.occlusion_sensitivity(model, images[:2], 8, 8, verbose=0)
    for obj in (top, result):
        text = repr(obj)
        assert "\n" not in text and len(text) < 200, text


def test_occlusion_title_says_predicted_without_labels(model, images):
    result = kz.occlusion_sensitivity(model, images[:1], 8, 8, verbose=0)
    titles = [ax.get_title() for ax in result.plot(images[:1]).axes]
    assert any("predicted:" in t for t in titles)
    labelled = kz.occlusion_sensitivity(model, images[:1], 8, 8, labels=[1],
                                        verbose=0)
    titles = [ax.get_title() for ax in labelled.plot(images[:1]).axes]
    assert any("true: 1" in t for t in titles)


def test_a_reshuffling_dataset_is_refused_where_indices_are_reused(model,
                                                                  images):
    import tensorflow as tf

    shuffled = tf.data.Dataset.from_tensor_slices(images).shuffle(
        10, seed=1).batch(4)
    top = kz.top_activations(model, shuffled, "conv3", k=2, verbose=0)
    with pytest.raises(ValueError, match=r"same images in the same order"):
        top.patches(shuffled)
    steady = tf.data.Dataset.from_tensor_slices(images).shuffle(
        10, seed=1, reshuffle_each_iteration=False).batch(4)
    top = kz.top_activations(model, steady, "conv3", k=2, verbose=0)
    assert top.patches(steady).shape[:2] == (len(top.channels), 2)
    callback = kz.callbacks.FeatureEvolution(shuffled, ["conv3"], features=2,
                                             epochs=(1,))
    callback.set_model(model)
    with pytest.raises(ValueError, match=r"probe_data.*same order"):
        callback.on_train_begin()
