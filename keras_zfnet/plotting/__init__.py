"""Rendering: projection images, grids, heat maps and the HTML report.

NumPy-only helpers are imported here; matplotlib is imported inside the
drawing functions so that `import keras_zfnet` stays light.
"""

from keras_zfnet.plotting.grid import plot_grid
from keras_zfnet.plotting.images import input_to_image
from keras_zfnet.plotting.images import projection_to_image

__all__ = ["input_to_image", "plot_grid", "projection_to_image"]
