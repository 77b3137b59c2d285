"""One streaming scan for the unit browser: top-k activations per channel and
a histogram of every channel's per-image maximum, from the same forward pass.

The top-k part is `top_activations`' own merge (`merge_batch`), so the
entries equal what `top_activations` returns. The histogram of channel `c`
has `bins` equal half-open bins over `[-limit[c], limit[c])`, where
`limit[c]` is the smallest power of two > the largest |maximum| seen. When a batch brings a
larger value the range doubles (as often as needed) and neighbouring bins
merge: the edges of a doubled range are edges of the old one, so counts stay
exact, and shards merge exactly too (`BrowseScan.merge`).
"""

import dataclasses

import numpy as np
from keras import ops

from keras_zfnet.analysis._utils import data_stream
from keras_zfnet.analysis._utils import scan
from keras_zfnet.analysis.top_activations import initial_states
from keras_zfnet.analysis.top_activations import merge_batch
from keras_zfnet.analysis.top_activations import scan_result
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import validation

DEFAULT_BINS = 128


@dataclasses.dataclass(frozen=True, eq=False)
class MaxHistogram:
    """Histogram of each channel's per-image maximum activation.

    Attributes:
        layer: the layer's name.
        counts: `(C, bins)` int64 image counts; bin `b` of channel `c` covers
            `[edges[b], edges[b + 1])` of `edges(c)`.
        limits: `(C,)` float32 half-ranges, powers of two: bins span
            `[-limit, limit)` and every |maximum| is < limit; 0
            while every maximum seen was 0 (all counts in bin `bins // 2`).
        silent: `(C,)` int64 number of images whose maximum is <= 0 (the
            unit never fired on them).
    """

    layer: str
    counts: np.ndarray
    limits: np.ndarray
    silent: np.ndarray

    def __repr__(self):
        return (f"<MaxHistogram layer='{self.layer}' channels="
                f"{len(self.limits)} bins={self.bins} images="
                f"{int(self.counts[0].sum()) if len(self.counts) else 0}>")

    @property
    def bins(self):
        return self.counts.shape[1]

    def edges(self, channel):
        """`(bins + 1,)` bin edges of channel position `channel`."""
        limit = float(self.limits[channel])
        return np.linspace(-limit, limit, self.bins + 1)

    def merge(self, other):
        """The histogram of the union of two disjoint scans (exact)."""
        if (other.layer != self.layer or other.counts.shape
                != self.counts.shape):
            raise ValueError(
                "Only histograms of the same layer, channels and bins merge. "
                f"Received: {other!r} into {self!r}")
        limits = np.maximum(self.limits, other.limits)
        counts = (_rebin_numpy(self.counts, self.limits, limits)
                  + _rebin_numpy(other.counts, other.limits, limits))
        return MaxHistogram(self.layer, counts, limits,
                            self.silent + other.silent)


@dataclasses.dataclass(frozen=True, eq=False)
class BrowseScan:
    """Result of `browse_scan`: per layer a `TopActivations` and a
    `MaxHistogram`.

    Attributes:
        layers: the scanned layer names, in order.
        top: dict from layer name to `TopActivations`.
        histograms: dict from layer name to `MaxHistogram`.
        scanned: number of images scanned.
    """

    layers: tuple
    top: dict
    histograms: dict
    scanned: int

    def __repr__(self):
        return (f"<BrowseScan layers={list(self.layers)} "
                f"k={self.top[self.layers[0]].k} scanned={self.scanned}>")

    def merge(self, other):
        """Combines the scans of disjoint shards (see
        `TopActivations.merge`)."""
        if tuple(other.layers) != tuple(self.layers):
            raise ValueError(
                "Only scans of the same layers merge. Received: layers "
                f"{list(other.layers)} into {list(self.layers)}")
        return BrowseScan(
            self.layers,
            {n: self.top[n].merge(other.top[n]) for n in self.layers},
            {n: self.histograms[n].merge(other.histograms[n])
             for n in self.layers},
            self.scanned + other.scanned)


