"""Turns projections and model inputs into displayable images (NumPy only)."""

import numpy as np

from keras_zfnet.plotting.display import undo_preprocessing


def projection_to_image(projections, percentile=100.0):
    """Renders deconvnet projections the way the paper shows them.

    Each projection is contrast-normalised on its own: values are divided by
    the `percentile`-th percentile of their absolute values `m` (the maximum
    by default), so that zero becomes mid-grey 0.5 and `[-m, m]` spans
    `[0, 1]`; values beyond are clipped. Signs stay meaningful (brighter than
    the grey background = positive contribution). An all-zero projection
    renders as uniform grey.

    Args:
        projections: array `(..., H, W, C)` with C = 1 or 3.
        percentile: in (0, 100]; below 100 keeps a few extreme pixels from
            washing the rest out.

    Returns:
        A float32 array in `[0, 1]` of shape `(..., H, W, 3)` for colour and
        `(..., H, W)` for single-channel projections.

    Example:

    >>> projection_to_image(np.array([[[[-2.0], [0.0], [1.0]]]]))[0]
    array([[0. , 0.5, 0.75]], dtype=float32)
    """
    array = np.asarray(projections, dtype="float32")
    if array.ndim < 3 or array.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected projections of shape (..., H, W, C) with 1 or 3 "
            f"channels. Received: shape={array.shape}"
        )
    if not 0 < percentile <= 100:
        raise ValueError(
            f"`percentile` must be in (0, 100]. Received: percentile={percentile}"
        )
    flat = np.abs(array.reshape(*array.shape[:-3], -1))
    if percentile == 100:
        scale = flat.max(axis=-1)
    else:
        scale = np.percentile(flat, percentile, axis=-1)
    scale = np.where(scale > 0, scale, 1.0)[..., None, None, None]
    image = np.clip(0.5 + array / (2.0 * scale), 0.0, 1.0).astype("float32")
    return image[..., 0] if image.shape[-1] == 1 else image


def input_to_image(images, display=None):
    """Rescales model inputs (any range) to `[0, 1]` per image for display.

    Args:
        images: array `(..., H, W, C)` with C = 1 or 3.
        display: the model's preprocessing to undo (see
            `keras_zfnet.plotting.display.undo_preprocessing`): `None`
            (min-max per image), a family such as `"vgg16"`, or a function.

    Returns:
        Float32 `(..., H, W, 3)` or `(..., H, W)` in `[0, 1]` (min-max per
        image; a constant image becomes black).
    """
    array = np.asarray(images, dtype="float32")
    if array.ndim < 3 or array.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected images of shape (..., H, W, C) with 1 or 3 channels. "
            f"Received: shape={array.shape}"
        )
    image = undo_preprocessing(array, display)
    return image[..., 0] if image.shape[-1] == 1 else image
