"""A small matplotlib grid of images."""

import numpy as np

from keras_zfnet.utils.extras import require


def plot_grid(images, titles=None, ncols=None, cell_size=1.6, cmap="gray",
              suptitle=None):
    """Draws images in a grid and returns the matplotlib figure.

    Args:
        images: a sequence (or array) of `(H, W)` or `(H, W, 3)` images in
            `[0, 1]`, e.g. from `projection_to_image`.
        titles: optional per-image titles.
        ncols: columns; defaults to about the square root of the count.
        cell_size: inches per cell.
        cmap: colormap for single-channel images.
        suptitle: optional figure title.

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    >>> fig = plot_grid(projection_to_image(dn.project(x, "conv1", 0)))
    >>> fig.savefig("conv1.png")
    """
    Figure = require("matplotlib.figure", "plot", "plot_grid").Figure

    images = list(images)
    if not images:
        raise ValueError("`images` is empty: expected at least one image.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            f"Expected {len(images)} titles, one per image. "
            f"Received: {len(titles)} titles"
        )
    ncols = ncols or int(np.ceil(np.sqrt(len(images))))
    nrows = int(np.ceil(len(images) / ncols))
    figure = Figure(figsize=(ncols * cell_size, nrows * cell_size + 0.3))
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if index >= len(images):
            continue
        image = np.asarray(images[index])
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None, vmin=0,
                  vmax=1, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure
