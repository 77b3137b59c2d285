"""Occlusion sensitivity: the paper's Fig. 7, batched inside one graph."""

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet.analysis._utils import incremental as incremental_lib
from keras_zfnet.analysis.occlusion_result import OcclusionResult
from keras_zfnet.deconv.model_graph import model_graph
from keras_zfnet.utils import conv_utils
from keras_zfnet.utils import progress
from keras_zfnet.utils.compiled import one_trace_per_function
from keras_zfnet.utils import validation


def occluder_grid(image_size, patch_size, stride, cover_edges=False):
    """Occluder boxes on a `(H, W)` image.

    By default window `(i, j)` covers rows `i * stride : i * stride +
    patch` (columns likewise) for every top-left corner `0, stride,
    2 * stride, ... <= size - patch`: each window lies fully inside the
    image. With `cover_edges=True` a last window aligned to the far border
    is added on an axis where the grid would leave pixels uncovered.

    Returns:
        `(Py, Px, 4)` int array of boxes `(row0, row1, col0, col1)`.
    """
    starts = []
    for size, patch, step in zip(image_size, patch_size, stride):
        axis = list(range(0, size - patch + 1, step))
        if cover_edges and axis[-1] + patch < size:
            axis.append(size - patch)
        starts.append(np.asarray(axis))
    rows, cols = np.meshgrid(starts[0], starts[1], indexing="ij")
    return np.stack(
        [rows, rows + patch_size[0], cols, cols + patch_size[1]], axis=-1
    ).astype("int32")


def _fill_values(fill, images):
    channels = images.shape[-1]
    if isinstance(fill, str):
        if fill == "mean":
            return images.mean(axis=(1, 2))
        if fill == "zero":
            return np.zeros((len(images), channels), "float32")
        raise ValueError(
            "`fill` must be 'mean', 'zero', a number or one value per "
            f"channel. Received: fill={fill!r}"
        )
    value = np.asarray(fill, dtype="float32")
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"`fill` must be finite (a NaN or infinite occluder gives "
            f"meaningless probabilities). Received: fill={fill!r}"
        )
    if value.ndim == 0:
        return np.full((len(images), channels), value, "float32")
    if value.shape != (channels,):
        raise ValueError(
            f"A per-channel `fill` needs {channels} values (the model's "
            f"input channels). Received: fill={fill!r}"
        )
    return np.tile(value, (len(images), 1))


_AUTO_BATCH_VALUES = 2_000_000


def _functions(model_view, layer, image_shape, patch, incremental):
    """The compiled `(base, occluded)` pair, kept in the model's view."""
    def build():
        plan = (incremental_lib.make_plan(model_view, image_shape, patch)
                if incremental else None)
        return _build_functions(model_view, layer, image_shape, plan)

    key = ("occlusion", layer, tuple(image_shape), tuple(patch), incremental)
    return model_view.cached(key, build)


def _build_functions(model_view, layer, image_shape, plan):
    """`(base, occluded)` compiled functions for the model and `layer`; with
    a `plan`, occluded copies are computed incrementally."""
    probabilities = model_view.output_is_probability
    model = model_view.model
    extractor = (model if layer is None
                 else model_view.feature_model([layer], include_output=True))
    height, width = image_shape[:2]

    def run(batch):
        results = extractor(batch, training=False)
        if not isinstance(results, (list, tuple)):
            results = [results]
        results = list(results)
        scores = results[0]
        if not probabilities:
            scores = ops.softmax(scores, axis=-1)
        return scores, (results[1] if layer is not None else None)

    def base(images):
        """Unoccluded scores, and each map's maximum / total activation."""
        scores, maps = run(images)
        if maps is None:
            empty = ops.zeros((ops.shape(images)[0], 0))
            return scores, empty, empty
        return (scores, ops.max(maps, axis=(1, 2)),
                ops.sum(maps, axis=(1, 2)))

    def occluded(images, fills, boxes, labels, channels):
        # Every (image, box) pair, image-major, built in the graph.
        n = ops.shape(images)[0]
        m = ops.shape(boxes)[0]
        if plan is not None:
            scores, totals = incremental_lib.occluded_forward(
                plan, images, fills, boxes, collect=layer)
            if not probabilities:
                scores = ops.softmax(scores, axis=-1)
        else:
            rows = ops.arange(height, dtype="int32")[None, :]
            cols = ops.arange(width, dtype="int32")[None, :]
            in_rows = (rows >= boxes[:, 0:1]) & (rows < boxes[:, 1:2])
            in_cols = (cols >= boxes[:, 2:3]) & (cols < boxes[:, 3:4])
            mask = in_rows[:, :, None] & in_cols[:, None, :]  # (m, H, W)
            # (n, m, H, W, C) by broadcasting, then one batch of n * m.
            batch = ops.where(mask[None, :, :, :, None],
                              fills[:, None, None, None, :],
                              images[:, None])
            scores, maps = run(ops.reshape(batch, (-1, *image_shape)))
            totals = None if maps is None else ops.sum(maps, axis=(1, 2))
        prob = ops.take_along_axis(
            scores, ops.repeat(labels, m)[:, None], axis=1)[:, 0]
        predicted = ops.cast(ops.argmax(scores, axis=-1), "int32")
        if totals is None:
            activity = ops.zeros_like(prob)
        else:
            activity = ops.take_along_axis(
                totals, ops.repeat(channels, m)[:, None], axis=1)[:, 0]
        shape = (n, m)
        return (ops.reshape(prob, shape), ops.reshape(predicted, shape),
                ops.reshape(activity, shape))

    # The weights are arguments on JAX: cached functions see current ones.
    variables = model.variables
    base = backend.compile_function(
        base, [((None, *image_shape), "float32")], variables=variables)
    occluded = backend.compile_function(
        occluded,
        [((None, *image_shape), "float32"),
         ((None, image_shape[-1]), "float32"), ((None, 4), "int32"),
         ((None,), "int32"), ((None,), "int32")],
        variables=variables)
    return one_trace_per_function(base), one_trace_per_function(occluded)


