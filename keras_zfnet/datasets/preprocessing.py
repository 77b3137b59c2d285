"""The paper's image preprocessing as `tf.data`-friendly functions.

Zeiler & Fergus (2014, Sec. 3): resize the smaller side to 256, take the
central 256x256 region, subtract the per-pixel mean, then use 224x224
sub-crops: random crops and horizontal flips for training, the centre crop
(or the 10 crops: 4 corners + centre, each also flipped) for evaluation.
"""

import tensorflow as tf

from keras_zfnet.applications.imagenet_utils import IMAGENET_MEAN_RGB


def resize_short_side(image, size=256):
    """Resizes an `(H, W, C)` image so its shorter side is `size`."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.round(shape * scale), tf.int32)
    new = tf.maximum(new, size)
    return tf.image.resize(image, new, method="bilinear", antialias=True)


def center_crop(image, size):
    """The central `size` x `size` region of an `(H, W, C)` image."""
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def random_crop_and_flip(image, size=224, seed=None):
    """A random `size` crop, flipped horizontally half of the time."""
    channels = image.shape[-1] if image.shape[-1] is not None else 3
    image = tf.image.random_crop(image, (size, size, channels), seed=seed)
    return tf.image.random_flip_left_right(image, seed=seed)


def ten_crops(image, size=224):
    """The 4 corner crops and the centre crop, and their mirror images.

    Returns:
        A `(10, size, size, C)` tensor.
    """
    shape = tf.shape(image)
    bottom, right = shape[0] - size, shape[1] - size
    crops = [
        image[:size, :size],
        image[:size, right:right + size],
        image[bottom:bottom + size, :size],
        image[bottom:bottom + size, right:right + size],
        center_crop(image, size),
    ]
    crops = tf.stack(crops)
    return tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0)


def paper_preprocess(image, training, image_size=256, crop_size=224,
                     mean=IMAGENET_MEAN_RGB, crops="center", seed=None):
    """One image, as the paper prepares it.

    Args:
        image: `(H, W, C)` uint8 or float image in 0..255.
        training: random crop + flip if True.
        image_size: side after resizing and central cropping (256).
        crop_size: side of the sub-crops (224).
        mean: per-channel mean (or a per-pixel `(image_size, image_size, C)`
            mean image) subtracted before cropping.
        crops: at evaluation, `"center"` or `"ten"`.
        seed: optional random seed.

    Returns:
        `(crop_size, crop_size, C)` float32, or `(10, ...)` for `"ten"`.
    """
    if crops not in ("center", "ten"):
        raise ValueError(
            f"`crops` must be 'center' or 'ten'. Received: crops={crops!r}"
        )
    image = tf.cast(image, tf.float32)
    image = center_crop(resize_short_side(image, image_size), image_size)
    image = image - tf.cast(mean, tf.float32)
    if training:
        return random_crop_and_flip(image, crop_size, seed)
    if crops == "ten":
        return ten_crops(image, crop_size)
    return center_crop(image, crop_size)
