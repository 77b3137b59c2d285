"""One `batch_size` check: every public function refuses bools, floats and
strings (except a documented "auto") with a message naming the value."""

import numpy as np
import pytest

from keras_zfnet.utils.validation import check_batch_size


@pytest.mark.parametrize("value", [0, -1, True, False, 2.0, "8", None])
def test_refused(value):
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer "
                                         r">= 1\. Received: batch_size="):
        check_batch_size(value)


def test_accepted():
    assert check_batch_size(np.int64(3)) == 3
    assert check_batch_size(1) == 1
    assert check_batch_size("auto", allow_auto=True) == "auto"
    with pytest.raises(ValueError, match='or "auto".*batch_size=True'):
        check_batch_size(True, allow_auto=True)


def test_every_public_function_uses_the_check():
    import keras

    import keras_zfnet as kz
    from keras_zfnet.training.data import small_image_pipelines

    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(2, 3, activation="relu", name="c1"),
        keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    x = np.zeros((4, 8, 8, 1), "float32")
    calls = [
        lambda b: kz.top_activations(model, x, "c1", batch_size=b),
        lambda b: kz.Deconvnet(model).project(x, "c1", 0, batch_size=b),
        lambda b: kz.extract_features(model, ["c1"], x, batch_size=b),
        lambda b: kz.occlusion_sensitivity(model, x, 2, 2, batch_size=b),
        lambda b: small_image_pipelines(np.zeros((4, 8, 8)), np.zeros(4),
                                        batch_size=b),
    ]
    for call in calls:
        for value in (True, 2.0, "8"):
            with pytest.raises(ValueError, match="batch_size="):
                call(value)