def occlusion_sensitivity(model, images, patch_size, stride, fill="mean",
                          labels=None, layer=None, batch_size="auto",
                          cover_edges=False, incremental="auto",
                          verbose="auto"):
    """Slides a grey square over images and records the model's response.

    For each image and each occluder position (paper Sec. 4.2, Fig. 7):
    the probability of the true class (`labels`) or, without labels, of the
    unoccluded image's top class; the most probable label; and, with
    `layer`, the total activation of the layer's strongest feature map on
    the unoccluded image. Occluded copies are generated inside the compiled
    graph batch by batch (images and positions batched together), never
    materialised all at once, so memory does not grow with the number of
    positions.

    `fill` is a value *in the model's input space*: for a model that takes
    [0, 1] inputs a grey of 127.5 is far outside its range (a common bug
    elsewhere); `"mean"` (the default, each image's mean colour) is always in
    range. For `MiniZFNet` presets, which take raw 0..255 pixels, a grey is
    127.5.

    Args:
        model: a Keras classifier (softmax output; logits are passed through
            a softmax).
        images: `(N, H, W, C)` inputs as the model expects them.
        patch_size: int or `(rows, cols)` side of the occluder.
        stride: int or `(rows, cols)` step between occluder positions
            (independent of `patch_size`: overlapping occluders allowed).
        fill: `"mean"`, `"zero"`, a number, or one number per channel.
        labels: optional `(N,)` true classes to score.
        layer: optional layer with spatial maps for `.activity`.
        batch_size: occluded images per forward pass; `"auto"` (default)
            holds about 2 million input values per pass (1,024 copies of a
            28x28 image, 32 of a 224x224x3 one): small networks run far
            faster on large batches.
        cover_edges: add a last occluder aligned to the far border where
            the grid leaves pixels uncovered.
        incremental: `"auto"` recomputes, for chain models, only the part
            of each early feature map the occluder changes (same result,
            far less work for small occluders on large images; see
            `keras_zfnet.analysis._utils.incremental`); `False` runs every
            occluded copy through the whole model.
        verbose: `"auto"`, 0 or 1 (progress bar).

    Returns:
        An `OcclusionResult` (`.probability`, `.predicted`, `.activity`,
        `.strongest_channel`, `.positions`, ...; `.plot(images, i)`).

    Example:

    >>> result = occlusion_sensitivity(model, x[:4], patch_size=8, stride=2,
    ...                                fill=127.5, labels=y[:4],
    ...                                layer="conv5")
    >>> result.probability.shape
    (4, 11, 11)
    """
    model_view = model_graph(model)
    images = validation.as_images(images, model_view.input_shape)
    image_shape = tuple(images.shape[1:])
    height, width = images.shape[1:3]
    output_shape = tuple(model_view.model.outputs[0].shape)
    if len(output_shape) != 2 or (output_shape[1] or 0) < 2:
        raise ValueError(
            "occlusion_sensitivity needs a classifier: a model whose output "
            "is (N, classes) class scores (probabilities or logits) with at "
            f"least 2 classes. Received: model '{model.name}' with output "
            f"shape {output_shape}"
        )
    patch = conv_utils.standardize_pair(patch_size, "patch_size", minimum=1)
    step = conv_utils.standardize_pair(stride, "stride", minimum=1)
    if patch[0] > height or patch[1] > width:
        raise ValueError(
            f"`patch_size` {patch} does not fit in {height}x{width} images. "
            f"Received: patch_size={patch_size}"
        )
    batch_size = validation.check_batch_size(batch_size, allow_auto=True)
    if batch_size == "auto":
        batch_size = int(np.clip(_AUTO_BATCH_VALUES // np.prod(image_shape),
                                 32, 1024))
    fills = _fill_values(fill, images)
    layer = _check_layer(model_view, layer)
    if incremental not in ("auto", False):
        raise ValueError(
            "`incremental` must be 'auto' or False. "
            f"Received: incremental={incremental!r}"
        )
    base_function, function = _functions(model_view, layer, image_shape, patch,
                                         incremental == "auto")
    scores, map_peaks, map_totals = _unoccluded(base_function, images,
                                                batch_size)
    base_predicted = scores.argmax(axis=-1).astype("int32")
    labels_given = labels is not None
    labels = (base_predicted if labels is None else
              _check_labels(labels, len(images), scores.shape[-1]))
    strongest = base_activity = None
    if layer is not None:
        strongest = map_peaks.argmax(axis=-1).astype("int32")
        base_activity = map_totals[np.arange(len(images)), strongest]
    boxes = occluder_grid((height, width), patch, step, cover_edges)
    grid_shape = boxes.shape[:2]
    flat_boxes = boxes.reshape(-1, 4)
    probability, predicted, activity = _run(
        function, images, fills, flat_boxes, labels,
        strongest if strongest is not None else np.zeros(len(images), "int32"),
        batch_size, verbose,
    )
    shape = (len(images), *grid_shape)
    return OcclusionResult(
        probability=probability.reshape(shape),
        predicted=predicted.reshape(shape),
        activity=activity.reshape(shape) if layer is not None else None,
        strongest_channel=strongest,
        positions=boxes,
        labels=labels,
        base_probability=scores[np.arange(len(images)), labels].astype(
            "float32"),
        base_predicted=base_predicted,
        base_activity=base_activity,
        labels_given=labels_given,
        layer=layer,
    )


