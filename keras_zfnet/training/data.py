"""Training pipelines: the paper's crops and flips at every scale.

On the TensorFlow backend the pipelines are `tf.data` datasets (parallel,
prefetched); on JAX and PyTorch, or without TensorFlow, they are
`keras.utils.PyDataset`s doing the same augmentation in NumPy with a seeded
generator.
"""

import math

import keras
import numpy as np

from keras_zfnet.utils import validation

PIPELINES = ("auto", "tf.data", "numpy")


def default_validation_size(num_images):
    """Images held out by default: a tenth, at most 5,000, at least 1.

    The full Fashion-MNIST training set (60,000) holds out 5,000, as the
    shipped presets did; 1,000 images hold out 100.

    Args:
        num_images: the number of labelled images.

    Returns:
        The number of images to hold out for validation.

    Example:

    >>> default_validation_size(60000)
    5000
    """
    return min(5000, max(1, int(num_images) // 10))


def pad_crop_flip(images, pad, rng):
    """The paper's small-scale augmentation of a batch, in NumPy.

    Each image is zero padded by `pad` pixels, a random crop of its
    original size is taken and flipped horizontally half of the time.

    Args:
        images: float32 `(N, H, W, C)` images.
        pad: padding of the random crops (0: flips only).
        rng: a `np.random.Generator`.

    Returns:
        float32 `(N, H, W, C)` augmented images.

    Example:

    >>> batch = pad_crop_flip(x, 2, np.random.default_rng(0))
    """
    images = np.asarray(images, dtype="float32")
    count, height, width = images.shape[:3]
    out = np.empty_like(images)
    if pad:
        padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
        tops = rng.integers(0, 2 * pad + 1, count)
        lefts = rng.integers(0, 2 * pad + 1, count)
        for i in range(count):
            out[i] = padded[i, tops[i]:tops[i] + height,
                            lefts[i]:lefts[i] + width]
    else:
        out[...] = images
    flip = rng.random(count) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


class AugmentedImages(keras.utils.PyDataset):
    """Batches of `(images, labels)` with pad-crop-flip augmentation.

    The backend-independent form of `small_image_pipelines`' datasets.
    With `training=True` the images are reshuffled every epoch and
    augmented with `pad_crop_flip`; the randomness of a batch depends only
    on `(seed, epoch, batch index)`, so a resumed run (the trainer sets the
    epoch, see `set_epoch`) sees the batches an uninterrupted one would.
    Without `training` the batches are the images in order, as float32.

    Args:
        x: `(N, H, W, C)` images.
        y: `(N,)` labels.
        batch_size: batch size.
        training: shuffle and augment.
        pad: padding of the random crops (0 disables cropping).
        seed: shuffling and augmentation seed.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    >>> data = AugmentedImages(x, y, batch_size=128, training=True)
    >>> model.fit(data, epochs=3)
    """

    def __init__(self, x, y, batch_size, training=False, pad=2, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        self.batch_size = validation.check_batch_size(batch_size)
        self.training = bool(training)
        self.pad = int(pad)
        self.seed = int(seed)
        self.epoch = 0
        self._order = None

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def set_epoch(self, epoch):
        """Sets the 0-based epoch whose shuffle and augmentation follow."""
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self._order = None

    def order(self):
        """The image order of the current epoch."""
        if self._order is None:
            self._order = (
                np.random.default_rng([self.seed, self.epoch]).permutation(
                    len(self.x)) if self.training else np.arange(len(self.x)))
        return self._order

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index must be in [0, {len(self) - 1}]. "
                             f"Received: index={index}")
        rows = self.order()[index * self.batch_size:
                            (index + 1) * self.batch_size]
        images = self.x[rows].astype("float32")
        if self.training:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            images = pad_crop_flip(images, self.pad, rng)
        return images, self.y[rows]

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


def _use_tf_data(pipeline):
    if pipeline not in PIPELINES:
        raise ValueError(f"`pipeline` must be one of {PIPELINES}. "
                         f"Received: pipeline={pipeline!r}")
    if pipeline == "numpy":
        return False
    if pipeline == "tf.data":
        from keras_zfnet.datasets.tf_only import require_tensorflow

        require_tensorflow("`small_image_pipelines(pipeline='tf.data')`")
        return True
    from keras_zfnet.datasets.tf_only import tf_pipelines_available

    return tf_pipelines_available()


def small_image_pipelines(x_train, y_train, batch_size=128,
                          validation_size=None, pad=2, seed=0,
                          pipeline="auto"):
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
        pipeline: `"auto"` (`tf.data` on the TensorFlow backend, NumPy
            otherwise), `"tf.data"` (needs TensorFlow) or `"numpy"`
            (`AugmentedImages`, any backend).

    Returns:
        `(train_dataset, validation_dataset)`: `tf.data.Dataset`s or
        `AugmentedImages` of float32 `(images, labels)` batches.

    Example:

    >>> train_data, val_data = small_image_pipelines(x_train, y_train)
    >>> model.fit(train_data, validation_data=val_data, epochs=3)
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
    batch_size = validation.check_batch_size(batch_size)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or (
            pad < 0):
        raise ValueError(f"`pad` must be an integer >= 0. Received: "
                         f"pad={pad!r}")
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
    use_tf_data = _use_tf_data(pipeline)
    order = np.random.default_rng(seed).permutation(len(x))
    train_idx, val_idx = order[:-validation_size], order[-validation_size:]
    if not use_tf_data:
        return (
            AugmentedImages(x[train_idx], y[train_idx], batch_size,
                            training=True, pad=pad, seed=seed),
            AugmentedImages(x[val_idx], y[val_idx], batch_size),
        )
    return _tf_pipelines(x, y, train_idx, val_idx, batch_size, pad, seed)


def _tf_pipelines(x, y, train_idx, val_idx, batch_size, pad, seed):
    import tensorflow as tf

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
