"""First-layer filters as pictures (paper Fig. 6)."""

import numpy as np

from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.plotting.top_activations import mosaic
from keras_zfnet.utils.extras import require


def filters_to_images(kernel):
    """Per-filter contrast-normalised images of a `(kh, kw, C, F)` kernel.

    Each filter is scaled on its own (zero is mid-grey), as
    `projection_to_image` does.

    Returns:
        `(F, kh, kw)` for single-channel or `(F, kh, kw, 3)` for RGB kernels.
    """
    kernel = np.asarray(kernel, dtype="float32")
    if kernel.ndim != 4 or kernel.shape[2] not in (1, 3):
        raise ValueError(
            "Expected a first-layer kernel (kh, kw, C, F) with C = 1 or 3. "
            f"Received: shape={kernel.shape}"
        )
    return projection_to_image(np.moveaxis(kernel, -1, 0))


def plot_filters(kernels, titles, cell_size=3.2, upscale=4):
    """Side-by-side mosaics of first-layer filters (one panel per kernel).

    Args:
        kernels: a list of `(kh, kw, C, F)` kernels.
        titles: one title per kernel.
        cell_size: inches per panel.
        upscale: nearest-neighbour upscaling of each filter for display.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    Figure = require("matplotlib.figure", "plot", "plot_filters").Figure

    if len(kernels) != len(titles):
        raise ValueError(
            f"Expected one title per kernel ({len(kernels)}). Received: "
            f"{len(titles)} titles"
        )
    figure = Figure(figsize=(cell_size * len(kernels), cell_size + 0.4))
    axes = figure.subplots(1, len(kernels), squeeze=False)[0]
    for ax, kernel, title in zip(axes, kernels, titles):
        tiles = filters_to_images(kernel)
        tiles = np.repeat(np.repeat(tiles, upscale, axis=1), upscale, axis=2)
        image = mosaic(tiles, border=2, background=1.0)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0,
                  vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure
