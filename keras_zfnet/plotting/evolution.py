"""Feature evolution during training (paper Fig. 4)."""

import numpy as np

from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.utils.extras import require


def support_box(projection, eps=0.0):
    """The bounding box `(top, left, bottom, right)` (exclusive ends) of the
    pixels where a projection `(H, W, C)` is non-zero; the whole image for
    an all-zero projection. A deconvnet projection is zero outside the
    receptive field of its seed, so this box lies inside that field."""
    mask = np.any(np.abs(np.asarray(projection)) > eps, axis=-1)
    if not mask.any():
        return 0, 0, mask.shape[0], mask.shape[1]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def highlight_patch(image, box, dim=0.25):
    """The image (rendered in `[0, 1]`) with everything outside `box`
    dimmed to `dim` of its brightness: the probe image's patch in place."""
    image = input_to_image(image)
    top, left, bottom, right = box
    out = image * dim
    out[top:bottom, left:right] = image[top:bottom, left:right]
    return out


def _grid_order(history, layers):
    epochs = sorted(int(e) for e in history)
    if not epochs:
        raise ValueError("`history` is empty: expected at least one epoch.")
    if layers is None:
        layers = []
        for epoch in epochs:
            layers += [n for n in history[epoch] if n not in layers]
    rows = []
    for layer in layers:
        channels = None
        for epoch in epochs:
            if layer in history[epoch]:
                channels = np.asarray(history[epoch][layer]["channels"])
                break
        if channels is None:
            raise ValueError(
                f"Layer '{layer}' is in no epoch of `history`. Received: "
                f"layers={layers!r}"
            )
        rows += [(layer, i, int(c)) for i, c in enumerate(channels)]
    return epochs, list(layers), rows


def evolution_grid(history, images=None, layers=None, border=1,
                   background=1.0):
    """Tiles a feature-evolution history into one image (NumPy only).

    Rows are features grouped by layer, columns epochs; each projection is
    contrast-normalised on its own (`projection_to_image`), as in the
    paper's Fig. 4. With `images`, each cell shows the projection and, to
    its right, the probe image that excited the feature most at that epoch,
    dimmed outside the projection's support (the image patch).

    Args:
        history: `{epoch: {layer: {"channels", "values", "indices",
            "projections"}}}` (`FeatureEvolution.history`).
        images: optional mapping from probe index to image `(H, W, C)`
            (a dict, or an array indexed by probe position).
        layers: layers to show, in order (default: all, in history order).
        border: pixels between tiles.
        background: value of the borders (1.0 = white).

    Returns:
        `(grid, epochs, rows)`: a float32 image in `[0, 1]`, `(Hg, Wg)` or
        `(Hg, Wg, 3)`; the sorted epochs (columns); and one `(layer,
        feature_index, channel)` per row. Missing cells stay background.
    """
    epochs, layers, rows = _grid_order(history, layers)
    sample = None
    for epoch in epochs:
        for layer in history[epoch]:
            sample = np.asarray(history[epoch][layer]["projections"])
            break
        if sample is not None:
            break
    h, w, c = sample.shape[-3:]
    tiles = 2 if images is not None else 1
    cell_w = tiles * w + (tiles - 1) * border
    extra = (3,) if c == 3 else ()
    grid = np.full((len(rows) * (h + border) + border,
                    len(epochs) * (cell_w + border) + border) + extra,
                   background, dtype="float32")
    for col, epoch in enumerate(epochs):
        left = border + col * (cell_w + border)
        for row, (layer, i, _) in enumerate(rows):
            entry = history[epoch].get(layer)
            if entry is None or i >= len(entry["channels"]):
                continue
            top = border + row * (h + border)
            projection = np.asarray(entry["projections"][i])
            grid[top:top + h, left:left + w] = projection_to_image(projection)
            if images is not None:
                image = images[int(entry["indices"][i])]
                patch = highlight_patch(image, support_box(projection))
                start = left + w + border
                grid[top:top + h, start:start + w] = patch
    return grid, epochs, rows


