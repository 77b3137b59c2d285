import numpy as np
import pytest

import keras_zfnet as kz


def test_preprocess_input_subtracts_the_channel_mean():
    x = np.zeros((2, 4, 4, 3), "uint8")
    x[..., 0], x[..., 1], x[..., 2] = 200, 100, 50
    out = kz.preprocess_input(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out[0, 0, 0], [200 - 123.68, 100 - 116.779, 50 - 103.939], rtol=1e-6
    )
    first = kz.preprocess_input(np.moveaxis(x, -1, 1), "channels_first")
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), out)


def test_preprocess_input_rejects_wrong_channels():
    with pytest.raises(ValueError, match="3 channels"):
        kz.preprocess_input(np.zeros((1, 4, 4, 1)))


def test_decode_predictions_imagenet_and_fashion_mnist():
    preds = np.zeros((2, 1000), "float32")
    preds[0, [1, 281, 999]] = [0.2, 0.7, 0.1]
    preds[1, 0] = 1.0
    decoded = kz.decode_predictions(preds, top=2)
    assert decoded[0][0] == ("n02123045", "tabby", pytest.approx(0.7))
    assert decoded[0][1][:2] == ("n01443537", "goldfish")
    assert decoded[1][0][:2] == ("n01440764", "tench")
    fashion = kz.decode_predictions(np.eye(10)[[9]], top=1)
    assert fashion == [[("9", "Ankle boot", 1.0)]]
    custom = kz.decode_predictions([[0.1, 0.9]], top=1, class_names=["a", "b"])
    assert custom == [[("1", "b", pytest.approx(0.9))]]


def test_decode_predictions_errors():
    with pytest.raises(ValueError, match="class_names"):
        kz.decode_predictions(np.zeros((1, 7)))
    with pytest.raises(ValueError, match="shape"):
        kz.decode_predictions(np.zeros(10))
    with pytest.raises(ValueError, match="top"):
        kz.decode_predictions(np.zeros((1, 10)), top=0)
