"""`FilterMonitor`: first-layer filters during training (paper Fig. 6)."""

import os

import keras
import numpy as np

from keras_zfnet.callbacks.summaries import SummaryWriter
from keras_zfnet.callbacks.summaries import require_tensorboard
from keras_zfnet.deconv.model_graph import model_graph

# A filter is "dead" when its RMS is below this share of the largest one.
DEAD_RATIO = 1e-3
# A filter is "at the radius" when its RMS is within this relative tolerance
# of the FilterRMS radius (renormalised filters land there up to rounding).
RADIUS_TOLERANCE = 1e-3
# The top frequency band: more than this many cycles per pixel along rows or
# columns (the upper half of the band up to Nyquist, 0.5).
HIGH_FREQUENCY = 0.25


def filter_statistics(kernel, max_rms=None):
    """Statistics of a convolution's filters (one per output channel).

    Args:
        kernel: `(kh, kw, C, F)` weights; filter `j` is `kernel[..., j]`.
        max_rms: the `FilterRMS` radius of the layer, or `None`.

    Returns:
        A dict:
        - `rms_max`, `rms_median`: the largest and the median filter RMS
          (`sqrt(mean(w ** 2))` over a filter's `kh * kw * C` weights);
        - `at_radius` (only with `max_rms`): the number of filters whose RMS
          is within 0.1% of the radius or above it;
        - `dead`: the number of filters with an RMS below 1e-3 of the
          largest (all of them if every filter is zero);
        - `high_frequency_share`: the share of the filters' spectral energy
          (squared magnitude of each filter's 2-D DFT over `kh x kw`, summed
          over input channels and filters) at frequencies above 1/4 cycle
          per pixel along rows or columns; 0 for all-zero filters.

    Example:

    >>> filter_statistics(np.zeros((3, 3, 1, 2)))["dead"]
    2
    """
    kernel = np.asarray(kernel, dtype="float64")
    if kernel.ndim != 4:
        raise ValueError(
            "Expected a convolution kernel (kh, kw, C, F). Received: "
            f"kernel.shape={kernel.shape}"
        )
    rms = np.sqrt(np.mean(kernel ** 2, axis=(0, 1, 2)))
    largest = float(rms.max())
    stats = {
        "rms_max": largest,
        "rms_median": float(np.median(rms)),
    }
    if max_rms is not None:
        stats["at_radius"] = int(
            np.sum(rms >= max_rms * (1 - RADIUS_TOLERANCE)))
    stats["dead"] = int(np.sum(rms <= DEAD_RATIO * largest))
    spectrum = np.abs(np.fft.fft2(kernel, axes=(0, 1))) ** 2
    fy = np.abs(np.fft.fftfreq(kernel.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(kernel.shape[1]))[None, :]
    high = (fy > HIGH_FREQUENCY) | (fx > HIGH_FREQUENCY)
    total = spectrum.sum()
    stats["high_frequency_share"] = float(
        spectrum[high].sum() / total) if total > 0 else 0.0
    return stats


class FilterMonitor(keras.callbacks.Callback):
    """Watches the first convolution's filters during training.

    At the end of every `every`-th epoch (1-based) it adds the filters'
    statistics (`filter_statistics`) to the epoch's `logs` as
    `filters/rms_max`, `filters/rms_median`, `filters/at_radius` (when the
    layer has a `FilterRMS` constraint), `filters/dead` and
    `filters/high_frequency_share`, so that `History`, `CSVLogger` and
    `TensorBoard` listed *after* it record them; and it draws the filter
    mosaic (`filters_epoch_0003.png` in `output_dir`, image
    `filters/mosaic` in `tensorboard_dir`, with the statistics as scalars).
    Such a view showed Zeiler & Fergus one first-layer filter dominating
    (Fig. 6a), which `FilterRMS` cures.

    Args:
        output_dir: optional folder for the mosaics.
        tensorboard_dir: optional TensorBoard log folder.
        every: record every `every` epochs.
        layer: the convolution to watch (name, nested path or layer);
            default: the model's first `Conv2D`.

    Example:

    >>> monitor = FilterMonitor(output_dir="runs/filters")
    >>> history = model.fit(x, y, epochs=3, callbacks=[monitor])
    >>> history.history["filters/rms_max"]
    [0.1, 0.1, 0.1]
    """

    def __init__(self, output_dir=None, tensorboard_dir=None, every=1,
                 layer=None):
        super().__init__()
        if isinstance(every, bool) or not isinstance(
                every, (int, np.integer)) or every < 1:
            raise ValueError(
                f"`every` must be an integer >= 1. Received: every={every!r}"
            )
        if tensorboard_dir is not None:
            require_tensorboard("tensorboard_dir")
        self.output_dir = output_dir
        self.tensorboard_dir = tensorboard_dir
        self.every = int(every)
        self.layer = layer
        self._writer = (SummaryWriter(tensorboard_dir)
                        if tensorboard_dir else None)
        self._watched = None

    def on_train_begin(self, logs=None):
        graph = model_graph(self.model)
        if self.layer is None:
            names = [n for n in graph.layer_names
                     if isinstance(graph.get_layer(n), keras.layers.Conv2D)]
            if not names:
                raise ValueError(
                    "FilterMonitor found no Conv2D layer in model "
                    f"'{self.model.name}'; pass `layer`. Valid names: "
                    f"{graph.layer_names}. Received: layer=None"
                )
            name = names[0]
        else:
            name = graph.resolve(self.layer)
        watched = graph.get_layer(name)
        kernel = getattr(watched, "kernel", None)
        if kernel is None or len(kernel.shape) != 4:
            raise ValueError(
                f"`layer` must be a 2-D convolution with a (kh, kw, C, F) "
                f"kernel. Received: layer='{name}' "
                f"({type(watched).__name__})"
            )
        constraint = getattr(watched, "kernel_constraint", None)
        self.max_rms = getattr(constraint, "max_rms", None)
        self.layer_name = name
        self._watched = watched
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)

    def statistics(self):
        """The watched layer's filter statistics now (`filter_statistics`)."""
        kernel = keras.ops.convert_to_numpy(self._watched.kernel)
        return filter_statistics(kernel, self.max_rms)

    def on_epoch_end(self, epoch, logs=None):
        epoch = int(epoch) + 1
        if epoch % self.every:
            return
        stats = self.statistics()
        if logs is not None:
            logs.update({f"filters/{k}": v for k, v in stats.items()})
        if not (self.output_dir or self._writer):
            return
        kernel = keras.ops.convert_to_numpy(self._watched.kernel)
        if self.output_dir:
            self._save_mosaic(kernel, epoch, stats)
        if self._writer is not None:
            self._write_summaries(kernel, epoch, stats)

    def _save_mosaic(self, kernel, epoch, stats):
        from keras_zfnet.plotting.filters import plot_filters

        title = (f"{self.layer_name}, epoch {epoch}: RMS max "
                 f"{stats['rms_max']:.3g}, median {stats['rms_median']:.3g}")
        figure = plot_filters([_displayable(kernel)], [title])
        path = os.path.join(self.output_dir, f"filters_epoch_{epoch:04d}.png")
        figure.savefig(path)

    def _write_summaries(self, kernel, epoch, stats):
        from keras_zfnet.plotting.filters import filters_to_images
        from keras_zfnet.plotting.top_activations import mosaic

        tiles = filters_to_images(_displayable(kernel))
        self._writer.images("filters/mosaic", mosaic(tiles)[None], epoch)
        self._writer.scalars({f"filters/{k}": v for k, v in stats.items()},
                             epoch)
        self._writer.flush()


def _displayable(kernel):
    """Kernels with other than 1 or 3 input channels are shown by their
    mean over input channels."""
    if kernel.shape[2] in (1, 3):
        return kernel
    return kernel.mean(axis=2, keepdims=True)
