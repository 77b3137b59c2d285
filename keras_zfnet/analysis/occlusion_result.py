"""`OcclusionResult`: the maps of an occlusion-sensitivity run, as data."""

import dataclasses

import numpy as np

from keras_zfnet.analysis._utils.result_files import SavedResult


@dataclasses.dataclass(frozen=True, eq=False)
class OcclusionResult(SavedResult):
    """Maps of an occlusion experiment, one value per occluder position.

    Plain data (numpy arrays and names, no model): `to_npz(path)` saves
    every field and `OcclusionResult.from_npz(path)` loads it back equal.

    Attributes:
        probability: `(N, Py, Px)` probability of the scored class (the true
            label, or the unoccluded image's top class) with the occluder
            at each position (paper Fig. 7d).
        predicted: `(N, Py, Px)` most probable label per position (Fig. 7e).
        activity: `(N, Py, Px)` total activation (sum over the map) of the
            strongest feature map of `layer` (Fig. 7b), or `None`.
        strongest_channel: `(N,)` that feature map's channel (the one whose
            largest activation on the unoccluded image is largest; project
            it with `Deconvnet` for Fig. 7c), or `None`.
        positions: `(Py, Px, 4)` occluder boxes `(row0, row1, col0, col1)`
            in input pixels: box `(i, j)` covers rows `row0:row1` and
            columns `col0:col1`.
        labels: `(N,)` the scored classes.
        base_probability: `(N,)` probability of the scored class without
            occlusion.
        base_predicted: `(N,)` top class without occlusion.
        base_activity: `(N,)` total activation of the strongest map without
            occlusion, or `None`.
        layer: the layer of `activity`, or `None`.
        labels_given: whether `labels` were given (else they are the
            unoccluded predictions).

    Example:

    >>> result = kz.occlusion_sensitivity(model, x[:4], 8, 2, labels=y[:4])
    >>> path = result.to_npz("occlusion.npz")
    >>> kz.analysis.OcclusionResult.from_npz(path).probability.shape
    (4, 11, 11)
    """

    probability: np.ndarray
    predicted: np.ndarray
    activity: np.ndarray
    strongest_channel: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    base_probability: np.ndarray
    base_predicted: np.ndarray
    base_activity: np.ndarray
    layer: str

    labels_given: bool = True

    def __repr__(self):
        n, rows, cols = self.probability.shape
        layer = f" layer='{self.layer}'" if self.layer else ""
        return (f"<OcclusionResult {n} image(s), {rows}x{cols} occluder "
                f"positions{layer}>")

    def plot(self, images, index=0, class_names=None, projection=None,
             display=None):
        """Draws the Fig. 7 panels for image `index` (see
        `keras_zfnet.plotting.plot_occlusion`; `display` undoes the model's
        preprocessing for display, e.g. `"vgg16"` or a function)."""
        from keras_zfnet.plotting.occlusion import plot_occlusion

        return plot_occlusion(self, images, index, class_names, projection,
                              display=display)