def _rebin_numpy(counts, old_limits, new_limits):
    """Moves `(C, B)` counts from ranges `old_limits` to the wider (or
    equal) power-of-two ranges `new_limits`."""
    bins = counts.shape[1]
    factor = np.where(old_limits > 0, new_limits / np.where(
        old_limits > 0, old_limits, 1.0), 1.0)
    offset = np.arange(bins) - bins // 2
    target = bins // 2 + np.floor(offset[None, :] / factor[:, None])
    target = target.astype("int64")
    out = np.zeros_like(counts)
    for c in range(counts.shape[0]):
        np.add.at(out[c], target[c], counts[c])
    return out


def _power_of_two_above(values):
    """Smallest power of two > each positive value (0 stays 0): every
    value then lies strictly inside its range, in a half-open bin."""
    safe = ops.where(values > 0, values, 1.0)
    power = ops.power(2.0, ops.floor(ops.log(safe) / np.log(2.0)) + 1)
    power = ops.where(power <= safe, power * 2.0, power)
    power = ops.where(power / 2.0 > safe, power / 2.0, power)
    return ops.where(values > 0, power, 0.0)


def _update_histogram(peak, valid, state, bins):
    """Adds one batch's per-image maxima `peak (B, C)` (rows at or after
    `valid` are padding) to the histogram state."""
    counts, limits, silent = state
    peak = ops.cast(peak, "float32")
    real = ops.arange(ops.shape(peak)[0], dtype="int32") < valid
    magnitude = ops.max(ops.where(real[:, None], ops.abs(peak), 0.0), axis=0)
    new_limits = ops.maximum(limits, _power_of_two_above(magnitude))
    factor = ops.where(limits > 0, new_limits / ops.where(
        limits > 0, limits, 1.0), 1.0)
    channels = counts.shape[0]
    half = bins // 2
    offset = ops.cast(ops.arange(bins, dtype="int32") - half, "float32")
    target = half + ops.cast(ops.floor(offset[None, :] / factor[:, None]),
                             "int32")
    base = ops.arange(channels, dtype="int32")[:, None] * bins
    moved = ops.segment_sum(ops.reshape(counts, (-1,)),
                            ops.reshape(base + target, (-1,)),
                            num_segments=channels * bins)
    width = ops.where(new_limits > 0, 2.0 * new_limits / bins, 1.0)
    index = half + ops.cast(ops.floor(peak / width[None, :]), "int32")
    index = ops.clip(index, 0, bins - 1)
    ones = ops.cast(ops.broadcast_to(real[:, None], ops.shape(index)),
                    "int32")
    added = ops.segment_sum(ops.reshape(ones, (-1,)),
                            ops.reshape(base[:, 0][None, :] + index, (-1,)),
                            num_segments=channels * bins)
    counts = ops.reshape(moved + added, (channels, bins))
    silent = silent + ops.sum(
        ops.cast(ops.logical_and(real[:, None], peak <= 0), "int32"), axis=0)
    return counts, new_limits, silent


def browse_reduction(k, bins):
    """The browser scan's per-batch reduction: `top_activations`' merge and
    the histogram update, on the same outputs."""
    def reduce(outputs, offset, valid, state):
        tops, histograms = state
        new_tops, new_histograms = [], []
        for out, top, histogram in zip(outputs, tops, histograms):
            new_tops.append(merge_batch(out, offset, valid, top, k))
            peak = ops.max(out, axis=(1, 2))
            new_histograms.append(
                _update_histogram(peak, valid, histogram, bins))
        return new_tops, new_histograms

    return reduce


def check_spatial_layers(model, layers, what="layers"):
    """Resolves `layers` (None: every convolution with a spatial map) to
    canonical names, each with a `(H, W, C)` output.

    Raises:
        ValueError: for an unknown layer, a layer without spatial maps, or
            a model without convolutions (when `layers` is None).
    """
    view = model_graph(model)
    if layers is None:
        names = [n for n in view.layer_names
                 if _is_convolution(view.get_layer(n))
                 and len(view.output_shape(n)) == 3]
        if not names:
            raise ValueError(
                f"Model '{model.name}' has no convolution layer with spatial "
                f"maps; name the layers to browse. Received: {what}=None")
        return names
    names, _ = view.resolve_many(
        layers if isinstance(layers, (list, tuple)) else [layers], what)
    flat = [n for n in names if len(view.output_shape(n)) != 3]
    if flat:
        raise ValueError(
            f"`{what}` must name layers with spatial maps (H, W, C): "
            f"{flat} have output shapes "
            f"{[view.output_shape(n) for n in flat]}. Received: "
            f"{what}={layers!r}")
    return names


