"""Image transformations that keep the input size (for `invariance`).

Every output pixel samples the input at its inverse-transformed position
with bilinear interpolation; positions outside the image take the image's
border value: the per-channel median of its outermost ring of pixels (the
background of centred objects such as Fashion-MNIST's, 0 there). Whole-pixel
translations are exact shifts.
"""

import numpy as np

TRANSFORMS = ("translate", "scale", "rotate")


def check_transform(transform):
    if transform not in TRANSFORMS:
        raise ValueError(
            f"`transform` must be one of {list(TRANSFORMS)}. "
            f"Received: transform={transform!r}")
    return transform


_EXPECTED = {
    "translate": ("a list of pixel shifts: numbers (vertical) or "
                  "(rows, columns) pairs"),
    "scale": "a list of scale factors > 0",
    "rotate": "a list of angles in degrees",
}


def check_amounts(transform, amounts):
    """Validates `amounts` for `transform`; returns a float array: `(A,)`
    for scale / rotate, `(A, 2)` (rows, columns) for translate."""
    if transform == "translate" and _numeric_items(amounts):
        # A number shifts vertically, as in the paper's Fig. 5 (a1).
        amounts_ = [(a, 0.0) if np.ndim(a) == 0 else a for a in amounts]
        values = np.asarray(amounts_, dtype="float64") if _numeric(
            amounts_) else None
    else:
        values = np.asarray(amounts, dtype="float64") if _numeric(amounts) \
            else None
    ok = values is not None and values.ndim >= 1 and len(values) > 0 and \
        bool(np.all(np.isfinite(values)))
    if ok and transform == "translate":
        ok = values.ndim == 2 and values.shape[1] == 2
    elif ok:
        ok = values.ndim == 1 and (transform != "scale"
                                   or bool(np.all(values > 0)))
    if not ok:
        raise ValueError(
            f"`amounts` for transform='{transform}' must be "
            f"{_EXPECTED[transform]}. Received: amounts={amounts!r}")
    return values


def border_value(images):
    """Per-image, per-channel median of the outermost ring: `(N, C)`."""
    ring = np.concatenate([
        images[:, 0, :], images[:, -1, :],
        images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1)
    return np.median(ring, axis=1)


def transform_images(images, transform, amount):
    """Translates, scales or rotates `(N, H, W, C)` images about their
    centre, keeping their size.

    Args:
        images: float array `(N, H, W, C)`.
        transform: `"translate"`, `"scale"` or `"rotate"`.
        amount: translate: `(rows, columns)` pixels (positive = down /
            right); scale: a factor (> 1 enlarges); rotate: degrees
            (counter-clockwise as displayed).

    Returns:
        The transformed images, same shape and dtype.

    Example:

    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> transform_images(x, "translate", (1, 0))[0, :2, :, 0]
    array([[7.5, 7.5, 7.5, 7.5],
           [0. , 1. , 2. , 3. ]])
    """
    images = np.asarray(images)
    n, height, width, _ = images.shape
    rows, cols = np.meshgrid(np.arange(height, dtype="float64"),
                             np.arange(width, dtype="float64"),
                             indexing="ij")
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    if transform == "translate":
        dy, dx = amount
        src_r, src_c = rows - dy, cols - dx
    elif transform == "scale":
        src_r = cy + (rows - cy) / amount
        src_c = cx + (cols - cx) / amount
    elif transform == "rotate":
        theta = np.deg2rad(amount)
        cos, sin = np.cos(theta), np.sin(theta)
        # Rows grow downwards: a counter-clockwise rotation on screen maps
        # the output offset (y, x) back by the inverse rotation.
        y, x = rows - cy, cols - cx
        src_r = cy + cos * y + sin * x
        src_c = cx - sin * y + cos * x
    else:
        check_transform(transform)
    return _sample(images, src_r, src_c)


def _sample(images, src_r, src_c):
    """Bilinear sampling at `(src_r, src_c)` with the border value outside."""
    height, width = images.shape[1:3]
    # Snap float noise (e.g. cos(2*pi) - 1) so exact positions stay exact.
    src_r = np.where(np.abs(src_r - np.round(src_r)) < 1e-6,
                     np.round(src_r), src_r)
    src_c = np.where(np.abs(src_c - np.round(src_c)) < 1e-6,
                     np.round(src_c), src_c)
    inside = ((src_r >= 0) & (src_r <= height - 1) &
              (src_c >= 0) & (src_c <= width - 1))
    r = np.clip(src_r, 0, height - 1)
    c = np.clip(src_c, 0, width - 1)
    r0 = np.floor(r).astype(int)
    c0 = np.floor(c).astype(int)
    r1 = np.minimum(r0 + 1, height - 1)
    c1 = np.minimum(c0 + 1, width - 1)
    wr = (r - r0)[None, :, :, None]
    wc = (c - c0)[None, :, :, None]
    x = images.astype("float64")
    out = ((1 - wr) * (1 - wc) * x[:, r0, c0] + (1 - wr) * wc * x[:, r0, c1]
           + wr * (1 - wc) * x[:, r1, c0] + wr * wc * x[:, r1, c1])
    fill = border_value(x)[:, None, None, :]
    out = np.where(inside[None, :, :, None], out, fill)
    return out.astype(images.dtype)


def _numeric_items(values):
    try:
        return len(values) > 0 and all(_numeric(v) for v in values)
    except TypeError:
        return False


def _numeric(value):
    try:
        np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        return False
    return True
