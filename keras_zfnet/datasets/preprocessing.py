"""The paper's image preprocessing, for `tf.data` and for NumPy.

Zeiler & Fergus (2014, Sec. 3): resize the smaller side to 256, take the
central 256x256 region, subtract the per-pixel mean, then use 224x224
sub-crops: random crops and horizontal flips for training, the centre crop
(or the 10 crops: 4 corners + centre, each also flipped) for evaluation.

Every function takes a TensorFlow tensor (inside a `tf.data` map; the
TensorFlow ops are used) or a NumPy array (any backend, no TensorFlow:
NumPy, and Pillow for the resizing) and returns the same kind.
"""

import numpy as np

from keras_zfnet.applications.imagenet_utils import IMAGENET_MEAN_RGB
from keras_zfnet.datasets.tf_only import is_tf_tensor


def _tf():
    import tensorflow as tf

    return tf


def resize_short_side(image, size=256):
    """Resizes an `(H, W, C)` image so its shorter side is `size`.

    Bilinear with antialiasing (TensorFlow's `tf.image.resize(...,
    antialias=True)`, Pillow's bilinear filter for NumPy arrays).

    Args:
        image: `(H, W, C)` tensor or array.
        size: the shorter side after resizing.

    Returns:
        A float32 `(H', W', C)` image with `min(H', W') == size`.

    Example:

    >>> resize_short_side(np.zeros((300, 260, 3)), 256).shape
    (295, 256, 3)
    """
    if is_tf_tensor(image):
        tf = _tf()
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
        new = tf.cast(tf.round(shape * scale), tf.int32)
        new = tf.maximum(new, size)
        return tf.image.resize(image, new, method="bilinear", antialias=True)
    from PIL import Image

    image = _as_image(image)
    shape = np.asarray(image.shape[:2], dtype="float32")
    scale = np.float32(size) / shape.min()
    height, width = np.maximum(np.round(shape * scale).astype(int), size)
    channels = [
        np.asarray(Image.fromarray(image[..., c]).resize(
            (int(width), int(height)), Image.BILINEAR))
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1).astype("float32")


def _as_image(image):
    image = np.asarray(image, dtype="float32")
    if image.ndim != 3:
        raise ValueError(
            f"Expected an image (H, W, C). Received: image.shape="
            f"{image.shape}")
    return image


def center_crop(image, size):
    """The central `size` x `size` region of an `(H, W, C)` image.

    Example:

    >>> center_crop(np.zeros((256, 300, 3)), 224).shape
    (224, 224, 3)
    """
    if is_tf_tensor(image):
        shape = _tf().shape(image)
    else:
        image = np.asarray(image)
        shape = image.shape
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def random_crop_and_flip(image, size=224, seed=None):
    """A random `size` crop, flipped horizontally half of the time.

    Args:
        image: `(H, W, C)` tensor or array, `H, W >= size`.
        size: the crop side.
        seed: optional seed; for NumPy arrays also a `np.random.Generator`.

    Returns:
        The `(size, size, C)` crop.

    Example:

    >>> random_crop_and_flip(np.zeros((256, 256, 3)), 224, seed=0).shape
    (224, 224, 3)
    """
    if is_tf_tensor(image):
        tf = _tf()
        channels = image.shape[-1] if image.shape[-1] is not None else 3
        image = tf.image.random_crop(image, (size, size, channels),
                                     seed=seed)
        return tf.image.random_flip_left_right(image, seed=seed)
    image = np.asarray(image)
    rng = (seed if isinstance(seed, np.random.Generator)
           else np.random.default_rng(seed))
    height, width = image.shape[:2]
    if height < size or width < size:
        raise ValueError(
            f"Expected an image of at least {size}x{size}. Received: "
            f"image.shape={image.shape}")
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    crop = image[top:top + size, left:left + size]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def ten_crops(image, size=224):
    """The 4 corner crops and the centre crop, and their mirror images.

    Returns:
        A `(10, size, size, C)` tensor or array.

    Example:

    >>> ten_crops(np.zeros((256, 256, 3)), 224).shape
    (10, 224, 224, 3)
    """
    if is_tf_tensor(image):
        shape = _tf().shape(image)
    else:
        image = np.asarray(image)
        shape = image.shape
    bottom, right = shape[0] - size, shape[1] - size
    crops = [
        image[:size, :size],
        image[:size, right:right + size],
        image[bottom:bottom + size, :size],
        image[bottom:bottom + size, right:right + size],
        center_crop(image, size),
    ]
    if is_tf_tensor(image):
        tf = _tf()
        crops = tf.stack(crops)
        return tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)
    crops = np.stack(crops)
    return np.concatenate([crops, crops[:, :, ::-1]], axis=0)


def paper_preprocess(image, training, image_size=256, crop_size=224,
                     mean=IMAGENET_MEAN_RGB, crops="center", seed=None):
    """One image, as the paper prepares it.

    Args:
        image: `(H, W, C)` uint8 or float image in 0..255: a TensorFlow
            tensor (e.g. in a `tf.data` map) or a NumPy array.
        training: random crop + flip if True.
        image_size: side after resizing and central cropping (256).
        crop_size: side of the sub-crops (224).
        mean: per-channel mean (or a per-pixel `(image_size, image_size, C)`
            mean image) subtracted before cropping.
        crops: at evaluation, `"center"` or `"ten"`.
        seed: optional random seed (for NumPy arrays also a
            `np.random.Generator`).

    Returns:
        `(crop_size, crop_size, C)` float32, or `(10, ...)` for `"ten"`, of
        the input's kind.

    Example:

    >>> paper_preprocess(np.zeros((300, 400, 3), "uint8"), False).shape
    (224, 224, 3)
    """
    if crops not in ("center", "ten"):
        raise ValueError(
            f"`crops` must be 'center' or 'ten'. Received: crops={crops!r}"
        )
    if is_tf_tensor(image):
        tf = _tf()
        image = tf.cast(image, tf.float32)
        mean = tf.cast(mean, tf.float32)
    else:
        image = _as_image(image)
        mean = np.asarray(mean, dtype="float32")
    image = center_crop(resize_short_side(image, image_size), image_size)
    image = image - mean
    if training:
        return random_crop_and_flip(image, crop_size, seed)
    if crops == "ten":
        return ten_crops(image, crop_size)
    return center_crop(image, crop_size)
