"""Paper Fig. 6: first-layer filters and second-layer projections."""

import numpy as np

from keras_zfnet.plotting.filters import filters_to_images
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.plotting.top_activations import mosaic
from keras_zfnet.utils.extras import require


def plot_diagnosis(diagnoses, titles=None, cell_size=3.2, upscale=4):
    """Draws the first-layer filter mosaic (top row) and the second-layer
    projections (bottom row) of one or more `Diagnosis` results, one column
    per model, as in the paper's Fig. 6 (b-e).

    Args:
        diagnoses: a list of `Diagnosis`.
        titles: one title per diagnosis (default: model, layer and stride).
        cell_size: inches per panel.
        upscale: nearest-neighbour upscaling of each filter.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    Figure = require("matplotlib.figure", "plot", "plot_diagnosis").Figure

    diagnoses = list(diagnoses)
    if titles is None:
        titles = [_title(d) for d in diagnoses]
    if len(titles) != len(diagnoses):
        raise ValueError(
            f"Expected one title per diagnosis ({len(diagnoses)}). "
            f"Received: titles={titles!r}")
    rows = 2 if any(d.projections is not None for d in diagnoses) else 1
    figure = Figure(figsize=(cell_size * len(diagnoses),
                             cell_size * rows + 0.5))
    axes = figure.subplots(rows, len(diagnoses), squeeze=False)
    for column, (diagnosis, title) in enumerate(zip(diagnoses, titles)):
        tiles = filters_to_images(diagnosis.filters)
        tiles = np.repeat(np.repeat(tiles, upscale, axis=1), upscale, axis=2)
        _show(axes[0, column], mosaic(tiles, border=2), title)
        if rows == 2:
            ax = axes[1, column]
            if diagnosis.projections is None:
                ax.axis("off")
                continue
            images = projection_to_image(diagnosis.projections)
            score = diagnosis.measures.get("aliasing")
            _show(ax, mosaic(images, border=2),
                  f"{diagnosis.second_layer} projections"
                  + (f" (aliasing {score:.2f})" if score is not None else ""))
    figure.tight_layout()
    return figure


def _title(diagnosis):
    kh, kw = diagnosis.filters.shape[:2]
    stride = diagnosis.measures["stride"]
    return f"{diagnosis.model_name}: {diagnosis.layer} {kh}x{kw}/{stride}"


def _show(ax, image, title):
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0,
              vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
