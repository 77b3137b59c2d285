"""Crops of equally sized boxes, shared by analysis (patches, cropped
projections) and plotting (the unit browser's patches)."""

import numpy as np


def crop_boxes(images, boxes, fill=0.0):
    """Crops images to boxes of one size, filling outside the image.

    Args:
        images: `(..., H, W, C)` array.
        boxes: `(..., 4)` int array of `(row0, row1, col0, col1)` boxes (the
            same leading shape as `images`, all boxes of one size; they may
            reach outside the image).
        fill: the value of pixels outside the image.

    Returns:
        A float32 array `(..., rows, cols, C)`.
    """
    height, width = images.shape[-3], images.shape[-2]
    rows = int(boxes[..., 1].flat[0] - boxes[..., 0].flat[0])
    cols = int(boxes[..., 3].flat[0] - boxes[..., 2].flat[0])
    out = np.full(images.shape[:-3] + (rows, cols, images.shape[-1]), fill,
                  dtype="float32")
    for index in np.ndindex(*images.shape[:-3]):
        r0, _, c0, _ = (int(v) for v in boxes[index])
        rs, re = max(r0, 0), min(r0 + rows, height)
        cs, ce = max(c0, 0), min(c0 + cols, width)
        if rs < re and cs < ce:
            out[index][rs - r0:re - r0, cs - c0:ce - c0] = (
                images[index][rs:re, cs:ce])
    return out
