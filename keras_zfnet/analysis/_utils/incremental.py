"""Occluded forward passes that recompute only what the occluder changes.

An occluder changes a small window of the input. Through a convolution or a
pooling layer the changed window grows by the kernel and shrinks by the
stride, so in the first layers it stays a small part of each map. For every
occluded copy this module computes the first layers on that window only
(from the clean image's maps, computed once, with the changed window written
over them) and the remaining layers, once the window covers much of the
map, as usual on the spliced full maps. The result equals the plain forward
pass of the occluded image (up to float summation order).

Window arithmetic uses the deconvnet engine's one geometry (each node's
rule, `keras_zfnet.deconv.rules`):
output position `i` of a stage sees inputs `[i * s - p, i * s - p + k)`, so a
changed input window `[a, a + d)` changes outputs `[ceil((a - k + 1 + p) /
s), floor((a + d - 1 + p) / s)]`, at most `(d + k - 2) // s + 1` of them.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_zfnet.deconv import engine
from keras_zfnet.deconv import graph as graph_lib
from keras_zfnet.deconv import windows as windows_lib
from keras_zfnet.deconv.rules import activations
from keras_zfnet.deconv.rules import convolutions
from keras_zfnet.deconv.rules import fallback
from keras_zfnet.deconv.rules import pooling
from keras_zfnet.deconv.rules import structure
from keras_zfnet.deconv.rules.base import call_layer
from keras_zfnet.ops import window_positions

_POINTWISE_RULES = (activations.ActivationRule, structure.IdentityRule,
                    fallback.VJPRule, convolutions.ConvolutionRule)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which nodes run on windows, and their window sizes.

    Attributes:
        graph: the model's deconvnet `Graph`.
        stages: the leading chain of nodes computed on windows.
        kinds: per stage `"conv"`, `"pool"`, `"pad"` or `"pointwise"`.
        stop: index of the last stage computed on windows.
        windows: per stage `0..stop`, the `(rows, cols)` of its output
            window.
        patch: the occluder's `(rows, cols)`.
    """

    graph: object
    stages: list
    kinds: list
    stop: int
    windows: list
    patch: tuple


def _kind(node):
    rule = node.rule
    if isinstance(rule, pooling.MaxPoolRule):
        return "pool"
    if isinstance(rule, structure.PaddingRule):
        return "pad"
    if isinstance(rule, convolutions.ConvolutionRule) and not rule.dense:
        return "conv"
    if isinstance(rule, _POINTWISE_RULES) and rule.geometry == (
            (1, 1, 0), (1, 1, 0)):
        return "pointwise"
    return None


def make_plan(model_view, image_shape, patch, max_fraction=0.5):
    """A `Plan` for occluders of size `patch`, or `None` when windows do not
    pay off (no layer gets cheaper).

    Args:
        model_view: the model's `ModelGraph` (`model_graph(model)`).
        image_shape: the concrete per-image input shape.
        patch: the occluder's `(rows, cols)`.
        max_fraction: stop windowing once a window covers more than this
            fraction of a map.
    """
    shape = tuple(image_shape)
    try:
        graph = model_view.cached(("deconv_graph", shape),
                                  lambda: graph_lib.parse(model_view, shape))
    except ValueError:
        return None
    if graph.blockers:
        return None
    rows, cols = patch
    stages, kinds, windows = [], [], []
    for node in windows_lib.chain_prefix(graph):
        kind = _kind(node)
        if kind is None or node.id == graph.output:
            break
        (kr, sr, _), (kc, sc, _) = node.geometry
        rows, cols = (rows + kr - 2) // sr + 1, (cols + kc - 2) // sc + 1
        height, width = node.output_shape[:2]
        if rows * cols > max_fraction * height * width:
            break
        stages.append(node)
        kinds.append(kind)
        windows.append((rows, cols))
    if "conv" not in kinds:
        return None
    return Plan(graph, stages, kinds, len(windows) - 1, windows,
                tuple(patch))


def _write_patch(window, row_starts, col_starts, patch, patch_rows,
                 patch_cols, frame):
    """Writes `patch` (at absolute offsets `patch_rows/cols`) into `window`
    (at absolute offsets `row_starts/cols`), inside the frame only."""
    rows, cols = window.shape[1], window.shape[2]
    d_rows, d_cols = patch.shape[1], patch.shape[2]
    src_r = window_positions(row_starts - patch_rows, rows)
    src_c = window_positions(col_starts - patch_cols, cols)
    abs_r = window_positions(row_starts, rows)
    abs_c = window_positions(col_starts, cols)
    valid_r = (src_r >= 0) & (src_r < d_rows) & (abs_r >= 0) & (
        abs_r < frame[0])
    valid_c = (src_c >= 0) & (src_c < d_cols) & (abs_c >= 0) & (
        abs_c < frame[1])
    # One gather of flat indices `item * d_rows * d_cols + row * d_cols +
    # col` (positions outside the patch clipped onto it, then masked).
    items = ops.arange(ops.shape(patch)[0], dtype="int32")
    index = (items[:, None, None] * (d_rows * d_cols)
             + ops.clip(src_r, 0, d_rows - 1)[:, :, None] * d_cols
             + ops.clip(src_c, 0, d_cols - 1)[:, None, :])
    shifted = ops.take(ops.reshape(patch, (-1, patch.shape[3])),
                       ops.reshape(index, (-1,)), axis=0)
    shifted = ops.reshape(shifted, (-1, rows, cols, patch.shape[3]))
    valid = valid_r[:, :, None] & valid_c[:, None, :]
    return ops.where(valid[..., None], shifted, window)


