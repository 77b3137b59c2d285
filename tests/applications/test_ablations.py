import numpy as np
import pytest

import keras_zfnet as kz
from keras_zfnet.applications import ablations


def _conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


def _names(model, prefix):
    return [layer.name for layer in model.layers
            if layer.name.startswith(prefix)]


def test_removing_layers_keeps_the_others_and_their_names():
    model = ablations.MiniZFNetVariant(remove=("conv3", "conv4"))
    assert _names(model, "conv") == ["conv1", "conv2", "conv5"]
    assert model.get_layer("conv5").kernel.shape == (3, 3, 64, 64)
    assert _names(model, "fc") == ["fc6", "fc7"]
    head = ablations.MiniZFNetVariant(remove=("fc6", "fc7"))
    assert _names(head, "fc") == []
    # pool5 (4x4x64) connects straight to the classifier.
    expected = (_conv_params(5, 1, 32) + _conv_params(3, 32, 64)
                + _conv_params(3, 64, 96) + _conv_params(3, 96, 96)
                + _conv_params(3, 96, 64) + 4 * 4 * 64 * 10 + 10)
    assert head.count_params() == expected
    assert _names(ablations.MiniZFNetVariant(remove="fc7"), "fc") == ["fc6"]


def test_resizing_matches_the_baseline_builder():
    base = ablations.ablation("baseline")
    reference = kz.MiniZFNet()
    assert base.count_params() == reference.count_params()
    assert [l.name for l in base.layers[1:]] == [
        l.name for l in reference.layers[1:]]
    wide = ablations.ablation("wide_conv3_5_fc_1024")
    assert [wide.get_layer(f"conv{i}").filters for i in (3, 4, 5)] == [
        128, 256, 128]
    assert wide.get_layer("fc6").units == 1024
    assert wide.name == "mini_zfnet_wide_conv3_5_fc_1024"
    assert wide.get_layer("conv1").kernel_constraint is not None


def test_every_named_variant_builds_and_predicts():
    images = np.zeros((2, 28, 28, 1), "float32")
    for name in ablations.ABLATIONS:
        probs = ablations.ablation(name)(images, training=False)
        assert probs.shape == (2, 10)
        np.testing.assert_allclose(np.sum(probs, axis=1), 1.0, rtol=1e-5)


def test_variant_names_describe_the_change():
    model = ablations.MiniZFNetVariant(remove=("fc6", "fc7"),
                                       fc_units=(128, 128))
    assert model.name == "mini_zfnet_no_fc6_fc7_fc128-128"


def test_bad_input():
    with pytest.raises(ValueError, match="Received: remove="):
        ablations.MiniZFNetVariant(remove=("conv1",))
    with pytest.raises(ValueError, match="Received: remove="):
        ablations.MiniZFNetVariant(remove=("fc6",))
    with pytest.raises(ValueError, match="5 positive integers"):
        ablations.MiniZFNetVariant(widths=(32, 64))
    with pytest.raises(ValueError, match="Received: fc_units="):
        ablations.MiniZFNetVariant(fc_units=(0, 10))
    with pytest.raises(ValueError, match="Received: variant="):
        ablations.ablation("no_conv2")
