"""The deconvnet's one engine: a recording forward pass and the backward
that walks the graph in reverse from the seed, node by node through the
rule table (`keras_zfnet.deconv.rules`), on whole maps or on receptive-field
windows (`keras_zfnet.deconv.windows`). Written on `keras.ops`.

A node used by several layers receives the sum of their signals. Every
spatial node works on a *window* of its map: a static size and a per-item
start `position * jump + offset`; positions of a window outside its map are
zeroed (the forward's zero padding), so windowed and whole-map passes agree.
A node whose window would cover its map, and every node below it, runs on
whole maps (`Windows.whole`); a windowed consumer pastes its input-side
part into such an input at each item's offset.
"""

import numpy as np
from keras import ops

from keras_zfnet import backend
from keras_zfnet import ops as zf_ops
from keras_zfnet.deconv.rules import Context


def record_specs(graph, seed_id, variant):
    """`(key, node id, per-image shape, dtype)` of each forward value the
    backward from `seed_id` reads, seed first (the mirror's input order)."""
    specs = []
    for i in reversed(graph.ancestors(seed_id)[1:]):
        rule = graph.nodes[i].rule
        for name in rule.record_keys(variant):
            shape, dtype = rule.record_shapes(name)
            specs.append((f"{i}:{name}", i, shape, dtype))
    return specs


def forward(graph, images, seed_id, variant="deconvnet", portable=False,
            shared=False):
    """Runs the seed's ancestors on `images` (the model's own layers,
    called on tensors), recording what the backward needs (`shared`: for
    several projections of each image, see `Rule.forward`).

    Returns:
        `(activations, records)`: the seed's output and a dict from record
        key (see `record_specs`) to per-image tensors.
    """
    values = {0: images}
    records = {}
    for i in graph.ancestors(seed_id)[1:]:
        node = graph.nodes[i]
        own = {}
        values[i] = node.rule.forward([values[j] for j in node.inputs], own,
                                      variant, portable, shared)
        for name, value in own.items():
            records[f"{i}:{name}"] = value
    return values[seed_id], records


def backward(graph, seed_id, signal, windows, record, positions=None,
             variant="deconvnet", portable=False, paste_input_window=True):
    """Passes `signal` (at the seed's window) down to pixel space.

    Args:
        graph: the model's `Graph`.
        seed_id: the seed node.
        signal: `(batch, *seed window shape)` top-down signal.
        windows: `Windows` (`windows.full_windows` / `receptive_windows`).
        record: `record(key, node_id)` -> the per-item forward value at the
            node's window.
        positions: int32 `(batch, 2)` seed positions (windowed only).
        variant: the ReLU rule.
        portable: `keras.ops` forms only (under XLA).
        paste_input_window: with `False`, a windowed pass returns each
            item's window of the input (zero outside the image) instead of
            pasting it into a whole image (`input_starts` gives where it
            goes; the caller pastes it, e.g. on the host).

    Returns:
        `(batch, *input_shape)` projections, or `(batch, *input window)`
        windows (`paste_input_window=False` in a windowed pass).
    """
    def starts(i):
        if not windows.windowed_at(i):
            return None
        return tuple(positions[:, a] * windows.jumps[i][a]
                     + windows.offsets[i][a] for a in range(2))

    # Each pending part carries whether it is already zero outside its
    # map (then the mask, a pass over the window, is skipped).
    pending = {seed_id: [(signal, True)]}
    for i in reversed(graph.ancestors(seed_id)):
        parts = pending.pop(i, None)
        if not parts:
            continue
        node = graph.nodes[i]
        dy = parts[0][0]
        for part, _ in parts[1:]:
            dy = dy + part
        if windows.windowed_at(i) and not all(inside for _, inside in parts):
            dy = _mask(dy, starts(i), node.output_shape)
        if node.layer is None:
            if windows.windowed_at(i) and paste_input_window:
                return paste(dy, *starts(i), node.output_shape)
            return dy
        ctx = Context(variant, portable, starts(i),
                      lambda key, i=i: record(f"{i}:{key}", i))
        for m, contribution in zip(node.inputs, node.rule.backward(dy, ctx)):
            if contribution is None:
                continue
            inside = node.rule.keeps_inside
            if node.spatial and windows.windowed_at(i) and m in windows.whole:
                contribution = paste_input(node, contribution, starts(i),
                                           graph.nodes[m].output_shape)
                inside = True
            elif node.spatial:
                contribution = place_input(node, contribution, windows, m)
            pending.setdefault(m, []).append((contribution, inside))
    raise ValueError("The seed does not depend on the model input.")


def input_starts(windows, positions):
    """`(batch, 2)` NumPy starts (row, column) of each item's input window
    in a windowed pass (may lie outside the image), from the seed
    `positions`."""
    positions = np.asarray(positions, "int64")
    return (positions * np.asarray(windows.jumps[0], "int64")
            + np.asarray(windows.offsets[0], "int64"))


