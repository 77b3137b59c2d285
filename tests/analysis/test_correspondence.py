import keras
import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.analysis.correspondence import sign_distances


def _model(size=16):
    """`pixels` is an identity 1x1 convolution: its features are the
    pixels, so occluding the same box changes the same features."""
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="pixels")(inputs)
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.get_layer("pixels").set_weights([np.ones((1, 1, 1, 1))])
    return model


def _images(n=4, size=16):
    return np.random.default_rng(0).random((n, size, size, 1)).astype(
        "float32") + 0.5


def test_hamming_normalization_by_hand_on_3_images():
    signs = np.array([[1, -1, 0, 1],
                      [1, 1, 0, 1],
                      [-1, -1, 0, 0]])
    # pairs (0,1): 1 of 4 differ; (0,2): 2 of 4; (1,2): 3 of 4.
    np.testing.assert_allclose(sign_distances(signs), [0.25, 0.5, 0.75])


def test_scores_match_hand_computed_signs_on_3_images():
    model, images = _model(), _images(3)
    boxes = [(0, 4, 0, 4), (2, 6, 2, 6), (0, 4, 0, 4)]
    result = kz.correspondence(model, images, {"p": boxes}, "pixels",
                               fill="zero", random_trials=2)
    # On identity features with positive pixels and a zero occluder,
    # sign(eps) is 1 inside the box and 0 outside.
    masks = np.zeros((3, 256))
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        m = np.zeros((16, 16))
        m[r0:r1, c0:c1] = 1
        masks[i] = m.ravel()
    expected = [np.mean(masks[0] != masks[1]), np.mean(masks[0] != masks[2]),
                np.mean(masks[1] != masks[2])]
    np.testing.assert_allclose(result.pair_distances[("p", "pixels")],
                               expected)
    row = result.table[0]
    assert row["mean"] == pytest.approx(np.mean(expected))
    assert row["std"] == pytest.approx(np.std(expected))


def test_the_control_occludes_one_shared_place_and_p_follows_it():
    model, images = _model(), _images()
    parts = {"corner": [(2, 6, 3, 7)] * 4}
    result = kz.correspondence(model, images, parts, ["pixels", "conv"],
                               fill="zero", random_trials=5, seed=3)
    pixels = result.table[0]
    assert (pixels["part"], pixels["layer"]) == ("corner", "pixels")
    assert pixels["mean"] == 0.0
    # Each random trial occludes the same place in every image, so on
    # pixel features the control is as consistent as the part: the
    # position alone decides nothing (the paper's control).
    np.testing.assert_array_equal(
        result.random_distances[("corner", "pixels")], np.zeros((5, 6)))
    assert pixels["random_mean"] == 0.0 and pixels["p_value"] == 1.0
    for row in result.table:
        per_trial = result.random_distances[
            (row["part"], row["layer"])].mean(axis=1)
        assert row["p_value"] == pytest.approx(
            (1 + np.sum(per_trial <= row["mean"])) / 6)
        assert row["random_trials"] == 5
    text = result.to_markdown()
    assert text.count("\n") == 3 and "| corner | conv |" in text
    assert "| p |" in text
    # Same seed, same control.
    again = kz.correspondence(model, images, parts, ["pixels", "conv"],
                              fill="zero", random_trials=5, seed=3)
    assert again.table == result.table


def test_a_part_that_follows_the_object_beats_shared_random_boxes():
    """A bright square sits at a different place in each image and the part
    box follows it: occluding it changes `conv` the same way in every image,
    occluding one shared random place does not."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu",
                            name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, x)
    # channel 0 sees the bright square, channel 1 the background
    model.get_layer("conv").set_weights([
        np.ones((3, 3, 1, 2), "float32") * np.array([1.0, -1.0]),
        np.array([-4.0, 4.0], "float32")])
    rng = np.random.default_rng(1)
    images = rng.random((6, 16, 16, 1)).astype("float32") * 0.2
    boxes = []
    for i in range(6):
        r, c = 1 + 2 * (i % 3), 2 + 3 * (i // 3)
        images[i, r:r + 5, c:c + 5] = 3.0
        boxes.append((r, r + 5, c, c + 5))
    result = kz.correspondence(model, images, {"square": boxes}, "gap",
                               fill="mean", random_trials=19, seed=0)
    row = result.table[0]
    assert row["mean"] < row["random_mean"]
    assert row["p_value"] <= 0.05


def test_bad_input():
    model, images = _model(), _images(3)
    box = (0, 4, 0, 4)
    with pytest.raises(ValueError, match=r"3 boxes.*Received: parts\['p'\]"):
        kz.correspondence(model, images, {"p": [box] * 2}, "conv")
    with pytest.raises(ValueError, match="row0 < row1.*Received: box"):
        kz.correspondence(model, images, {"p": [(4, 4, 0, 4)] * 3}, "conv")
    with pytest.raises(ValueError, match="<= 16.*Received: box"):
        kz.correspondence(model, images, {"p": [(0, 4, 10, 17)] * 3}, "conv")
    with pytest.raises(ValueError, match="row0.*Received: box"):
        kz.correspondence(model, images, {"p": [(-1, 4, 0, 4)] * 3}, "conv")
    with pytest.raises(ValueError, match="non-empty dict"):
        kz.correspondence(model, images, {}, "conv")
    with pytest.raises(ValueError, match="Unknown layer 'fc7'"):
        kz.correspondence(model, images, {"p": [box] * 3}, "fc7")
    with pytest.raises(ValueError, match="at least 2 images"):
        kz.correspondence(model, images[:1], {"p": [box]}, "conv")
    with pytest.raises(ValueError, match="random_trials"):
        kz.correspondence(model, images, {"p": [box] * 3}, "conv",
                          random_trials=0)
    with pytest.raises(ValueError, match="fill"):
        kz.correspondence(model, images, {"p": [box] * 3}, "conv",
                          fill="blur")
