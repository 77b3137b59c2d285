"""Score against layer for `layer_analysis` results (paper Table 6)."""

import numpy as np

from keras_zfnet.utils.extras import require


def plot_layer_analysis(result, ax=None):
    """Draws mean +- std score per layer, one line per classifier and
    training-set size; the from-scratch baseline as a dashed level.

    Args:
        result: a `LayerAnalysis`.
        ax: optional matplotlib axes (a new figure otherwise).

    Returns:
        The matplotlib figure.

    Example:

    >>> figure = kz.layer_analysis(model, layers, x, y).plot()
    """
    plt = require("matplotlib.pyplot", "plot", "plot_layer_analysis")

    if ax is None:
        figure, ax = plt.subplots(figsize=(7, 4))
    else:
        figure = ax.figure
    scale = 100.0 if result.metric == "mean_class_accuracy" else 1.0
    positions = np.arange(len(result.layers))
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    markers = "osd^v<>"
    styles = ["-", "--", ":", "-."]
    color_of = {}
    for row in result.rows:
        color_of.setdefault(row["per_class"], cycle[len(color_of)
                                                    % len(cycle)])
    for ci, classifier in enumerate(result.classifiers):
        for k in result.per_class:
            rows = [r for r in result.rows if r["classifier"] == classifier
                    and r["per_class"] == k]
            if not rows:
                continue
            label = f"{classifier}, {k}/class"
            if classifier == "scratch":
                mean, std = rows[0]["mean"] * scale, rows[0]["std"] * scale
                ax.axhline(mean, color=color_of[k], linestyle="--",
                           linewidth=1, label=label + " (from scratch)")
                ax.axhspan(mean - std, mean + std, color=color_of[k],
                           alpha=0.1)
                continue
            by_layer = {r["layer"]: r for r in rows}
            means = np.array([by_layer[layer]["mean"] for layer in
                              result.layers]) * scale
            stds = np.array([by_layer[layer]["std"] for layer in
                             result.layers]) * scale
            ax.errorbar(positions, means, yerr=stds, capsize=3,
                        color=color_of[k], marker=markers[ci % len(markers)],
                        linestyle=styles[ci % len(styles)], label=label)
    ax.set_xticks(positions)
    ax.set_xticklabels(result.layers)
    ax.set_xlabel("features of layer")
    ax.set_ylabel("mean per-class accuracy (%)" if scale == 100.0
                  else "mean average precision")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure
