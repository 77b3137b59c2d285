"""`extract_features` compiles one step per (feature model, pooling) with a
free batch size: calls with different numbers of images never retrace."""

import io
import logging

import numpy as np
import pytest

import keras_zfnet as kz


@pytest.mark.tf_only
def test_extract_features_does_not_retrace_across_batch_sizes(capfd):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        model = kz.MiniZFNet(weights=None, input_shape=(28, 28, 1),
                             classes=10)
        sizes = []
        for n in (5, 7, 9, 11, 13, 15):
            images = np.random.rand(n, 28, 28, 1).astype("float32")
            features = kz.extract_features(model, ["conv1", "fc6"], images,
                                           pooling="avg", verbose=0)
            sizes.append(len(features["fc6"]))
        for pooling in (None, "max"):  # one more function each, one trace
            kz.extract_features(model, "conv2", images, pooling=pooling,
                                verbose=0)
    finally:
        logger.removeHandler(handler)
    assert sizes == [5, 7, 9, 11, 13, 15]
    out, err = capfd.readouterr()
    text = buffer.getvalue() + out + err
    assert "retracing" not in text, text[-3000:]
