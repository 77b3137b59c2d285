"""Tiny models and an independent oracle for the callback tests."""

import keras
import numpy as np

from keras_zfnet.deconv import Deconvnet
from keras_zfnet.deconv.model_graph import model_graph


def tiny_model(seed=0, nested=False):
    """conv(4) -> pool -> conv(6) -> flatten -> dense(5) -> softmax(3) on
    12x12x1 inputs; `nested=True` wraps the feature part in a Sequential."""
    keras.utils.set_random_seed(seed)
    features = [
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.MaxPooling2D(2, name="p1"),
        keras.layers.Conv2D(6, 3, activation="relu", name="c2"),
    ]
    inputs = keras.Input((12, 12, 1))
    if nested:
        body = keras.Sequential([keras.Input((12, 12, 1)), *features],
                                name="body")
        x = body(inputs)
    else:
        x = inputs
        for layer in features:
            x = layer(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(5, activation="relu", name="d1")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    model.compile(keras.optimizers.SGD(0.05),
                  "sparse_categorical_crossentropy")
    return model


def tiny_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, n)
    return x, y


def brute_force_entry(model, probe, layer, channels):
    """The strongest activation of each channel over `probe` by a full
    forward pass and numpy (first maximum over images, then positions),
    projected with `Deconvnet(model).project(..., mode="max")`."""
    extractor = model_graph(model).feature_model([layer])
    maps = extractor(probe, training=False)
    if isinstance(maps, (list, tuple)):
        maps = maps[0]
    maps = np.asarray(maps)[..., channels]
    if maps.ndim == 4:
        per_image = maps.max(axis=(1, 2))  # (N, F)
    else:
        per_image = maps
    indices = per_image.argmax(axis=0)  # first image with the maximum
    values = per_image.max(axis=0)
    every = Deconvnet(model).project(probe[indices], layer,
                                     [int(c) for c in channels], mode="max",
                                     verbose=0)
    diagonal = np.arange(len(channels))
    return dict(channels=np.asarray(channels), values=values,
                indices=indices, projections=every[diagonal, diagonal])


class EpochCounter(keras.callbacks.Callback):
    """Counts the epochs that began."""

    def __init__(self):
        super().__init__()
        self.began = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.began += 1
