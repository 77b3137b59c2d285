"""Training pipelines: the paper's crops and flips at every scale."""

import numpy as np
import tensorflow as tf


def default_validation_size(num_images):
    """Images held out by default: a tenth, at most 5,000, at least 1.

    The full Fashion-MNIST training set (60,000) holds out 5,000, as the
    shipped presets did; 1,000 images hold out 100.
    """
    return min(5000, max(1, int(num_images) // 10))


def small_image_pipelines(x_train, y_train, batch_size=128,
                          validation_size=None, pad=2, seed=0):
    """Train / validation datasets for small images (e.g. Fashion-MNIST).

    The paper's augmentation at small scale: each training image is zero
    padded by `pad` pixels and a random crop of the original size is taken,
    flipped horizontally half of the time. The last `validation_size`
    images of a seeded permutation are held out for the learning-rate
    schedule (the test set is never used for training decisions).

    Args:
        x_train: uint8 or float images `(N, H, W)` or `(N, H, W, C)`.
        y_train: integer labels `(N,)`.
        batch_size: batch size (paper: 128).
        validation_size: images held out for validation; `None` holds out
            `default_validation_size(N)` (a tenth, at most 5,000).
        pad: padding of the random crops (0 disables cropping).
        seed: permutation, shuffling and augmentation seed.

    Returns:
        `(train_dataset, validation_dataset)`.
    """
    x = np.asarray(x_train)
    y = np.asarray(y_train)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(
            "Expected images (N, H, W[, C]) and N labels. Received: "
            f"x_train.shape={np.shape(x_train)}, y_train.shape={y.shape}"
        )
    for name, value, low in (("batch_size", batch_size, 1), ("pad", pad, 0)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}. "
                             f"Received: {name}={value!r}")
    if len(x) < 2:
        raise ValueError(
            "Expected at least 2 images (one to train on, one to validate). "
            f"Received: x_train.shape={np.shape(x_train)}")
    if validation_size is None:
        validation_size = default_validation_size(len(x))
    if (not isinstance(validation_size, (int, np.integer))
            or not 0 < validation_size < len(x)):
        raise ValueError(
            f"`validation_size` must be in [1, {len(x) - 1}]. Received: "
            f"validation_size={validation_size}"
        )
    order = np.random.default_rng(seed).permutation(len(x))
    train_idx, val_idx = order[:-validation_size], order[-validation_size:]
    height, width, channels = x.shape[1:]

    def augment(image, label):
        image = tf.cast(image, tf.float32)
        if pad:
            image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
            image = tf.image.random_crop(image, (height, width, channels))
        image = tf.image.random_flip_left_right(image)
        return image, label

    train = (
        tf.data.Dataset.from_tensor_slices((x[train_idx], y[train_idx]))
        .shuffle(len(train_idx), seed=seed, reshuffle_each_iteration=True)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = (
        tf.data.Dataset.from_tensor_slices(
            (x[val_idx].astype("float32"), y[val_idx])
        )
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train, validation