def _ceil_div(a, b):
    return -((-a) // b)


def _stage_on_window(stage, kind, clean_input, item_images, patch, starts):
    """Runs one stage on the changed window: `(patch, starts)` of its input
    to those of its output."""
    (kr, sr, pr), (kc, sc, pc) = stage.geometry
    row_in, col_in = starts
    if kind in ("pointwise", "pad"):
        if kind == "pointwise":
            patch = call_layer(stage.layer, [patch])
        if kind == "pad":
            # Window positions outside the input frame land on the padding
            # border: they hold zeros, not what the window carried there.
            height, width = stage.input_shapes[0][:2]
            r = window_positions(row_in, patch.shape[1])
            c = window_positions(col_in, patch.shape[2])
            inside = (((r >= 0) & (r < height))[:, :, None]
                      & ((c >= 0) & (c < width))[:, None, :])
            patch = ops.where(inside[..., None], patch,
                              ops.zeros((), patch.dtype))
        # Output position i of these stages shows input position i - p.
        return patch, (row_in + pr, col_in + pc)
    d_rows = (patch.shape[1] + kr - 2) // sr + 1
    d_cols = (patch.shape[2] + kc - 2) // sc + 1
    row_out = _ceil_div(row_in - kr + 1 + pr, sr)
    col_out = _ceil_div(col_in - kc + 1 + pc, sc)
    row_win, col_win = row_out * sr - pr, col_out * sc - pc
    rows, cols = (d_rows - 1) * sr + kr, (d_cols - 1) * sc + kc
    pad_value = 0.0
    if kind == "pool":
        pad_value = float(np.finfo(
            keras.backend.standardize_dtype(clean_input.dtype)).min)
    window = engine.gather_windows(clean_input, item_images, row_win,
                                   col_win, rows, cols, pad_value)
    window = _write_patch(window, row_win, col_win, patch, row_in, col_in,
                          stage.input_shapes[0][:2])
    layer = stage.layer
    if kind == "pool":
        out = ops.max_pool(window, layer.pool_size, layer.strides, "valid")
    else:
        out = stage.rule.linear(window, "valid")
        if layer.use_bias:
            out = out + layer.bias
        out = layer.activation(out)
    return out, (row_out, col_out)


def occluded_forward(plan, images, fills, boxes, collect=None):
    """Model outputs for every (image, box) pair, image-major.

    Args:
        plan: a `Plan` for the boxes' size.
        images: `(n, H, W, C)` clean images.
        fills: `(n, C)` occluder colours.
        boxes: `(m, 4)` int32 boxes `(row0, row1, col0, col1)`, all of the
            plan's patch size.
        collect: optional layer name whose per-item *total activation per
            channel* `(n * m, C)` to return too.

    Returns:
        `(outputs, totals)`: the model's outputs for the `n * m` occluded
        images, and the collected totals (or `None`).
    """
    n = ops.shape(images)[0]
    m = ops.shape(boxes)[0]
    item_images = ops.repeat(ops.arange(n, dtype="int32"), m)
    item_boxes = ops.tile(boxes, [n, 1])
    clean = [images]
    x = images
    for stage in plan.stages[: plan.stop + 1]:
        x = call_layer(stage.layer, [x])
        clean.append(x)
    patch_rows, patch_cols = plan.patch
    patch = (ops.take(fills, item_images, axis=0)[:, None, None, :]
             + ops.zeros((patch_rows, patch_cols, images.shape[-1]),
                         images.dtype))
    starts = (item_boxes[:, 0], item_boxes[:, 2])
    totals = None
    for index, stage in enumerate(plan.stages[: plan.stop + 1]):
        patch, starts = _stage_on_window(stage, plan.kinds[index],
                                         clean[index], item_images, patch,
                                         starts)
        if collect == stage.name:
            totals = _window_totals(clean[index + 1], item_images, patch,
                                    starts)
    full = ops.take(clean[plan.stop + 1], item_images, axis=0)
    height, width = full.shape[1], full.shape[2]
    zeros = ops.zeros_like(starts[0])
    x = _write_patch(full, zeros, zeros, patch, starts[0], starts[1],
                     (height, width))
    values = {plan.stages[plan.stop].id: x}
    for node in plan.graph.nodes[plan.stages[plan.stop].id + 1:]:
        if node.rule is None:
            continue
        values[node.id] = call_layer(node.layer,
                                     [values[i] for i in node.inputs])
        if collect == node.name:
            totals = ops.sum(values[node.id], axis=(1, 2))
    return values[plan.graph.output], totals


def _window_totals(clean_output, item_images, patch, starts):
    """Per-channel totals of the spliced map, from the clean totals plus the
    change inside the (in-frame part of the) window."""
    rows, cols = patch.shape[1], patch.shape[2]
    height, width = clean_output.shape[1], clean_output.shape[2]
    clean_window = engine.gather_windows(clean_output, item_images,
                                         starts[0], starts[1], rows, cols,
                                         0.0)
    inside = (((window_positions(starts[0], rows) >= 0)
               & (window_positions(starts[0], rows) < height))[:, :, None]
              & ((window_positions(starts[1], cols) >= 0)
                 & (window_positions(starts[1], cols) < width))[:, None, :])
    change = ops.where(inside[..., None], patch - clean_window,
                       ops.zeros((), patch.dtype))
    clean_totals = ops.take(ops.sum(clean_output, axis=(1, 2)), item_images,
                            axis=0)
    return clean_totals + ops.sum(change, axis=(1, 2))
