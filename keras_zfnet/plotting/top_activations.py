"""The paper's Fig. 2 layout: top-k projections beside their image patches."""

import numpy as np

from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.utils.extras import require


def mosaic(images, ncols=None, border=1, background=1.0):
    """Tiles `(n, h, w[, 3])` images into one image with thin borders."""
    images = np.asarray(images, dtype="float32")
    n = images.shape[0]
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    h, w = images.shape[1:3]
    extra = images.shape[3:]
    out = np.full((nrows * (h + border) + border,
                   ncols * (w + border) + border) + extra, background,
                  dtype="float32")
    for i in range(n):
        r, c = divmod(i, ncols)
        top = border + r * (h + border)
        left = border + c * (w + border)
        out[top:top + h, left:left + w] = images[i]
    return out


def plot_top_activations(projections, patches, labels, title=None,
                         cell_size=2.2, display=None):
    """Draws, per feature, its k projections next to the k image patches.

    Projections are contrast-normalised one by one
    (`projection_to_image`), patches min-max scaled one by one
    (`input_to_image`); both tiled 3x3 for k = 9.

    Args:
        projections: `(F, k, h, w, C)` projections (cropped to the receptive
            field, like the patches).
        patches: `(F, k, h, w, C)` input patches.
        labels: `F` row labels.
        title: optional figure title.
        cell_size: inches per mosaic.
        display: the model's preprocessing to undo on the patches (`None`:
            min-max per patch; a family such as `"vgg16"`; a function).

    Returns:
        A `matplotlib.figure.Figure`.
    """
    Figure = require(
        "matplotlib.figure", "plot", "plot_top_activations").Figure

    projections = np.asarray(projections)
    patches = np.asarray(patches)
    if projections.shape != patches.shape or projections.ndim != 5:
        raise ValueError(
            "Expected projections and patches of the same shape (F, k, h, "
            f"w, C). Received: {projections.shape} and {patches.shape}"
        )
    if len(labels) != projections.shape[0]:
        raise ValueError(
            f"Expected {projections.shape[0]} labels. Received: {len(labels)}"
        )
    features = projections.shape[0]
    figure = Figure(figsize=(2 * cell_size + 0.6,
                             features * cell_size + (0.5 if title else 0.1)))
    axes = figure.subplots(features, 2, squeeze=False)
    for f in range(features):
        left = mosaic(projection_to_image(projections[f]), background=1.0)
        right = mosaic(input_to_image(patches[f], display), background=1.0)
        for ax, image, name in ((axes[f, 0], left, "projections"),
                                (axes[f, 1], right, "patches")):
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None,
                      vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if f == 0:
                ax.set_title(name, fontsize=9)
        axes[f, 0].set_ylabel(str(labels[f]), fontsize=9)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure
