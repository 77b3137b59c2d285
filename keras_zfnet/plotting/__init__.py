"""Rendering: projection images, grids, heat maps and the HTML report.

NumPy-only helpers are imported here; matplotlib is imported inside the
drawing functions so that `import keras_zfnet` stays light.
"""

from keras_zfnet.plotting.filters import filters_to_images
from keras_zfnet.plotting.filters import plot_filters
from keras_zfnet.plotting.grid import plot_grid
from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image
from keras_zfnet.plotting.occlusion import plot_occlusion
from keras_zfnet.plotting.report import Report
from keras_zfnet.plotting.top_activations import plot_top_activations

__all__ = [
    "Report",
    "filters_to_images",
    "input_to_image",
    "plot_filters",
    "plot_grid",
    "plot_occlusion",
    "plot_top_activations",
    "projection_to_image",
]
