"""Occlusion maps drawn like the paper's Fig. 7."""

import numpy as np

from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.utils.extras import require


def grid_extent(positions):
    """matplotlib `extent` placing each map cell on its occluder's centre.

    Cell `(i, j)` is drawn as a `stride`-sized square centred on the centre
    of box `(i, j)`, so a map upsampled this way lines up with the image.
    """
    rows = (positions[:, 0, 0] + positions[:, 0, 1]) / 2.0
    cols = (positions[0, :, 2] + positions[0, :, 3]) / 2.0
    dr = rows[1] - rows[0] if len(rows) > 1 else positions[0, 0, 1]
    dc = cols[1] - cols[0] if len(cols) > 1 else positions[0, 0, 3]
    return (cols[0] - dc / 2 - 0.5, cols[-1] + dc / 2 - 0.5,
            rows[-1] + dr / 2 - 0.5, rows[0] - dr / 2 - 0.5)


def overlay_heatmap(ax, image, heat, positions, cmap="jet", alpha=0.55,
                    vmin=None, vmax=None, label=None, display=None):
    """Draws `image` with the occlusion map `heat` upsampled over it."""
    shown = input_to_image(image, display)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None,
              interpolation="nearest")
    artist = ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax,
                       extent=grid_extent(positions), interpolation="bilinear")
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    colorbar = ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04)
    if label:
        colorbar.set_label(label, fontsize=8)
    return artist


def plot_label_map(ax, predicted, positions, image, class_names=None,
                   display=None):
    """Draws the most probable label per occluder position, with a legend."""
    matplotlib = require("matplotlib", "plot", "plot_label_map")
    ListedColormap = require("matplotlib.colors", "plot").ListedColormap
    Patch = require("matplotlib.patches", "plot").Patch

    present = np.unique(predicted)
    lookup = {label: i for i, label in enumerate(present)}
    coded = np.vectorize(lookup.get)(predicted)
    palette = matplotlib.colormaps["tab10"]
    colors = [palette(i % 10) for i in range(len(present))]
    shown = input_to_image(image, display)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None,
              interpolation="nearest")
    ax.imshow(coded, cmap=ListedColormap(colors), alpha=0.6,
              vmin=-0.5, vmax=len(present) - 0.5,
              extent=grid_extent(positions), interpolation="nearest")
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    names = [class_names[p] if class_names is not None else str(p)
             for p in present]
    ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colors, names)],
              loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
              frameon=False)


def plot_occlusion(result, images, index=0, class_names=None,
                   projection=None, cell_size=2.6, display=None):
    """The Fig. 7 panels for one image of an `OcclusionResult`.

    Panels: (a) the input with one occluder drawn; (b) the total activity of
    the strongest feature map (if a layer was given); (c) its deconvnet
    projection (if `projection` is given); (d) the probability of the
    scored class; (e) the most probable class, with a legend.

    Args:
        result: an `OcclusionResult`.
        images: the images the result was computed on.
        index: which image.
        class_names: optional class names for titles and the legend.
        projection: optional `(H, W, C)` projection of the strongest map.
        cell_size: inches per panel.
        display: the model's preprocessing to undo for display (`None`,
            a family such as `"vgg16"`, or a function; see
            `keras_zfnet.plotting.display.undo_preprocessing`).

    Returns:
        A `matplotlib.figure.Figure`.
    """
    Figure = require("matplotlib.figure", "plot", "plot_occlusion").Figure
    Rectangle = require("matplotlib.patches", "plot").Rectangle

    image = np.asarray(images[index])
    positions = result.positions
    panels = ["input"]
    if result.activity is not None:
        panels.append("activity")
    if projection is not None:
        panels.append("projection")
    panels += ["probability", "label"]
    figure = Figure(figsize=(cell_size * len(panels) + 1.5, cell_size + 0.6))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    label = int(result.labels[index])
    name = class_names[label] if class_names is not None else str(label)

    def title(ax, text):
        ax.set_title(text, fontsize=9)

    for ax, panel in zip(axes, panels):
        if panel == "input":
            shown = input_to_image(image, display)
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None,
                      interpolation="nearest")
            r0, r1, c0, c1 = positions[positions.shape[0] // 2,
                                       positions.shape[1] // 2]
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0,
                                   facecolor="grey", edgecolor="white"))
            ax.set_xticks([])
            ax.set_yticks([])
            kind = "true" if getattr(result, "labels_given", True) else (
                "predicted")
            title(ax, f"(a) input, {kind}: {name}")
        elif panel == "activity":
            overlay_heatmap(ax, image, result.activity[index], positions,
                            label="total activation", display=display)
            title(ax, f"(b) {result.layer} map "
                      f"#{int(result.strongest_channel[index])}")
        elif panel == "projection":
            shown = projection_to_image(projection)
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None,
                      vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            title(ax, "(c) its projection")
        elif panel == "probability":
            overlay_heatmap(ax, image, result.probability[index], positions,
                            vmin=0.0, vmax=1.0, label=f"p({name})",
                            display=display)
            title(ax, f"(d) p({name})")
        else:
            plot_label_map(ax, result.predicted[index], positions, image,
                           class_names, display=display)
            title(ax, "(e) most probable class")
    figure.tight_layout()
    return figure
