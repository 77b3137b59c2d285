"""`FilterMonitor`: first-layer filters during training (paper Fig. 6)."""

import os

import keras
import numpy as np

from keras_zfnet.analysis._utils import filter_measures
from keras_zfnet.callbacks.summaries import SummaryWriter
from keras_zfnet.callbacks.summaries import require_tensorboard
from keras_zfnet.deconv.model_graph import model_graph

# A filter is "at the radius" when its RMS is within this relative tolerance
# of the FilterRMS radius (renormalised filters land there up to rounding).
RADIUS_TOLERANCE = 1e-3


def filter_statistics(kernel, max_rms=None, dead_rms=1e-3):
    """Statistics of a convolution's filters (one per output channel).

    The measures are those of `keras_zfnet.diagnose` (the same RMS, dead
    rule and frequency bands), so a monitored run and a diagnosis agree.

    Args:
        kernel: `(kh, kw, C, F)` weights; filter `j` is `kernel[..., j]`.
        max_rms: the `FilterRMS` radius of the layer, or `None`.
        dead_rms: a filter is dead when its RMS is at most `dead_rms` times
            the median filter RMS (or zero, when the median is zero).

    Returns:
        A dict:
        - `rms_max`, `rms_median`: the largest and the median filter RMS
          (`sqrt(mean(w ** 2))` over a filter's `kh * kw * C` weights);
        - `at_radius` (only with `max_rms`): the number of filters whose RMS
          is within 0.1% of the radius or above it;
        - `dead`: the number of dead filters;
        - `high_frequency_share`: the mean, over the non-zero filters, of
          each filter's share of spectral energy in the top band (radius
          above 2/3 of the Nyquist frequency on a 32x32 zero-padded DFT,
          `keras_zfnet.analysis._utils.filter_measures.band_shares`); 0 when
          every filter is zero.

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
    rms = filter_measures.filter_rms(kernel)
    median = float(np.median(rms))
    stats = {"rms_max": float(rms.max()), "rms_median": median}
    if max_rms is not None:
        stats["at_radius"] = int(
            np.sum(rms >= max_rms * (1 - RADIUS_TOLERANCE)))
    stats["dead"] = int(np.sum(rms <= dead_rms * median) if median > 0
                        else np.sum(rms <= 0))
    high = filter_measures.band_shares(kernel)[:, -1]
    live = ~np.isnan(high)
    stats["high_frequency_share"] = float(high[live].mean()) if (
        live.any()) else 0.0
    return stats


class FilterMonitor(keras.callbacks.Callback):
    """Watches the first convolution's filters during training.

    At the end of every `every`-th epoch (1-based) it adds the filters'
    statistics (`filter_statistics`; NaN in the epochs between, so that a
    `CSVLogger` keeps the columns) to the epoch's `logs` as
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
        self._keys = ["rms_max", "rms_median"] + (
            ["at_radius"] if self.max_rms is not None else []) + [
            "dead", "high_frequency_share"]
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)

    def statistics(self):
        """The watched layer's filter statistics now (`filter_statistics`)."""
        kernel = keras.ops.convert_to_numpy(self._watched.kernel)
        return filter_statistics(kernel, self.max_rms)

    def on_epoch_end(self, epoch, logs=None):
        epoch = int(epoch) + 1
        if epoch % self.every:
            if logs is not None:  # keep CSVLogger's columns from epoch 1 on
                logs.update({f"filters/{k}": float("nan")
                             for k in self._keys})
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
        from keras_zfnet.plotting.evolution import save_labelled_png
        from keras_zfnet.plotting.filters import filters_to_images
        from keras_zfnet.plotting.top_activations import mosaic

        tiles = filters_to_images(_displayable(kernel))
        upscale = max(1, 64 // max(tiles.shape[1:3]))
        title = (f"{self.layer_name}, epoch {epoch}: RMS max "
                 f"{stats['rms_max']:.3g}, median {stats['rms_median']:.3g}")
        save_labelled_png(
            mosaic(tiles, border=1), os.path.join(
                self.output_dir, f"filters_epoch_{epoch:04d}.png"),
            title=title, upscale=upscale)

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
