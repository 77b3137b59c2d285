import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.datasets import fashion_mnist

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(5)
    return kz.MiniZFNet()


@pytest.fixture(scope="module")
def images():
    x, _ = fashion_mnist.load_sample(verbose=0)
    return x[:150, :, :, None].astype("float32")


def brute_force(model, images, layer, k):
    """Every activation in memory, sorted: the reference."""
    acts = keras.Model(model.input, model.get_layer(layer).output).predict(
        images, verbose=0)
    n, h, w, c = acts.shape
    flat = acts.reshape(n, h * w, c)
    peak = flat.max(axis=1)  # (n, c)
    first = flat.argmax(axis=1)  # numpy: first occurrence
    values = np.zeros((c, k), "float32")
    indices = np.zeros((c, k), "int64")
    positions = np.zeros((c, k, 2), "int32")
    for ch in range(c):
        order = np.lexsort((np.arange(n), -peak[:, ch]))[:k]
        values[ch] = peak[order, ch]
        indices[ch] = order
        positions[ch] = np.stack(divmod(first[order, ch], w), axis=-1)
    return values, indices, positions


def _assert_same(result, reference):
    values, indices, positions = reference
    np.testing.assert_array_equal(result.indices, indices)
    np.testing.assert_array_equal(result.positions, positions)
    np.testing.assert_allclose(result.values, values, rtol=1e-5, atol=1e-6)


def test_matches_brute_force_for_every_layer_in_one_scan(model, images):
    results = kz.top_activations(model, images, LAYERS, k=9, batch_size=32,
                                 verbose=0)
    assert sorted(results) == sorted(LAYERS)
    for layer in LAYERS:
        _assert_same(results[layer], brute_force(model, images, layer, 9))
        assert results[layer].scanned == len(images)


def test_ties_go_to_the_lower_index():
    # Identical images tie on every channel. The model's arithmetic is exact
    # (integer weights and pixels), so the tie is exact in every batch: a
    # float network's last bit can differ between batch positions in XLA.
    model = keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, kernel_initializer="ones",
                            activation="relu", name="conv")])
    same = np.full((12, 6, 6, 1), 2.0, "float32")
    top = kz.top_activations(model, same, "conv", k=5, batch_size=5,
                             verbose=0)
    np.testing.assert_array_equal(top.indices, np.tile(np.arange(5), (4, 1)))
    np.testing.assert_array_equal(top.values, np.full((4, 5), 18.0))


def test_sources_agree(model, images):
    tf = pytest.importorskip("tensorflow")
    reference = brute_force(model, images, "conv3", 4)
    sources = [
        tf.data.Dataset.from_tensor_slices(images),  # unbatched
        tf.data.Dataset.from_tensor_slices(
            (images, np.zeros(len(images)))).batch(17),  # (x, y), batched
        _Batches(images, 23),
    ]
    if keras.config.backend() == "torch":
        import torch

        sources.append(torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(images),
                                           torch.zeros(len(images))),
            batch_size=19))
    for data in sources:
        top = kz.top_activations(model, data, "conv3", k=4, batch_size=10,
                                 verbose=0)
        _assert_same(top, reference)


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, size):
        super().__init__()
        self.x, self.size = x, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        batch = self.x[i * self.size:(i + 1) * self.size]
        return batch, np.zeros(len(batch))


def test_three_shards_merge_into_the_single_scan(model, images, tmp_path):
    whole = kz.top_activations(model, images, "conv4", k=9, verbose=0)
    cuts = [0, 40, 41, 150]
    parts = [
        kz.top_activations(model, images[a:b], "conv4", k=9, index_offset=a,
                           verbose=0)
        for a, b in zip(cuts[:-1], cuts[1:])
    ]
    merged = parts[2].merge(parts[0]).merge(parts[1])
    for field in ("indices", "positions"):
        np.testing.assert_array_equal(getattr(merged, field),
                                      getattr(whole, field))
    # Values agree to float32 noise (convolutions may sum in another order
    # for another batch size, e.g. the one-image shard).
    np.testing.assert_allclose(merged.values, whole.values, rtol=1e-5)
    assert merged.scanned == whole.scanned
    path = tmp_path / "top.npz"
    whole.to_npz(path)
    loaded = kz.TopActivations.from_npz(path, model=model)
    np.testing.assert_array_equal(loaded.indices, whole.indices)
    assert loaded.receptive_field == whole.receptive_field


def test_interrupted_scan_resumes_to_the_same_result(model, images, tmp_path):
    tf = pytest.importorskip("tensorflow")
    whole = kz.top_activations(model, images, ["conv1", "conv5"], k=3,
                               batch_size=16, verbose=0)
    checkpoint = str(tmp_path / "scan.npz")

    class Stop(Exception):
        pass

    def interrupted():
        for i in range(0, 80, 16):  # 5 batches, then the "crash"
            yield images[i:i + 16]
        raise Stop

    data = tf.data.Dataset.from_generator(
        interrupted, output_signature=tf.TensorSpec((None, 28, 28, 1)))
    with pytest.raises(Exception):
        kz.top_activations(model, data, ["conv1", "conv5"], k=3,
                           batch_size=16, checkpoint=checkpoint,
                           checkpoint_every=2, verbose=0)
    with np.load(checkpoint) as saved:
        assert int(saved["scanned"]) == 64  # 4 batches checkpointed
    resumed = kz.top_activations(model, images, ["conv1", "conv5"], k=3,
                                 batch_size=16, checkpoint=checkpoint,
                                 verbose=0)
    for layer in ("conv1", "conv5"):
        np.testing.assert_array_equal(resumed[layer].indices,
                                      whole[layer].indices)
        np.testing.assert_array_equal(resumed[layer].values,
                                      whole[layer].values)
    assert resumed["conv1"].scanned == len(images)


