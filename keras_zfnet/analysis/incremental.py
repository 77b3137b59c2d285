"""Occluded forward passes that recompute only what the occluder changes.

An occluder changes a small window of the input. Through a convolution or a
pooling layer the changed window grows by the kernel and shrinks by the
stride, so in the first layers it stays a small part of each map. For every
occluded copy this module computes the first layers on that window only
(from the clean image's maps, computed once, with the changed window written
over them) and the remaining layers, once the window covers much of the
map, as usual on the spliced full maps. The result equals the plain forward
pass of the occluded image (up to float summation order).

Window arithmetic uses the deconvnet's stage geometry (`deconv.graph`):
output position `i` of a stage sees inputs `[i * s - p, i * s - p + k)`, so a
changed input window `[a, a + d)` changes outputs `[ceil((a - k + 1 + p) /
s), floor((a + d - 1 + p) / s)]`, at most `(d + k - 2) // s + 1` of them.
"""

import dataclasses

import tensorflow as tf
from keras import ops

from keras_zfnet.deconv import windowed
from keras_zfnet.ops import window_positions


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which stages run on windows, and their window sizes.

    Attributes:
        layers: the model's chain layers, in order.
        stages: their parsed `Stage`s (up to any unsupported head).
        stop: index of the last stage computed on windows.
        windows: per stage `0..stop`, the `(rows, cols)` of its output
            window.
        patch: the occluder's `(rows, cols)`.
    """

    layers: list
    stages: list
    stop: int
    windows: list
    patch: tuple


def make_plan(model_view, image_shape, patch, max_fraction=0.5):
    """A `Plan` for occluders of size `patch`, or `None` when windows do not
    pay off (no layer gets cheaper) or the model is not a chain.

    Args:
        model_view: the model's `ModelGraph` (`model_graph(model)`).
        image_shape: the concrete per-image input shape.
        patch: the occluder's `(rows, cols)`.
        max_fraction: stop windowing once a window covers more than this
            fraction of a map.
    """
    try:
        layers = model_view.chain()
        stages, _ = model_view.stages(image_shape)
    except ValueError:
        return None
    rows, cols = patch
    windows = []
    for stage in stages:
        if not stage.spatial:
            break
        (kr, sr, _), (kc, sc, _) = stage.geometry
        rows, cols = (rows + kr - 2) // sr + 1, (cols + kc - 2) // sc + 1
        height, width = stage.output_shape[:2]
        if rows * cols > max_fraction * height * width:
            break
        windows.append((rows, cols))
    convs = [s for s in stages[: len(windows)] if s.kind == "conv"]
    if not convs:
        return None
    return Plan(layers, stages, len(windows) - 1, windows, tuple(patch))




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
    shifted = tf.gather(patch, tf.clip_by_value(src_r, 0, d_rows - 1),
                        axis=1, batch_dims=1)
    shifted = tf.gather(shifted, tf.clip_by_value(src_c, 0, d_cols - 1),
                        axis=2, batch_dims=1)
    valid = valid_r[:, :, None] & valid_c[:, None, :]
    return tf.where(valid[..., None], shifted, window)


def _ceil_div(a, b):
    return -((-a) // b)


def _stage_on_window(stage, clean_input, item_images, patch, starts):
    """Runs one stage on the changed window: `(patch, starts)` of its input
    to those of its output."""
    (kr, sr, pr), (kc, sc, pc) = stage.geometry
    row_in, col_in = starts
    if stage.kind in ("pointwise", "pad", "crop"):
        if stage.kind == "pointwise":
            patch = stage.layer(patch, training=False)
        if stage.kind == "pad":
            # Window positions outside the input frame land on the padding
            # border: they hold zeros, not what the window carried there.
            height, width = stage.input_shape[:2]
            r = window_positions(row_in, patch.shape[1])
            c = window_positions(col_in, patch.shape[2])
            inside = (((r >= 0) & (r < height))[:, :, None]
                      & ((c >= 0) & (c < width))[:, None, :])
            patch = tf.where(inside[..., None], patch, 0.0)
        # Output position i of these stages shows input position i - p.
        return patch, (row_in + pr, col_in + pc)
    d_rows = (patch.shape[1] + kr - 2) // sr + 1
    d_cols = (patch.shape[2] + kc - 2) // sc + 1
    row_out = _ceil_div(row_in - kr + 1 + pr, sr)
    col_out = _ceil_div(col_in - kc + 1 + pc, sc)
    row_win, col_win = row_out * sr - pr, col_out * sc - pc
    rows, cols = (d_rows - 1) * sr + kr, (d_cols - 1) * sc + kc
    pad_value = clean_input.dtype.min if stage.kind == "pool" else 0.0
    window = windowed.gather_windows(clean_input, item_images, row_win, col_win, rows,
                            cols, pad_value)
    window = _write_patch(window, row_win, col_win, patch, row_in, col_in,
                          stage.input_shape[:2])
    layer = stage.layer
    if stage.kind == "pool":
        out = ops.max_pool(window, layer.pool_size, layer.strides, "valid")
    else:
        out = ops.conv(window, layer.kernel, layer.strides, "valid")
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
    n = tf.shape(images)[0]
    m = tf.shape(boxes)[0]
    item_images = tf.repeat(tf.range(n), m)
    item_boxes = tf.tile(boxes, (n, 1))
    clean = [images]
    x = images
    for stage in plan.stages[: plan.stop + 1]:
        x = stage.layer(x, training=False)
        clean.append(x)
    patch_rows, patch_cols = plan.patch
    patch = tf.broadcast_to(
        tf.repeat(fills, m, axis=0)[:, None, None, :],
        (n * m, patch_rows, patch_cols, images.shape[-1]),
    )
    starts = (item_boxes[:, 0], item_boxes[:, 2])
    totals = None
    for index, stage in enumerate(plan.stages[: plan.stop + 1]):
        patch, starts = _stage_on_window(stage, clean[index], item_images,
                                         patch, starts)
        if collect == stage.name:
            totals = _window_totals(clean[index + 1], item_images, patch,
                                    starts)
    full = tf.gather(clean[plan.stop + 1], item_images)
    height, width = full.shape[1], full.shape[2]
    zeros = tf.zeros_like(starts[0])
    x = _write_patch(full, zeros, zeros, patch, starts[0], starts[1],
                     (height, width))
    for layer in plan.layers[plan.stop + 1:]:
        x = layer(x, training=False)
        if collect == layer.name:
            totals = tf.reduce_sum(x, axis=(1, 2))
    return x, totals


def _window_totals(clean_output, item_images, patch, starts):
    """Per-channel totals of the spliced map, from the clean totals plus the
    change inside the (in-frame part of the) window."""
    rows, cols = patch.shape[1], patch.shape[2]
    height, width = clean_output.shape[1], clean_output.shape[2]
    clean_window = windowed.gather_windows(clean_output, item_images, starts[0],
                                  starts[1], rows, cols, 0.0)
    inside = (((window_positions(starts[0], rows) >= 0)
               & (window_positions(starts[0], rows) < height))[:, :, None]
              & ((window_positions(starts[1], cols) >= 0)
                 & (window_positions(starts[1], cols) < width))[:, None, :])
    change = tf.where(inside[..., None], patch - clean_window, 0.0)
    clean_totals = tf.gather(tf.reduce_sum(clean_output, axis=(1, 2)),
                             item_images)
    return clean_totals + tf.reduce_sum(change, axis=(1, 2))