def _is_convolution(layer):
    return any(hasattr(layer, attribute) for attribute in (
        "kernel", "depthwise_kernel")) and "conv" in type(
            layer).__name__.lower()


def browse_scan(model, data, layers=None, k=9, bins=DEFAULT_BINS,
                batch_size=64, index_offset=0, jit_compile="auto",
                verbose="auto"):
    """Top-k activations and max-activation histograms of every channel of
    `layers`, in one streaming pass over `data`.

    Args:
        model: a Keras Sequential or functional model.
        data: a NumPy array, a `tf.data.Dataset` or a `PyDataset` of images
            (as `top_activations` reads them); any length, constant memory.
        layers: layers with spatial maps (names, nested paths or layer
            objects); `None`: every convolution layer.
        k: entries kept per channel.
        bins: histogram bins per channel (a multiple of 4).
        batch_size: batch size for arrays and unbatched datasets.
        index_offset: added to dataset positions (for contiguous shards,
            merged with `BrowseScan.merge`).
        jit_compile: `"auto"` (XLA, falling back when a layer has no XLA
            kernel), True or False.
        verbose: `"auto"`, 0 or 1.

    Returns:
        A `BrowseScan` with `.top[layer]` (`TopActivations`, the same
        entries as `top_activations`) and `.histograms[layer]`
        (`MaxHistogram`).

    Example:

    >>> scan = browse_scan(model, x_test[:256], ["conv1", "conv2"], k=4)
    >>> scan.histograms["conv1"].counts.sum(axis=1)[0]
    256
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"`k` must be an integer >= 1. Received: k={k!r}")
    if int(bins) != bins or bins < 4 or bins % 4:
        raise ValueError(
            f"`bins` must be a positive multiple of 4. Received: bins={bins!r}")
    batch_size = validation.check_batch_size(batch_size)
    k, bins = int(k), int(bins)
    names = check_spatial_layers(model, layers)
    check_not_empty(data)
    view = model_graph(model)
    counts = [int(view.output_shape(n)[-1]) for n in names]
    tops = initial_states([range(c) for c in counts], k)
    histograms = [(ops.zeros((c, bins), "int32"), ops.zeros((c,), "float32"),
                   ops.zeros((c,), "int32")) for c in counts]
    (tops, histograms), scanned, seen_shape = scan.run(
        view, names, browse_reduction(k, bins), ("browse", k, bins),
        (tops, histograms), data, batch_size, index_offset=index_offset,
        jit_compile=jit_compile, verbose=verbose)
    if scanned == 0:
        raise ValueError("`data` is empty: expected at least one image.")
    top = {name: scan_result(model, name, np.arange(c, dtype="int32"), state,
                         scanned, seen_shape, index_offset)
           for name, c, state in zip(names, counts, tops)}
    hists = {name: MaxHistogram(name, counts.astype("int64"), limits,
                                silent.astype("int64"))
             for name, (counts, limits, silent) in zip(
                 names, scan.to_numpy(histograms))}
    return BrowseScan(tuple(names), top, hists, scanned)


def check_not_empty(data):
    """Raises a `ValueError` when `data` is known to hold no image (arrays,
    datasets of known cardinality, `PyDataset`s) before any work."""
    size = None
    if isinstance(data, np.ndarray):
        size = len(data) if data.ndim else 0
    elif data_stream.is_tf_dataset(data):
        cardinality = int(data.cardinality())
        size = cardinality if cardinality >= 0 else None
    else:
        try:
            size = len(data)
        except TypeError:
            size = None
    if size == 0:
        raise ValueError("`data` is empty: expected at least one image. "
                         "Received: data with 0 items")
