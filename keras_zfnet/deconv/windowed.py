"""The mirror evaluated on receptive-field windows (exact, cheaper).

A single seed activation at layer L reaches only its receptive field in
every lower layer. For `mode="max"` projections of spatial layers the mirror
therefore runs on a fixed-size window per layer (the seed's receptive field
at that layer), placed at a per-item offset, instead of on whole maps. The
window arithmetic is the stage geometry: a window `[a, a + w)` at a stage's
output is `[a * stride - pad, a * stride - pad + (w - 1) * stride + size)` at
its input. Positions of a window that fall outside the input frame (the
forward pass's zero padding) are zeroed, which is exactly the cropping the
full mirror does, so results equal the full mirror's.
"""

import dataclasses

import tensorflow as tf
from keras_zfnet.deconv import mirror_layers
from keras_zfnet.deconv.transposed import conv_transpose_valid
from keras_zfnet.ops import unpool
from keras_zfnet.ops import unpool_with_kernel
from keras_zfnet.ops import window_positions


@dataclasses.dataclass(frozen=True)
class WindowPlan:
    """Static window sizes of a seed layer's projection.

    Attributes:
        sizes: per stage (seed layer first, then downwards) the window
            `(rows, cols)` at the stage's *input*.
        windowed_cost: multiply-adds of the windowed mirror, per item.
        full_cost: multiply-adds of the full mirror, per item.
    """

    sizes: tuple
    windowed_cost: int
    full_cost: int


def plan(stages, seed_index):
    """Window sizes and costs for seeds at `stages[seed_index]`, or `None`
    when a stage below the seed is not spatial."""
    below = stages[: seed_index + 1]
    if not all(stage.spatial for stage in below):
        return None
    rows = cols = 1
    sizes = []
    windowed = full = 0
    for stage in reversed(below):
        (kr, sr, _), (kc, sc, _) = stage.geometry
        out_rows, out_cols, channels = stage.output_shape
        in_channels = stage.input_shape[-1]
        if stage.kind == "conv":
            per_position = kr * kc * in_channels * channels
            windowed += rows * cols * per_position
            full += out_rows * out_cols * per_position
        else:
            windowed += rows * cols * channels
            full += out_rows * out_cols * channels
        rows = (rows - 1) * sr + kr
        cols = (cols - 1) * sc + kc
        sizes.append((rows, cols))
    return WindowPlan(tuple(sizes), windowed, full)


def mirror_cost(stages, seed_index):
    """Multiply-adds of the full mirror for one projection from
    `stages[seed_index]` (convolutions and dense layers)."""
    cost = 0
    for stage in stages[: seed_index + 1]:
        if stage.kind == "conv":
            (kr, _, _), (kc, _, _) = stage.geometry
            out_rows, out_cols, filters = stage.output_shape
            cost += out_rows * out_cols * kr * kc * stage.input_shape[-1] * (
                filters)
        elif stage.kind == "dense":
            cost += stage.input_shape[-1] * stage.output_shape[-1]
    return cost


def _frame_mask(starts, size, limit):
    """(batch, size) float mask of window positions inside [0, limit)."""
    positions = starts[:, None] + tf.range(size)[None, :]
    return tf.cast((positions >= 0) & (positions < limit), "float32")


def _window_indices(starts, size, limit):
    """(batch, size) window positions clipped into [0, limit)."""
    return tf.clip_by_value(window_positions(starts, size), 0, limit - 1)


def gather_windows(maps, item_images, row_starts, col_starts, rows, cols,
                   pad_value=None):
    """Per-item windows of per-image maps: `(batch, rows, cols, C)`.

    Window positions outside the maps read the nearest border value, or
    `pad_value` when one is given.
    """
    height, width = maps.shape[1], maps.shape[2]
    r = _window_indices(row_starts, rows, height)
    c = _window_indices(col_starts, cols, width)
    batch = tf.shape(r)[0]
    index = tf.stack(
        [
            tf.broadcast_to(item_images[:, None, None], (batch, rows, cols)),
            tf.broadcast_to(r[:, :, None], (batch, rows, cols)),
            tf.broadcast_to(c[:, None, :], (batch, rows, cols)),
        ],
        axis=-1,
    )
    windows = tf.gather_nd(maps, index)
    if pad_value is None:
        return windows
    inside = (_frame_mask(row_starts, rows, height)[:, :, None]
              * _frame_mask(col_starts, cols, width)[:, None, :]) > 0
    return tf.where(inside[..., None], windows,
                    tf.cast(pad_value, windows.dtype))


