"""Model diagnosis from the first layers' filters (paper Sec. 4.1, Fig. 6).

Zeiler & Fergus inspected AlexNet's first and second layers and found
filters that dominate or are dead, first-layer filters that are "a mixture
of extremely high and low frequency information, with little coverage of
the mid frequencies", and aliasing artifacts in the second layer caused by
the large first-layer stride. They fixed them with smaller first-layer
filters and stride (11x11/4 -> 7x7/2) and by renormalizing filters whose
RMS exceeds a fixed radius (`keras_zfnet.constraints.FilterRMS`).
`diagnose` measures each of these.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_zfnet.analysis._utils import filter_measures
from keras_zfnet.analysis.diagnosis_result import Diagnosis
from keras_zfnet.analysis.diagnosis_result import Finding
from keras_zfnet.deconv.deconvnet import Deconvnet
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import validation

_SMALLER_FIRST_LAYER = (
    "use smaller first-layer filters and a smaller stride (the paper went "
    "from 11x11 stride 4 to 7x7 stride 2; MiniZFNet from 9x9/2 to 5x5/1)")


def diagnose(model, images=None, layer=None, dead_rms=1e-3,
             dominance_ratio=3.0, mid_share=0.15, aliasing_threshold=0.2,
             aliasing_period=None, projection_channels=8, max_images=32,
             batch_size=64):
    """Diagnoses a CNN's first layers the way the paper did (Fig. 6).

    Measures, on the first convolution layer `layer` (and the convolution
    after it):

    - `"dead_filters"`: filters whose RMS is below `dead_rms` times the
      median RMS, or (with `images`) whose output is never positive on any
      image.
    - `"dominant_filters"`: filters whose RMS exceeds `dominance_ratio`
      times the median RMS (the case `FilterRMS` fixes).
    - `"frequency_gap"`: the mean share of the filters' spectral energy in
      the mid band (`filter_measures.band_shares`: radial thirds of the
      Nyquist frequency) is below `mid_share`; the channels are the filters
      whose own mid share is below it. White noise filters give ~0.26.
    - `"aliasing"` (needs `images`): deconvnet projections of the second
      convolution's `projection_channels` strongest channels (their whole
      maps, `mode="all"`, on the first `max_images` images) carry a grid
      signature at the first layer's stride:
      `filter_measures.aliasing_score` (coefficient of variation of the
      energy per pixel phase) above `aliasing_threshold`. A stride-1
      first layer scores 0 at its own period by construction;
      `aliasing_period` measures at another period.

    Args:
        model: a Sequential or functional Keras CNN.
        images: optional `(N, H, W, C)` images as the model expects them;
            needed for "never active" filters and for aliasing.
        layer: the convolution to diagnose (name, nested path or layer);
            default: the model's first `Conv2D`.
        dead_rms, dominance_ratio, mid_share, aliasing_threshold: the
            thresholds above.
        aliasing_period: the grid period; default the layer's stride.
        projection_channels: second-layer channels projected.
        max_images: images used for the projections.
        batch_size: batch size of the forward passes.

    Returns:
        A `Diagnosis`: `.findings`, `.measures`, `str()` report, `.plot()`.

    Example:

    >>> model = kz.MiniZFNet(weights="fashion_mnist_alexnet")
    >>> (_, _), (x, y) = kz.datasets.fashion_mnist.load_data()
    >>> print(kz.diagnose(model, x[:64, ..., None]))
    """
    batch_size = validation.check_batch_size(batch_size)
    graph = model_graph(model)
    convs = [name for name in graph.layer_names
             if isinstance(graph.get_layer(name), keras.layers.Conv2D)]
    if not convs:
        raise ValueError(
            "`model` must contain a Conv2D layer to diagnose; model "
            f"'{model.name}' has none. Received: model={model.name!r}")
    name = convs[0] if layer is None else graph.resolve(layer)
    if name not in convs:
        raise ValueError(
            f"`layer` must be a Conv2D layer of the model, one of {convs}. "
            f"Received: layer={name!r}")
    _check_thresholds(dead_rms, dominance_ratio, mid_share,
                      aliasing_threshold, projection_channels, max_images)
    conv = graph.get_layer(name)
    second = next(iter(convs[convs.index(name) + 1:]), None)
    kernel = np.asarray(conv.kernel.numpy(), dtype="float32")
    if not np.all(np.isfinite(kernel)):
        bad = sorted({int(c) for c in np.nonzero(~np.isfinite(kernel))[-1]})
        raise ValueError(
            f"The kernel of layer '{name}' holds NaN or infinite weights "
            f"(filters {bad[:10]}): the model is broken (diverged training?) "
            "and its filters cannot be measured. Received: layer="
            f"{name!r}")
    stride = int(conv.strides[0])
    period = stride if aliasing_period is None else aliasing_period
    if isinstance(period, bool) or not isinstance(
            period, numbers.Integral) or period < 1:
        raise ValueError(
            "`aliasing_period` must be a positive integer or None. "
            f"Received: aliasing_period={aliasing_period!r}")
    period = int(period)

    measures = _filter_measures(kernel, dead_rms)
    measures["stride"] = stride
    projections = channels = None
    if images is not None:
        images = validation.as_images(images, graph.input_shape)
        _activity_measures(graph, name, second, images, batch_size, measures)
        if second is not None:
            projections, channels = _aliasing_measures(
                model, second, images[:max_images], period,
                projection_channels, measures)
        else:
            measures["aliasing_note"] = (
                f"no convolution after '{name}' to look for aliasing in")
    else:
        measures["aliasing_note"] = "needs images"
    findings = _findings(measures, dead_rms, dominance_ratio, mid_share,
                         aliasing_threshold)
    return Diagnosis(
        findings=tuple(findings), measures=measures, layer=name,
        second_layer=second, filters=kernel, projections=projections,
        projection_channels=channels, model_name=model.name)


def _check_thresholds(dead_rms, dominance_ratio, mid_share,
                      aliasing_threshold, projection_channels, max_images):
    checks = (("dead_rms", dead_rms, 0, 1), ("mid_share", mid_share, 0, 1),
              ("dominance_ratio", dominance_ratio, 1, np.inf),
              ("aliasing_threshold", aliasing_threshold, 0, np.inf))
    for arg, value, low, high in checks:
        if isinstance(value, bool) or not (
                isinstance(value, numbers.Real) and low < value < high):
            raise ValueError(
                f"`{arg}` must be a number in ({low}, {high}). "
                f"Received: {arg}={value!r}")
    for arg, value in (("projection_channels", projection_channels),
                       ("max_images", max_images)):
        if isinstance(value, bool) or not (
                isinstance(value, numbers.Integral) and value >= 1):
            raise ValueError(
                f"`{arg}` must be a positive integer. "
                f"Received: {arg}={value!r}")


def _filter_measures(kernel, dead_rms):
    rms = filter_measures.filter_rms(kernel)
    # The median of the filters with any weight: when half of them are zero
    # the plain median is 0 and every live filter would look "dominant".
    alive = rms[rms > 0]
    median = float(np.median(alive)) if alive.size else 0.0
    dead = np.flatnonzero(rms <= dead_rms * median) if median > 0 else \
        np.flatnonzero(rms <= 0)
    shares = filter_measures.band_shares(kernel)
    live = ~np.isnan(shares[:, 0])
    mean_shares = shares[live].mean(axis=0) if live.any() else \
        np.full(3, np.nan)
    return dict(
        filters=int(kernel.shape[-1]),
        kernel_size=tuple(int(s) for s in kernel.shape[:2]),
        rms=rms,
        rms_median=median,
        rms_max=float(rms.max()),
        rms_spread=float(rms.max() / median) if median > 0 else np.inf,
        dead_by_norm=int(dead.size),
        dead_by_norm_channels=dead,
        band_shares=shares,
        band_low=float(mean_shares[0]),
        band_mid=float(mean_shares[1]),
        band_high=float(mean_shares[2]),
    )


def _activity_measures(graph, name, second, images, batch_size, measures):
    layers = [name] + ([second] if second else [])
    features = graph.feature_model(layers)
    peaks = [None] * len(layers)
    for start in range(0, len(images), batch_size):
        outputs = features(images[start:start + batch_size], training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for i, output in enumerate(outputs):
            peak = ops.convert_to_numpy(output).reshape(
                output.shape[0], -1, output.shape[-1]).max(axis=1)
            peaks[i] = peak if peaks[i] is None else np.concatenate(
                [peaks[i], peak])
    never = np.flatnonzero(peaks[0].max(axis=0) <= 0)
    measures["images"] = len(images)
    measures["never_active"] = int(never.size)
    measures["never_active_channels"] = never
    if second:
        measures["second_layer_peaks"] = peaks[1]  # (N, C2)


def _aliasing_measures(model, second, images, period, num_channels,
                       measures):
    peaks = measures.pop("second_layer_peaks")[:len(images)]
    order = np.argsort(-peaks.mean(axis=0), kind="stable")
    channels = np.sort(order[:num_channels]).astype("int64")
    measures["aliasing_period"] = period
    try:
        deconvnet = _shared_deconvnet(model)
        projected = deconvnet.project(images, second, list(channels),
                                      mode="all", verbose=0)
    except ValueError as error:
        measures["aliasing"] = None
        measures["aliasing_note"] = f"no deconvnet projection: {error}"
        return None, None
    # Whole-map projections cover the image evenly (a single activation's
    # projection covers a few phases of its small receptive field unevenly);
    # only those of active features carry signal.
    active = peaks[:, channels] > 0
    measures["aliasing"] = filter_measures.aliasing_score(
        projected[active], period) if active.any() else 0.0
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    measures["aliasing_input"] = filter_measures.aliasing_score(
        centred, period)
    best = peaks[:, channels].argmax(axis=0)
    shown = projected[best, np.arange(len(channels))]
    return shown, channels


def _shared_deconvnet(model):
    """The model's shared `Deconvnet` (its compiled passes reused)."""
    return Deconvnet.shared(model)