def plot_evolution(history, images=None, layers=None, title=None,
                   pixels_per_cell=None):
    """Draws the paper's Fig. 4: feature projections across epochs.

    Args:
        history: `FeatureEvolution.history` or
            `keras_zfnet.callbacks.load_evolution_record(...)`.
        images: optional probe images by index (shows the image patches).
        layers: layers to show (default: all).
        title: figure title.
        pixels_per_cell: display scale (default: about 64 pixels per
            projection).

    Returns:
        A `matplotlib.figure.Figure` (one image, labelled by layer and
        epoch).

    Example:

    >>> history = load_evolution_record("fashion_mnist")
    >>> plot_evolution(history).savefig("fig4.png")
    """
    Figure = require("matplotlib.figure", "plot", "plot_evolution").Figure

    grid, epochs, rows = evolution_grid(history, images, layers)
    sample = next(iter(history[epochs[0]].values()))["projections"]
    h = np.asarray(sample).shape[-3]
    scale = (pixels_per_cell or 64) / (h + 1)
    dpi = 100
    width = grid.shape[1] * scale / dpi + 1.2
    height = grid.shape[0] * scale / dpi + 0.9
    figure = Figure(figsize=(width, height), dpi=dpi)
    ax = figure.add_axes((1.0 / width, 0.2 / height,
                          1 - 1.2 / width, 1 - 0.9 / height))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest", aspect="auto")
    col_w = (grid.shape[1] - 1) / len(epochs)
    ax.set_xticks([col_w * (i + 0.5) for i in range(len(epochs))])
    ax.set_xticklabels([f"epoch {e}" for e in epochs], fontsize=8)
    ax.xaxis.tick_top()
    row_h = (grid.shape[0] - 1) / len(rows)
    starts = {}
    for r, (layer, _, _) in enumerate(rows):
        starts.setdefault(layer, []).append(r)
    ax.set_yticks([row_h * (np.mean(r) + 0.5) for r in starts.values()])
    ax.set_yticklabels(list(starts), fontsize=9)
    for r in starts.values():
        if r[0]:
            ax.axhline(row_h * r[0] - 0.5, color="tab:red", linewidth=1)
    ax.tick_params(length=0)
    if title is None:
        title = "Feature evolution during training (Zeiler & Fergus, Fig. 4)"
    figure.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")
    return figure


def save_labelled_png(image, path, title=None, column_labels=None,
                      row_labels=None, upscale=1):
    """Writes an image in `[0, 1]` as a PNG with text labels, using Pillow
    (no matplotlib figure: fast and of constant memory, for callbacks that
    redraw every epoch).

    Args:
        image: `(H, W)` or `(H, W, 3)` float array in `[0, 1]`.
        path: the `.png` to write (replaced atomically).
        title: optional text above the image.
        column_labels: optional `[(x_center, text)]` in image pixels,
            written above the image.
        row_labels: optional `[(y_center, text)]` in image pixels,
            written left of the image.
        upscale: integer nearest-neighbour upscaling.
    """
    import os

    Image = require("PIL.Image", "plot", "save_labelled_png")
    ImageDraw = require("PIL.ImageDraw", "plot", "save_labelled_png")
    ImageFont = require("PIL.ImageFont", "plot", "save_labelled_png")

    array = np.clip(np.asarray(image, dtype="float32"), 0.0, 1.0)
    array = np.repeat(np.repeat(array, upscale, axis=0), upscale, axis=1)
    picture = Image.fromarray((array * 255 + 0.5).astype("uint8"))
    font = ImageFont.load_default()
    line = 14
    left = 0
    if row_labels:
        left = 8 + max(int(font.getlength(str(t))) for _, t in row_labels)
    top = (line if title else 0) + (line if column_labels else 0) + 4
    canvas = Image.new(picture.mode, (picture.width + left + 4,
                                      picture.height + top + 4), "white")
    canvas.paste(picture, (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((left, 2), title, fill="black", font=font)
    for x, text in column_labels or ():
        width = font.getlength(str(text))
        draw.text((left + x * upscale - width / 2, top - line), str(text),
                  fill="black", font=font)
    for y, text in row_labels or ():
        draw.text((2, top + y * upscale - line / 2), str(text), fill="black",
                  font=font)
    tmp = path + ".tmp.png"
    canvas.save(tmp)
    os.replace(tmp, path)
    return path


def save_evolution_png(history, path, images=None, layers=None, title=None,
                       upscale=1):
    """Writes `evolution_grid(history, images, layers)` as a labelled PNG
    (epochs above the columns, layer names left of their groups of rows).
    """
    grid, epochs, rows = evolution_grid(history, images, layers)
    columns = (grid.shape[1] - 1) / len(epochs)
    height = (grid.shape[0] - 1) / len(rows)
    groups = {}
    for r, (layer, _, _) in enumerate(rows):
        groups.setdefault(layer, []).append(r)
    if title is None:
        title = "Feature evolution during training (Zeiler & Fergus, Fig. 4)"
    return save_labelled_png(
        grid, path, title=title,
        column_labels=[(columns * (i + 0.5), f"ep {e}")
                       for i, e in enumerate(epochs)],
        row_labels=[(height * (np.mean(r) + 0.5), layer)
                    for layer, r in groups.items()],
        upscale=upscale)
