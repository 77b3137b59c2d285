"""`FilterRMS`: the paper's renormalisation of large convolution filters."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_zfnet")
class FilterRMS(keras.constraints.Constraint):
    """Renormalizes every filter whose RMS exceeds `max_rms` back to `max_rms`.

    Zeiler & Fergus (2014, Sec. 3): "we renormalize each filter in the
    convolutional layers whose RMS value exceeds a fixed radius of 1e-1 to
    this fixed radius", which keeps a few first-layer filters from dominating.
    A filter is one output channel of the kernel: for a `Conv2D` kernel of
    shape `(kh, kw, in, out)` filter `j` is `kernel[..., j]`, and its RMS is
    `sqrt(mean(kernel[..., j] ** 2))` over its `kh * kw * in` weights. Filters
    at or below the radius are left untouched. Works for any kernel whose last
    axis indexes the filters (Dense kernels too).

    Args:
        max_rms: float > 0, the radius.

    Example:

    >>> conv = keras.layers.Conv2D(8, 3, kernel_constraint=FilterRMS(0.1))
    """

    def __init__(self, max_rms=0.1):
        if not max_rms > 0:
            raise ValueError(
                f"`max_rms` must be a number > 0. Received: max_rms={max_rms}"
            )
        self.max_rms = float(max_rms)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        axes = tuple(range(len(w.shape) - 1))
        rms = ops.sqrt(ops.mean(ops.square(w), axis=axes, keepdims=True))
        scale = ops.where(
            rms > self.max_rms,
            self.max_rms / ops.maximum(rms, 1e-12),
            ops.ones_like(rms),
        )
        return w * ops.cast(scale, w.dtype)

    def get_config(self):
        return {"max_rms": self.max_rms}
