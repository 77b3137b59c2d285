"""Tiles of the unit browser: top-k projections and patches of every channel
of a layer, rendered to 8-bit pixels and packed into PNG sprite sheets.

Sheets are PNG (lossless; grey models) or JPEG (quality 90; colour
photographs, whose patches PNG hardly compresses). A layer's tiles are the
receptive-field crops of its entries (the box the
activation sees; parts outside the image are black), downscaled to
`max_tile` pixels when the receptive field is larger. Sheet `s` of a layer
holds channels `[s * per_sheet, (s + 1) * per_sheet)` as rows; a row has
the k projections followed by the k patches. The thumbnail sheet holds the
top-1 projection of every channel in a grid of `THUMB_COLUMNS` columns.

The projections arrive computed
(`keras_zfnet.analysis._utils.browse_data`); this module only renders
arrays.
"""

import math
import os

import numpy as np

from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.utils.crops import crop_boxes
from keras_zfnet.utils.extras import require

THUMB_COLUMNS = 16
MAX_SHEET_SIDE = 4096
EMPTY = 128  # grey: an empty slot or a projection of a silent entry


def tile_shape(size, max_tile):
    """`(rows, cols)` of a layer's tiles: the receptive field's `size`,
    scaled down (keeping its aspect) so that neither side exceeds
    `max_tile`."""
    rows, cols = (int(s) for s in size)
    scale = min(1.0, max_tile / max(rows, cols))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def to_uint8(images):
    """`[0, 1]` floats to uint8 pixels (rounding to nearest)."""
    return np.clip(np.rint(np.asarray(images) * 255.0), 0, 255).astype(
        "uint8")


def _resize(pixels, shape):
    """Resizes `(h, w[, 3])` uint8 pixels to `shape` with Pillow."""
    if pixels.shape[:2] == tuple(shape):
        return pixels
    Image = require("PIL.Image", "plot", "The unit browser")

    image = Image.fromarray(pixels)
    image = image.resize((shape[1], shape[0]), Image.Resampling.LANCZOS)
    return np.asarray(image)


def render_layer(layer, images, display, tile):
    """Projection and patch tiles of every entry of one layer.

    Args:
        layer: the layer's data (`keras_zfnet.analysis._utils.browse_data.
            LayerData`: `indices`, `boxes`, and `projections()`, the
            stream of `(cells, crops)` cropped projections).
        images: dict from dataset index to its model-input image.
        display: the model's preprocessing to undo on patches (see
            `input_to_image`).
        tile: `(rows, cols)` output tile shape.

    Returns:
        `(projections, patches)`, each `(C, k, rows, cols[, 3])` uint8;
        empty slots and entries whose value is <= 0 (a projection of zero)
        are grey projections, empty slots black patches.
    """
    boxes = layer.boxes
    channels, k = layer.indices.shape
    color = next(iter(images.values())).shape[-1] == 3
    shape = (channels, k, *tile) + ((3,) if color else ())
    projections = np.full(shape, EMPTY, "uint8")
    patches = np.zeros(shape, "uint8")
    shown_cache = {}
    for (c, j), index in np.ndenumerate(layer.indices):
        if index >= 0:
            if index not in shown_cache:
                shown_cache[index] = _shown(images[int(index)], display)
            shown = shown_cache[index]
            crop = to_uint8(crop_boxes(shown[None], boxes[c, j][None])[0])
            patches[c, j] = _resize(crop if color else crop[..., 0], tile)
    for cells, crops in layer.projections():
        rendered = to_uint8(projection_to_image(crops))
        for n, (c, j) in enumerate(cells):
            projections[c, j] = _resize(rendered[n], tile)
    return projections, patches


def _shown(image, display):
    """A model-input image as displayed pixels `(H, W, C)` in [0, 1]."""
    shown = input_to_image(image[None], display)[0]
    return shown[..., None] if shown.ndim == 2 else shown


def sheet_rows(tile, channels):
    """Channels per sheet: as many as fit `MAX_SHEET_SIDE` (at most 32)."""
    return max(1, min(32, channels, MAX_SHEET_SIDE // tile[0]))


def write_sheets(projections, patches, folder, prefix, relative,
                 image_format="png"):
    """Writes a layer's sprite sheets; returns their descriptions.

    Returns:
        A list of dicts `file` (`relative/<name>`: `folder` as the page
        sees it), `first`
        (first channel position), `count`, `columns` (2k), `rows`.
    """
    channels, k = projections.shape[:2]
    tile = projections.shape[2:4]
    per_sheet = sheet_rows(tile, channels)
    sheets = []
    for first in range(0, channels, per_sheet):
        stop = min(channels, first + per_sheet)
        rows = np.concatenate([projections[first:stop],
                               patches[first:stop]], axis=1)
        # (n, 2k, th, tw[, 3]) -> (n * th, 2k * tw[, 3])
        grid = np.swapaxes(rows, 1, 2).reshape(
            (stop - first) * tile[0], 2 * k * tile[1], *rows.shape[4:])
        name = f"{prefix}_{len(sheets)}.{_EXTENSIONS[image_format]}"
        _save(grid, os.path.join(folder, name), image_format)
        sheets.append({"file": f"{relative}/{name}",
                       "first": first, "count": stop - first,
                       "columns": 2 * k, "rows": stop - first})
    return sheets


def write_thumbnails(projections, folder, prefix, relative,
                     image_format="png", max_thumb=64):
    """Writes the top-1 projection of every channel as one grid sheet."""
    channels = projections.shape[0]
    tile = projections.shape[2:4]
    scale = min(1.0, max_thumb / max(tile))
    thumb = (max(1, round(tile[0] * scale)), max(1, round(tile[1] * scale)))
    columns = min(THUMB_COLUMNS, channels)
    rows = math.ceil(channels / columns)
    extra = projections.shape[4:]
    grid = np.full((rows * thumb[0], columns * thumb[1], *extra), EMPTY,
                   "uint8")
    for c in range(channels):
        r, q = divmod(c, columns)
        grid[r * thumb[0]:(r + 1) * thumb[0],
             q * thumb[1]:(q + 1) * thumb[1]] = _resize(projections[c, 0],
                                                        thumb)
    name = f"{prefix}_thumbs.{_EXTENSIONS[image_format]}"
    _save(grid, os.path.join(folder, name), image_format)
    return {"file": f"{relative}/{name}", "columns": columns,
            "rows": rows, "tile": list(thumb)}


_EXTENSIONS = {"png": "png", "jpeg": "jpg"}
JPEG_QUALITY = 90


def _save(pixels, path, image_format):
    """PNG (lossless) or JPEG (photographs: several times smaller)."""
    Image = require("PIL.Image", "plot", "The unit browser")

    image = Image.fromarray(pixels)
    if image_format == "jpeg":
        image.save(path, format="JPEG", quality=JPEG_QUALITY)
    else:
        image.save(path, format="PNG", compress_level=6)