def _severity(ratio):
    return "high" if ratio >= 2 else "medium" if ratio >= 1.25 else "low"


def _findings(m, dead_rms, dominance_ratio, mid_share, aliasing_threshold):
    findings = []
    dead = set(m["dead_by_norm_channels"].tolist())
    dead |= set(m.get("never_active_channels", np.zeros(0, int)).tolist())
    if dead:
        fraction = len(dead) / m["filters"]
        findings.append(Finding(
            "dead_filters",
            "high" if fraction >= 0.2 else
            "medium" if fraction >= 0.05 else "low",
            float(len(dead)), 0.0, tuple(sorted(int(c) for c in dead)),
            f"{len(dead)} of {m['filters']} filters are dead ("
            f"{m['dead_by_norm']} with RMS <= {dead_rms:g} x median"
            + (f", {m['never_active']} never active on {m['images']} images"
               if m.get("never_active") is not None else "") + ")",
            "lower the learning rate or renormalize filters with FilterRMS "
            "so that none dominates and starves the others; "
            + _SMALLER_FIRST_LAYER))
    rms = m["rms"]
    if m["rms_spread"] > dominance_ratio:
        channels = np.flatnonzero(rms > dominance_ratio * m["rms_median"])
        findings.append(Finding(
            "dominant_filters", _severity(m["rms_spread"] / dominance_ratio),
            m["rms_spread"], float(dominance_ratio),
            tuple(int(c) for c in channels),
            f"{channels.size} filter(s) have an RMS above {dominance_ratio:g}"
            f" x the median ({m['rms_max']:.3g} vs {m['rms_median']:.3g})",
            "renormalize conv filters whose RMS exceeds a fixed radius: "
            "kernel_constraint=keras_zfnet.constraints.FilterRMS(0.1)"))
    if m["band_mid"] < mid_share:
        channels = np.flatnonzero(m["band_shares"][:, 1] < mid_share)
        findings.append(Finding(
            "frequency_gap", _severity(mid_share / max(m["band_mid"], 1e-9)),
            m["band_mid"], float(mid_share), tuple(int(c) for c in channels),
            f"the first-layer filters put {m['band_mid']:.1%} of their "
            f"energy in the mid frequencies (low {m['band_low']:.1%}, high "
            f"{m['band_high']:.1%}); {channels.size} filters have almost "
            "no mid-frequency content",
            _SMALLER_FIRST_LAYER))
    score = m.get("aliasing")
    if score is not None and score > aliasing_threshold:
        findings.append(Finding(
            "aliasing", _severity(score / aliasing_threshold), score,
            float(aliasing_threshold), (),
            f"second-layer projections carry a grid pattern at the "
            f"first layer's period {m['aliasing_period']} (score "
            f"{score:.3g}; input images {m['aliasing_input']:.3g})",
            "reduce the first-layer stride (and filter size): "
            + _SMALLER_FIRST_LAYER))
    return findings