def _local_switches(switches, stage, row_starts, col_starts, rows, cols):
    """Converts per-image flat switches into flat indices of the window."""
    width, channels = stage.input_shape[1], stage.input_shape[2]
    switches = tf.cast(switches, "int32")
    channel = switches % channels
    col = (switches // channels) % width
    row = switches // (channels * width)
    local_row = tf.clip_by_value(row - row_starts[:, None, None, None], 0,
                                 rows - 1)
    local_col = tf.clip_by_value(col - col_starts[:, None, None, None], 0,
                                 cols - 1)
    return (local_row * cols + local_col) * channels + channel


def project(stages, seed_index, window_plan, positions, values, channels,
            item_images, switches, xla_compatible=True):
    """Projects one seed activation per item to pixel space, windowed.

    Args:
        stages: the chain's `Stage`s.
        seed_index: index of the seed layer's stage.
        window_plan: `plan(stages, seed_index)`.
        positions: int32 `(batch, 2)` seed positions in the seed layer.
        values: float `(batch,)` seed values.
        channels: int32 `(batch,)` seed channels.
        item_images: int32 `(batch,)` index of each item's image in
            `switches`.
        switches: dict stage index -> per-image switches `(N, h, w, C)`.
        xla_compatible: unpool with `keras.ops.segment_sum` (XLA can
            compile it) rather than TensorFlow's faster max-pool gradient
            kernel.

    Returns:
        `(batch, H, W, C)` projections in the model's input space.
    """
    top = stages[seed_index]
    x = tf.one_hot(channels, top.output_shape[-1]) * values[:, None]
    x = x[:, None, None, :]
    row_starts, col_starts = positions[:, 0], positions[:, 1]
    rows = cols = 1
    below = range(seed_index, -1, -1)
    for index, (new_rows, new_cols) in zip(below, window_plan.sizes):
        stage = stages[index]
        (_, sr, pr), (_, sc, pc) = stage.geometry
        in_rows, in_cols = stage.input_shape[0], stage.input_shape[1]
        new_row_starts = row_starts * sr - pr
        new_col_starts = col_starts * sc - pc
        if stage.relu:
            x = tf.nn.relu(x)
        if stage.kind == "pool":
            local = _local_switches(
                gather_windows(switches[index], item_images,
                                row_starts, col_starts, rows, cols),
                stage, new_row_starts, new_col_starts, new_rows, new_cols,
            )
            if xla_compatible:
                x = unpool(x, local, (new_rows, new_cols))
            else:  # the window is the pooling's "valid" input
                x = unpool_with_kernel(x, local, (new_rows, new_cols),
                                        stage.layer.pool_size,
                                        stage.layer.strides, "valid")
        elif stage.kind == "conv":
            x = conv_transpose_valid(x, stage.layer.kernel,
                                     stage.layer.strides)
        elif stage.kind == "pointwise":
            scale = mirror_layers.linear_scale(stage.layer)
            if scale is not None:
                x = x * tf.cast(scale, x.dtype)
        if stage.kind in ("conv", "pad"):
            mask_r = _frame_mask(new_row_starts, new_rows, in_rows)
            mask_c = _frame_mask(new_col_starts, new_cols, in_cols)
            x = x * (mask_r[:, :, None, None] * mask_c[:, None, :, None])
        row_starts, col_starts = new_row_starts, new_col_starts
        rows, cols = new_rows, new_cols
    return _paste(x, row_starts, col_starts, stages[0].input_shape)


def _paste(windows, row_starts, col_starts, frame_shape):
    """Adds each item's window into a zero frame at its offset."""
    height, width, channels = frame_shape
    batch = tf.shape(windows)[0]
    rows, cols = windows.shape[1], windows.shape[2]
    r = _window_indices(row_starts, rows, height)
    c = _window_indices(col_starts, cols, width)
    index = tf.stack(
        [
            tf.broadcast_to(tf.range(batch)[:, None, None], (batch, rows, cols)),
            tf.broadcast_to(r[:, :, None], (batch, rows, cols)),
            tf.broadcast_to(c[:, None, :], (batch, rows, cols)),
        ],
        axis=-1,
    )
    # Positions outside the frame hold zeros (masked), so clipping their
    # indices onto the border adds nothing.
    return tf.scatter_nd(index, windows, (batch, height, width, channels))
