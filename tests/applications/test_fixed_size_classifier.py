"""The classifier of the ZFNet family needs a fixed input size; a variable
size is refused up front with the argument named (not deep inside Keras)."""

import re

import keras
import pytest

import keras_zfnet as kz

BUILDERS = [(kz.ZFNet, 3), (kz.AlexNet, 3), (kz.MiniZFNet, 1)]


@pytest.mark.parametrize("builder, channels", BUILDERS)
@pytest.mark.parametrize("size", [(None, None), (None, 64), (64, None)])
def test_variable_size_with_the_classifier_is_refused(builder, channels,
                                                      size):
    shape = (*size, channels)
    with pytest.raises(ValueError) as info:
        builder(input_shape=shape, include_top=True, weights=None)
    message = str(info.value)
    assert builder.__name__ in message
    assert "include_top=True needs a fixed input size" in message
    assert "include_top=False" in message
    assert f"Received: input_shape={shape}" in message
    assert "variable" not in message.split("Received")[1]


@pytest.mark.parametrize("builder, channels", BUILDERS)
def test_variable_size_through_input_tensor_is_refused(builder, channels):
    tensor = keras.Input((None, None, channels))
    with pytest.raises(ValueError, match=re.escape(
            f"Received: input_shape={(None, None, channels)}")):
        builder(input_tensor=tensor, include_top=True, weights=None)


@pytest.mark.parametrize("builder, channels", BUILDERS)
def test_variable_size_without_the_classifier_still_builds(builder,
                                                           channels):
    model = builder(input_shape=(None, None, channels), include_top=False,
                    pooling="avg", weights=None)
    assert model.input_shape == (None, None, None, channels)
