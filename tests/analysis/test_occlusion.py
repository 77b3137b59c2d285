import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis.occlusion import occluder_grid
from keras_zfnet.deconv.model_graph import model_graph


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return kz.MiniZFNet(input_shape=(20, 18, 3), classes=5)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (3, 20, 18, 3)).astype("float32")


def brute_force(model, images, patch, stride, fill, labels, layer,
                cover_edges=False):
    """Each occluded image built with numpy and run through the model alone."""
    extractor = keras.Model(model.input, [model.output,
                                          model.get_layer(layer).output])
    h, w = images.shape[1:3]
    rows = list(range(0, h - patch[0] + 1, stride[0]))
    cols = list(range(0, w - patch[1] + 1, stride[1]))
    if cover_edges and rows[-1] + patch[0] < h:
        rows.append(h - patch[0])
    if cover_edges and cols[-1] + patch[1] < w:
        cols.append(w - patch[1])
    prob = np.zeros((len(images), len(rows), len(cols)))
    pred = np.zeros_like(prob, dtype=int)
    act = np.zeros_like(prob)
    for n, image in enumerate(images):
        base_probs, base_maps = (keras.ops.convert_to_numpy(t)
                                 for t in extractor(image[None]))
        label = labels[n] if labels is not None else int(
            np.argmax(base_probs[0]))
        channel = int(np.argmax(np.asarray(base_maps)[0].max(axis=(0, 1))))
        colour = {"mean": image.mean(axis=(0, 1)), "zero": 0.0}.get(
            fill if isinstance(fill, str) else None, fill)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                occluded = image.copy()
                occluded[r:r + patch[0], c:c + patch[1]] = colour
                probs, maps = (keras.ops.convert_to_numpy(t)[0]
                               for t in extractor(occluded[None]))
                prob[n, i, j] = probs[label]
                pred[n, i, j] = probs.argmax()
                act[n, i, j] = maps[..., channel].sum()
    return prob, pred, act


@pytest.mark.parametrize(
    "patch,stride,fill,cover",
    [
        ((4, 4), (4, 4), "mean", False),  # non-overlapping
        ((6, 5), (2, 3), "zero", False),  # overlapping, rectangular
        ((7, 7), (3, 3), 127.5, True),  # borders covered
        ((5, 5), (5, 4), [10.0, 200.0, 30.0], True),  # colour per channel
    ],
)
def test_matches_brute_force(model, images, patch, stride, fill, cover):
    labels = np.array([0, 3, 4])
    result = kz.occlusion_sensitivity(
        model, images, patch, stride, fill=fill, labels=labels,
        layer="conv2", batch_size=7, cover_edges=cover, verbose=0)
    prob, pred, act = brute_force(model, images, patch, stride, fill, labels,
                                  "conv2", cover)
    np.testing.assert_allclose(result.probability, prob, atol=1e-5)
    np.testing.assert_array_equal(result.predicted, pred)
    np.testing.assert_allclose(result.activity, act, rtol=1e-5,
                               atol=1e-5 * np.abs(act).max())
    assert result.positions.shape == prob.shape[1:] + (4,)


def test_without_labels_scores_the_unoccluded_top_class(model, images):
    result = kz.occlusion_sensitivity(model, images, 6, 6, verbose=0)
    top = model.predict(images, verbose=0).argmax(-1)
    np.testing.assert_array_equal(result.labels, top)
    assert result.activity is None and result.strongest_channel is None
    prob, _, _ = brute_force(model, images, (6, 6), (6, 6), "mean", None,
                             "conv1")
    np.testing.assert_allclose(result.probability, prob, atol=1e-5)


def test_logits_models_get_a_softmax(images):
    logits = kz.MiniZFNet(input_shape=(20, 18, 3), classes=5,
                          classifier_activation=None)
    result = kz.occlusion_sensitivity(logits, images[:1], 10, 10, verbose=0)
    assert np.all((result.probability > 0) & (result.probability < 1))
    np.testing.assert_allclose(
        result.base_probability,
        keras.ops.convert_to_numpy(keras.ops.softmax(
            logits.predict(images[:1], verbose=0)))[0, result.labels[0]],
        rtol=1e-5)


def test_grid_by_hand():
    boxes = occluder_grid((10, 7), (4, 3), (3, 2))
    # rows 0, 3, 6 (6 + 4 = 10 fits); cols 0, 2, 4 (4 + 3 = 7 fits)
    assert boxes.shape == (3, 3, 4)
    np.testing.assert_array_equal(boxes[2, 1], [6, 10, 2, 5])
    edged = occluder_grid((10, 8), (4, 3), (3, 2), cover_edges=True)
    np.testing.assert_array_equal(edged[0, :, 2], [0, 2, 4, 5])


def test_bad_input(model, images):
    with pytest.raises(ValueError, match="does not fit"):
        kz.occlusion_sensitivity(model, images, 21, 1)
    with pytest.raises(ValueError, match="stride"):
        kz.occlusion_sensitivity(model, images, 4, 0)
    with pytest.raises(ValueError, match="one label per image"):
        kz.occlusion_sensitivity(model, images, 4, 4, labels=[1, 2])
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        kz.occlusion_sensitivity(model, images, 4, 4, labels=[1, 2, 5])
    with pytest.raises(ValueError, match="spatial feature maps"):
        kz.occlusion_sensitivity(model, images, 4, 4, layer="fc6")
    with pytest.raises(ValueError, match="Unknown layer"):
        kz.occlusion_sensitivity(model, images, 4, 4, layer="conv8")
    with pytest.raises(ValueError, match="3 values"):
        kz.occlusion_sensitivity(model, images, 4, 4, fill=[1.0, 2.0])
    with pytest.raises(ValueError, match="fill"):
        kz.occlusion_sensitivity(model, images, 4, 4, fill="grey")