def _check_layer(model_view, layer):
    """The resolved name of the activity `layer` (spatial maps), or None."""
    if layer is None:
        return None
    layer = model_view.resolve(layer)
    shape = (None, *model_view.output_shape(layer))
    if len(shape) != 4:
        raise ValueError(
            f"`layer` '{layer}' has output shape {tuple(shape)}; "
            "activity needs spatial feature maps (N, h, w, C)."
        )
    return layer


def _check_labels(labels, count, classes):
    """`labels` as `(count,)` int32 classes in `[0, classes)`."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != count:
        raise ValueError(
            f"`labels` must hold one label per image ({count}). "
            f"Received: {len(labels)} labels"
        )
    if not np.issubdtype(labels.dtype, np.integer) or (
            labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"`labels` must be integers in [0, {classes - 1}]. "
            f"Received: labels={labels}"
        )
    return labels.astype("int32")


def _unoccluded(base_function, images, batch_size):
    """Scores, per-channel map peaks and totals of the unoccluded images."""
    parts = [
        [ops.convert_to_numpy(t) for t in base_function(
            ops.convert_to_tensor(images[i:i + batch_size]))]
        for i in range(0, len(images), batch_size)
    ]
    return tuple(np.concatenate(p) for p in zip(*parts))


def _run(function, images, fills, boxes, labels, channels, batch_size,
         verbose):
    """Loops over (image chunk, box chunk) pairs of <= batch_size items."""
    n, m = len(images), len(boxes)
    per_image = min(m, batch_size)
    images_per_pass = max(1, batch_size // per_image)
    probability = np.zeros((n, m), "float32")
    predicted = np.zeros((n, m), "int32")
    activity = np.zeros((n, m), "float32")
    steps = -(-n // images_per_pass) * -(-m // per_image)
    bar = progress.bar(steps, verbose)
    for i0 in range(0, n, images_per_pass):
        i1 = min(n, i0 + images_per_pass)
        chunk = [ops.convert_to_tensor(a[i0:i1])
                 for a in (images, fills, labels, channels)]
        for j0 in range(0, m, per_image):
            j1 = min(m, j0 + per_image)
            p, q, a = function(chunk[0], chunk[1],
                               ops.convert_to_tensor(boxes[j0:j1]),
                               chunk[2], chunk[3])
            probability[i0:i1, j0:j1] = ops.convert_to_numpy(p)
            predicted[i0:i1, j0:j1] = ops.convert_to_numpy(q)
            activity[i0:i1, j0:j1] = ops.convert_to_numpy(a)
            bar.add(1)
    return probability, predicted, activity