def paste_windows(frames, window_values, starts):
    """Writes each item's input window into its zero NumPy frame.

    Args:
        frames: one `(H, W, C)` NumPy array per item (views of the
            result), zero where the windows go.
        window_values: `(batch, h, w, C)` NumPy windows; the part outside
            the image is cut off (padding rows past `len(frames)` are
            ignored).
        starts: `(batch, 2)` window starts (see `input_starts`).
    """
    if not len(frames):
        return
    height, width = frames[0].shape[0], frames[0].shape[1]
    rows, cols = window_values.shape[1], window_values.shape[2]
    for frame, window, (r0, c0) in zip(frames, window_values, starts):
        top, left = max(int(r0), 0), max(int(c0), 0)
        bottom, right = min(int(r0) + rows, height), min(int(c0) + cols,
                                                         width)
        if top < bottom and left < right:
            frame[top:bottom, left:right] = window[
                top - r0:bottom - r0, left - c0:right - c0]


def place_input(node, x, windows, m):
    """Places a raw input-side window (start `offset * stride - pad`) into
    the input node's window."""
    leads = [windows.offsets[m][a] - (windows.offsets[node.id][a] * s - p)
             for a, (_, s, p) in enumerate(node.geometry)]
    sizes = windows.sizes[m]
    for axis, (lead, size) in enumerate(zip(leads, sizes), start=1):
        length = x.shape[axis]
        if lead == 0 and length == size:
            continue
        front = max(0, -lead)
        begin = max(0, lead)
        end = min(length, lead + size)
        index = [slice(None)] * 4
        index[axis] = slice(begin, max(begin, end))
        x = x[tuple(index)]
        back = size - front - max(0, end - begin)
        if front or back:
            pads = [[0, 0]] * 4
            pads[axis] = [front, back]
            x = ops.pad(x, pads)
    return x


def paste_input(node, x, starts, shape):
    """Adds a raw input-side window (start `starts * stride - pad`) into a
    whole input map: its part outside the map zeroed, then pasted."""
    raw = tuple(starts[a] * s - p for a, (_, s, p) in enumerate(node.geometry))
    return paste(_mask(x, raw, shape), *raw, shape)


def _mask(x, starts, shape):
    if len(shape) != 3:
        return x
    rows = _inside(starts[0], x.shape[1], shape[0])
    cols = _inside(starts[1], x.shape[2], shape[1])
    return x * (rows[:, :, None, None] * cols[:, None, :, None])


def _inside(starts, size, limit):
    positions = zf_ops.window_positions(starts, size)
    return ops.cast((positions >= 0) & (positions < limit), "float32")


def _flat_window_index(item_images, row_starts, col_starts, rows, cols,
                       height, width):
    """`(batch, rows, cols)` flat indices `image * H * W + row * W + col`
    of each item's window (positions outside clipped onto the border)."""
    r = ops.clip(zf_ops.window_positions(row_starts, rows), 0, height - 1)
    c = ops.clip(zf_ops.window_positions(col_starts, cols), 0, width - 1)
    base = ops.cast(item_images, "int32") * (height * width)
    return (base[:, None, None] + r[:, :, None] * width + c[:, None, :])


def gather_windows(maps, item_images, row_starts, col_starts, rows, cols,
                   pad_value=None):
    """Per-item windows `(batch, rows, cols, C)` of per-image maps
    `(N, H, W, C)`. Positions outside the maps read the nearest border
    value, or `pad_value` when one is given."""
    height, width, channels = maps.shape[1], maps.shape[2], maps.shape[3]
    index = _flat_window_index(item_images, row_starts, col_starts, rows,
                               cols, height, width)
    flat = ops.reshape(maps, (-1, channels))
    windows = ops.take(flat, ops.reshape(index, (-1,)), axis=0)
    windows = ops.reshape(windows, (-1, rows, cols, channels))
    if pad_value is None:
        return windows
    inside = (_inside(row_starts, rows, height)[:, :, None]
              * _inside(col_starts, cols, width)[:, None, :]) > 0
    return ops.where(inside[..., None], windows,
                     ops.cast(pad_value, windows.dtype))


def paste(windows, row_starts, col_starts, frame_shape):
    """Adds each item's window into a zero frame at its offset (positions
    outside the frame must hold zeros)."""
    fast = backend.fast_paste(windows, row_starts, col_starts, frame_shape)
    if fast is not None:
        return fast
    height, width, channels = frame_shape
    batch = ops.shape(windows)[0]
    rows, cols = windows.shape[1], windows.shape[2]
    items = ops.arange(batch, dtype="int32")
    index = _flat_window_index(items, row_starts, col_starts, rows, cols,
                               height, width)
    flat = backend.segment_sum(ops.reshape(windows, (-1, channels)),
                               ops.reshape(index, (-1,)),
                               batch * height * width)
    return ops.reshape(flat, (-1, height, width, channels))


def window_record(records, item_images, windows, positions):
    """`record(key, node_id)` reading per-image records at each item's
    window (whole maps when not windowed)."""
    def record(key, i):
        value = records[key]
        if not windows.windowed_at(i) or len(value.shape) != 4:
            return ops.take(value, item_images, axis=0)
        size = windows.sizes[i]
        starts = [positions[:, a] * windows.jumps[i][a]
                  + windows.offsets[i][a] for a in range(2)]
        return gather_windows(value, item_images, *starts, *size)

    return record
