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
    maps = keras.ops.convert_to_numpy(maps)[..., channels]
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


class ArrayBatches(keras.utils.PyDataset):
    """`(images, labels)` (or images) in fixed batches: a probe or training
    source for every backend."""

    def __init__(self, x, y=None, batch_size=6):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(index)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if self.y is None:
            return self.x[rows]
        return self.x[rows], self.y[rows]


def read_events(folder):
    """`{(tag, step): ndarray}` of the tensor summaries in the event files of
    `folder`, read with TensorBoard's own reader (no TensorFlow needed)."""
    import os

    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    found = {}
    for name in os.listdir(folder):
        accumulator = event_accumulator.EventAccumulator(
            os.path.join(folder, name),
            size_guidance={event_accumulator.TENSORS: 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            for event in accumulator.Tensors(tag):
                found[(tag, event.step)] = tensor_util.make_ndarray(
                    event.tensor_proto)
    return found


def decode_png(data):
    """A PNG's pixels, `(H, W, C)` uint8."""
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(data)))
    return pixels[..., None] if pixels.ndim == 2 else pixels
