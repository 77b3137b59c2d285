"""The paper's "non-pretrained convnet" baseline: the same architecture
trained from random initialization on the few training images."""

import keras
import numpy as np
import tensorflow as tf

from keras_zfnet.analysis import metrics
from keras_zfnet.analysis.transfer import scratch_model


def _pipeline(images, targets, batch_size, seed):
    """Shuffled batches with random crops (zero padding of 1/14 of the
    side, the recipe's 2 pixels at 28x28); no flips, which would change
    the meaning of digits or text."""
    height, width, channels = images.shape[1:]
    pad = max(1, height // 14)

    def crop(image, target):
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        return tf.image.random_crop(image, (height, width, channels),
                                    seed=seed), target

    return (tf.data.Dataset.from_tensor_slices((images, targets))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .map(crop)
            .batch(batch_size))


def train_scratch(model, images, labels, multi_label, epochs, seed=0,
                  batch_size=32, learning_rate=1e-2):
    """A fresh copy of `model`'s architecture trained on `images`.

    Args:
        model: the (pretrained) model whose architecture to re-create.
        images: `(n, H, W, C)` float training images.
        labels: `(n,)` integer labels or `(n, C)` multi-hot labels.
        multi_label: whether `labels` are multi-hot (sigmoid head).
        epochs: training epochs.
        seed: seeds the initialization, the shuffling and the crops.
        batch_size, learning_rate: SGD settings (momentum 0.9).

    Returns:
        `(net, classes)`: the trained model and, for single labels, the
        sorted class values its outputs stand for.
    """
    keras.utils.set_random_seed(int(seed))
    if multi_label:
        classes = None
        targets = np.asarray(labels, dtype="float32")
        net = scratch_model(model, targets.shape[1], head="sigmoid")
        loss = keras.losses.BinaryCrossentropy()
    else:
        classes, targets = np.unique(labels, return_inverse=True)
        net = scratch_model(model, max(2, len(classes)), head="softmax")
        loss = keras.losses.SparseCategoricalCrossentropy()
    net.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
                loss=loss)
    images = np.asarray(images, dtype="float32")
    # The pipeline shuffles itself (Keras ignores `shuffle` for datasets).
    net.fit(_pipeline(images, targets, batch_size, int(seed)), epochs=epochs,
            shuffle=False, verbose=0)
    return net, classes


def train_and_score(model, train_images, train_labels, test_images,
                    test_labels, multi_label, epochs, seed=0):
    """Trains the scratch baseline and scores it like the linear probes:
    mean per-class accuracy, or mean average precision."""
    net, classes = train_scratch(model, train_images, train_labels,
                                 multi_label, epochs, seed)
    outputs = net.predict(np.asarray(test_images, dtype="float32"),
                          batch_size=256, verbose=0)
    if multi_label:
        return metrics.mean_average_precision(test_labels, outputs)
    predicted = classes[np.argmax(outputs[:, :len(classes)], axis=1)]
    return metrics.mean_class_accuracy(test_labels, predicted)