def test_patches_are_receptive_field_slices(model, images):
    top = kz.top_activations(model, images, "conv2", channels=[3, 10], k=4,
                             verbose=0)
    rf = kz.receptive_field(model, "conv2")
    patches = top.patches(images)
    assert patches.shape == (2, 4, *rf.size, 1)
    for (c, j), index in np.ndenumerate(top.indices):
        (r0, r1), (c0, c1) = rf.box(*top.positions[c, j])
        image = images[index]
        if r0 >= 0 and c0 >= 0 and r1 <= 28 and c1 <= 28:
            np.testing.assert_array_equal(patches[c, j],
                                          image[r0:r1, c0:c1])
        else:  # at a border: the outside is filled with zeros
            padded = np.pad(image, ((20, 20), (20, 20), (0, 0)))
            np.testing.assert_array_equal(
                patches[c, j], padded[r0 + 20:r1 + 20, c0 + 20:c1 + 20])


def test_projections_of_the_entries(model, images, tmp_path):
    top = kz.top_activations(model, images, "conv3", channels=[1, 2], k=3,
                             verbose=0)
    projections = top.projections(images)
    assert projections.shape == (2, 3, 28, 28, 1)
    dn = kz.Deconvnet(model)
    for c, channel in enumerate(top.channels):
        picked = images[top.indices[c]]
        expected = dn.project(picked, "conv3", int(channel), mode="max")
        np.testing.assert_allclose(projections[c], expected, rtol=1e-5,
                                   atol=1e-7)
    figure = top.plot(images)
    assert len(figure.axes) == 4
    top.save(tmp_path / "fig2.png", images)
    assert (tmp_path / "fig2.png").stat().st_size > 1000


def test_fewer_images_than_k(model, images):
    top = kz.top_activations(model, images[:3], "conv1", k=5, verbose=0)
    assert np.all(top.indices[:, 3:] == -1)
    assert np.all(np.isinf(top.values[:, 3:]))
    assert top.patches(images[:3]).shape[1] == 5


def test_bad_input(model, images):
    with pytest.raises(ValueError, match=r"Unknown layer 'conv9'"):
        kz.top_activations(model, images, "conv9")
    with pytest.raises(ValueError, match=r"\[0, 31\]"):
        kz.top_activations(model, images, "conv1", channels=[32])
    with pytest.raises(ValueError, match="k"):
        kz.top_activations(model, images, "conv1", k=0)
    with pytest.raises(ValueError, match="empty"):
        kz.top_activations(model, images[:0], "conv1", verbose=0)
    with pytest.raises(ValueError, match=r"\(32, 32, 1\)"):
        kz.top_activations(model, np.zeros((4, 32, 32, 1)), "conv1",
                           verbose=0)
    a = kz.top_activations(model, images[:10], "conv1", k=2, verbose=0)
    b = kz.top_activations(model, images[:10], "conv2", k=2, verbose=0)
    with pytest.raises(ValueError, match="same layer"):
        a.merge(b)


class _HostIdentity(keras.layers.Layer):
    """A layer XLA cannot compile (it runs NumPy on the host)."""

    def call(self, x):
        import tensorflow as tf

        y = tf.numpy_function(lambda a: a, [x], tf.float32)
        return tf.ensure_shape(y, x.shape)


@pytest.mark.tf_only
def test_models_xla_cannot_compile_fall_back(images):
    inputs = keras.Input((28, 28, 1))
    x = _HostIdentity()(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c")(x)
    model = keras.Model(inputs, x)
    top = kz.top_activations(model, images[:40], "c", k=3, batch_size=16,
                             verbose=0)
    _assert_same(top, brute_force(model, images[:40], "c", 3))
    with pytest.raises(Exception):
        kz.top_activations(model, images[:40], "c", k=3, jit_compile=True,
                           verbose=0)


def test_class_purity_counts_each_channels_top_images(model, images,
                                                      tmp_path):
    top = kz.top_activations(model, images, "conv2", k=4, verbose=0)
    labels = np.arange(len(images)) % 3
    shares = top.class_purity(labels)
    for c in range(len(top.channels)):
        fired = top.indices[c][top.values[c] > 0]
        if not len(fired):
            assert np.isnan(shares[c])
            continue
        counts = np.bincount(labels[fired], minlength=3)
        assert shares[c] == counts.max() / len(fired)
    # one class everywhere: every channel that fired is pure
    assert np.all(top.class_purity(np.zeros(len(images), int))[
        np.isfinite(shares)] == 1.0)
    # the projections of a loaded result need the model, given explicitly
    path = top.select([0]).to_npz(str(tmp_path / "top"))
    loaded = kz.TopActivations.from_npz(path)
    with pytest.raises(ValueError, match="model="):
        loaded.projections(images)
    np.testing.assert_array_equal(loaded.projections(images, model=model),
                                  top.select([0]).projections(images))
    with pytest.raises(ValueError, match="labels"):
        top.class_purity(labels[:3])
