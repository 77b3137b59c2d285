"""Paper Fig. 5: feature distance and class probability under
translation, scaling and rotation."""

import numpy as np

from keras_zfnet.utils.extras import require

_AXIS = {"translate": "shift (pixels)", "scale": "scale factor",
         "rotate": "rotation (degrees)"}


def plot_invariance(results, class_names=None, cell_size=3.0, max_lines=12):
    """Draws one column per `InvarianceResult` with three rows: the first
    layer's and the last layer's normalized feature distance, and the true
    class probability: the mean over images in black with its 95% band
    (`result.interval`), and one thin line per image when there are at most
    `max_lines` images.

    Args:
        results: a list of `InvarianceResult` (e.g. translate, scale,
            rotate).
        class_names: optional names for the legend (indexed by label).
        cell_size: inches per panel.
        max_lines: draw per-image lines up to this many images.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    Figure = require("matplotlib.figure", "plot", "plot_invariance").Figure

    results = list(results)
    if not results:
        raise ValueError("Expected at least one result. Received: results=[]")
    figure = Figure(figsize=(cell_size * len(results), cell_size * 3))
    axes = figure.subplots(3, len(results), squeeze=False)
    for column, result in enumerate(results):
        x = result.axis_values
        first, last = result.layers[0], result.layers[-1]
        rows = ((result.distances[first], first, f"{first}: distance"),
                (result.distances[last], last, f"{last}: distance"),
                (result.probabilities, "probability", "P(true class)"))
        count = len(result.probabilities)
        for row, (per_image, what, label) in enumerate(rows):
            ax = axes[row, column]
            if count <= max_lines:
                for i, values in enumerate(per_image):
                    name = _name(result.labels[i], class_names)
                    ax.plot(x, values, lw=0.9, alpha=0.8,
                            label=name if row == 2 else None)
            mean, low, high = result.interval(what)
            if count > 1:
                ax.fill_between(x, low, high, color="grey", alpha=0.35,
                                lw=0, label=("95% band" if row == 2
                                             else None))
            ax.plot(x, mean, color="black", lw=1.8,
                    label=f"mean of {count}" if row == 2 else None)
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(result.transform, fontsize=9)
            if row == 2:
                ax.set_xlabel(_AXIS.get(result.transform, ""), fontsize=8)
                ax.set_ylim(-0.02, 1.02)
    axes[2, -1].legend(fontsize=6, loc="best")
    figure.tight_layout()
    return figure


def _name(label, class_names):
    if class_names is None:
        return f"class {int(label)}"
    return str(np.asarray(class_names)[int(label)])