def test_plot(model, images, tmp_path):
    result = kz.occlusion_sensitivity(model, images, 6, 2, layer="conv3",
                                      verbose=0)
    projection = kz.Deconvnet(model).project(
        images[1:2], "conv3", int(result.strongest_channel[1]))[0]
    figure = result.plot(images, 1, class_names=list("abcde"),
                         projection=projection)
    figure.savefig(tmp_path / "fig7.png")
    assert (tmp_path / "fig7.png").stat().st_size > 1000


def test_preset_behaviour_garment_versus_empty_corner():
    """On the shipped preset: hiding the garment destroys the evidence,
    hiding an empty corner does not.

    Images are those the preset classifies with p > 0.9. Covering the
    whole image with its mean colour leaves no garment, so the true class
    can only keep a chance-like probability: we require the median to fall
    below 0.3 (chance is 0.1). A 5x5 square of the same colour on a corner
    that is empty (all pixels < 10) removes nothing of the garment: we
    require the median drop to stay below 0.05.
    """
    if "fashion_mnist" not in kz.applications.available_presets():
        pytest.fail("the shipped fashion_mnist preset is missing")
    model = kz.MiniZFNet(weights="fashion_mnist")
    x, y = kz.datasets.fashion_mnist.load_sample(verbose=0)
    x = x[:200, :, :, None].astype("float32")
    y = y[:200]
    probs = model.predict(x, verbose=0)
    confident = np.flatnonzero(probs[np.arange(len(y)), y] > 0.9)[:40]
    assert len(confident) >= 20
    x, y = x[confident], y[confident]
    whole = kz.occlusion_sensitivity(model, x, 28, 1, fill="mean", labels=y,
                                     verbose=0)
    assert whole.probability.shape == (len(y), 1, 1)
    assert np.median(whole.probability[:, 0, 0]) < 0.3
    corners = kz.occlusion_sensitivity(model, x, 5, 23, fill="mean",
                                       labels=y, verbose=0)
    drops = []
    for n in range(len(y)):
        for i in range(2):
            for j in range(2):
                r0, r1, c0, c1 = corners.positions[i, j]
                if x[n, r0:r1, c0:c1].max() < 10:
                    drops.append(corners.base_probability[n]
                                 - corners.probability[n, i, j])
    assert len(drops) >= 20
    assert np.median(drops) < 0.05


def _same_pool_net():
    return keras.Sequential([
        keras.Input((30, 26, 3)),
        keras.layers.Conv2D(6, 5, strides=2, padding="same",
                            activation="relu", name="c1"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.MaxPooling2D(3, 2, padding="same", name="p1"),
        keras.layers.ZeroPadding2D(1, name="pad"),
        keras.layers.Conv2D(8, 3, activation="relu", name="c2"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(4, activation="softmax", name="out"),
    ])


@pytest.mark.parametrize(
    "build,shape,layer,patch,stride",
    [
        (lambda: kz.ZFNet(input_shape=(80, 80, 3), classes=4), (80, 80, 3),
         "conv2", 8, 7),
        (lambda: kz.ZFNet(input_shape=(80, 80, 3), classes=4), (80, 80, 3),
         "conv5", (6, 9), (5, 8)),
        (_same_pool_net, (30, 26, 3), "c1", 3, 4),
        (_same_pool_net, (30, 26, 3), "c2", (4, 2), 3),
    ],
)
def test_incremental_equals_full_recomputation(build, shape, layer, patch,
                                               stride):
    from keras_zfnet.analysis._utils import incremental

    keras.utils.set_random_seed(4)
    model = build()
    if "bn" in [lay.name for lay in model.layers]:
        rng = np.random.default_rng(1)
        model.get_layer("bn").set_weights(
            [rng.uniform(.5, 2, 6), rng.normal(size=6), rng.normal(size=6),
             rng.uniform(.5, 2, 6)])
    pair = patch if isinstance(patch, tuple) else (patch, patch)
    assert incremental.make_plan(model_graph(model), shape, pair) is not None
    images = np.random.default_rng(2).uniform(-1, 1, (2, *shape)).astype(
        "float32") * 50
    kwargs = dict(fill=[3.0, -4.0, 5.0], labels=[1, 3], layer=layer,
                  cover_edges=True, batch_size=13, verbose=0)
    fast = kz.occlusion_sensitivity(model, images, patch, stride, **kwargs)
    plain = kz.occlusion_sensitivity(model, images, patch, stride,
                                     incremental=False, **kwargs)
    np.testing.assert_allclose(fast.probability, plain.probability,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(fast.predicted, plain.predicted)
    np.testing.assert_allclose(fast.activity, plain.activity, rtol=1e-4,
                               atol=1e-4 * np.abs(plain.activity).max())
    with pytest.raises(ValueError, match="incremental"):
        kz.occlusion_sensitivity(model, images, patch, stride,
                                 incremental="yes")
