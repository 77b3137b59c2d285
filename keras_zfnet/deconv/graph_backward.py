"""The deconvnet of a graph model: a recording forward pass and the generated
backward ("mirror") that walks the graph in reverse from the seed layer.

The backward applies, per node and in reverse topological order, the rule of
`keras_zfnet.deconv.graph_walk`: ReLU-family activations rectify the
top-down signal, convolutions and dense layers apply their transposed
filters (no bias), max pooling unpools through the recorded switches,
`Add` copies, `Concatenate` splits, a node used by several layers sums their
signals, and every other supported layer (batch norm, average pooling,
padding, `Multiply`, elementwise activations) passes the signal back as its
gradient does at the forward point.

Every spatial node works on a *window* of its map: a static size and a
per-item start `position * jump + offset`. For `mode="max"` seeds of a
layer whose ancestors all act locally, the windows are the seed's receptive
field at each node (far cheaper, same result: positions outside a map are
zeroed, as the forward's zero padding does); otherwise every window is the
whole map and all starts are 0.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_zfnet import ops
from keras_zfnet.deconv import mirror_layers
from keras_zfnet.deconv.transposed import conv_transpose_valid
from keras_zfnet.deconv.windowed import _paste
from keras_zfnet.deconv.windowed import gather_windows

_CONVS = ("conv", "depthwise", "separable")


# Forward ---------------------------------------------------------------------

def record_specs(walk, seed_id):
    """`(key, node id, shape, dtype)` of each forward value the backward from
    `seed_id` reads, in the mirror model's input order."""
    specs = []
    for i in reversed(walk.ancestors(seed_id)):
        node = walk.nodes[i]
        if node.kind == "maxpool":
            specs.append((f"{i}:switches", i, node.output_shape, "int64"))
        if node.activation == "gradient":
            specs.append((f"{i}:z", i, node.output_shape, "float32"))
        if node.kind == "multiply":
            for k, shape in enumerate(node.input_shapes):
                specs.append((f"{i}:operand{k}", i, shape, "float32"))
    return specs


@tf.autograph.experimental.do_not_convert
def forward(walk, images, seed_id, xla=False):
    """Runs the seed's ancestors on `images` (the model's own layers, called
    on tensors), recording what the backward needs.

    Returns:
        `(activations, records)`: the seed layer's output and a dict from
        record key (see `record_specs`) to per-image tensors.
    """
    values = {0: images}
    records = {}
    for i in walk.ancestors(seed_id)[1:]:
        node = walk.nodes[i]
        xs = [values[j] for j in node.inputs]
        values[i] = _forward_node(node, xs, records, xla)
    return values[seed_id], records


def _forward_node(node, xs, records, xla):
    layer, i = node.layer, node.id
    if node.kind == "maxpool":
        if xla:
            y, switches = ops.max_pool_with_switches_xla(
                xs[0], node.geometry, layer.padding)
        else:
            y, switches = ops.max_pool_with_switches(
                xs[0], layer.pool_size, layer.strides, layer.padding)
        records[f"{i}:switches"] = switches
        return y
    if node.kind == "multiply":
        for k, x in enumerate(xs):
            records[f"{i}:operand{k}"] = x
    if node.activation == "gradient":
        z = xs[0] if node.kind == "activation" else _pre_activation(layer,
                                                                    xs[0])
        records[f"{i}:z"] = z
        return layer.activation(z)
    return _call(layer, xs if len(xs) > 1 else xs[0])


def _call(layer, x):
    """`layer(x, training=False)`; float32 layers are called without
    Keras' per-call machinery (tracing a large graph is much faster)."""
    if getattr(layer, "compute_dtype", None) != "float32":
        return layer(x, training=False)
    if getattr(layer, "_call_has_training_arg", False):
        return layer.call(x, training=False)
    return layer.call(x)


def _pre_activation(layer, x):
    """The output of a convolution / dense layer before its activation."""
    if node_kind(layer) == "separable":
        z = keras.ops.separable_conv(
            x, layer.depthwise_kernel, layer.pointwise_kernel, layer.strides,
            layer.padding, layer.data_format, layer.dilation_rate)
    elif node_kind(layer) == "depthwise":
        z = keras.ops.depthwise_conv(
            x, layer.kernel, layer.strides, layer.padding, layer.data_format,
            layer.dilation_rate)
    elif node_kind(layer) == "conv":
        z = layer.convolution_op(x, layer.kernel)
    else:
        z = keras.ops.matmul(x, layer.kernel)
    if layer.use_bias:
        z = z + layer.bias
    return z


def node_kind(layer):
    if isinstance(layer, keras.layers.SeparableConv2D):
        return "separable"
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "depthwise"
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    return "dense"


# Windows -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Windows:
    """Per spatial node: `offsets[id]`, `sizes[id]`, `jumps[id]` (rows,
    cols); a window starts at `position * jump + offset`. `windowed` is
    False for whole maps (offsets 0, sizes the maps, starts 0)."""

    offsets: dict
    sizes: dict
    jumps: dict
    windowed: bool
    cost: float


def full_windows(walk, seed_id):
    """Whole-map windows for the backward from `seed_id`."""
    ids = walk.ancestors(seed_id)
    sizes = {i: tuple(walk.nodes[i].output_shape[:2]) for i in ids
             if len(walk.nodes[i].output_shape) == 3}
    offsets = {i: (0, 0) for i in sizes}
    cost = sum(_cost(walk.nodes[i], sizes.get(i)) for i in ids)
    return Windows(offsets, sizes, dict(offsets), False, cost)


def receptive_windows(walk, seed_id):
    """Receptive-field windows of one seed position of `seed_id`, or None
    when a node below the seed is not local (dense, global pooling,
    broadcast) or two paths disagree on the stride."""
    ids = walk.ancestors(seed_id)
    if any(not walk.nodes[i].spatial for i in ids):
        return None
    offsets, ends, jumps = {seed_id: (0, 0)}, {seed_id: (1, 1)}, {
        seed_id: (1, 1)}
    for i in reversed(ids):
        node = walk.nodes[i]
        if node.kind == "input":
            continue
        for m in node.inputs:
            jump, start, end = [], [], []
            for axis, (k, s, p) in enumerate(node.geometry):
                jump.append(jumps[i][axis] * s)
                a = offsets[i][axis] * s - p
                start.append(a)
                end.append(a + (ends[i][axis] - offsets[i][axis] - 1) * s + k)
            if m in jumps:
                if jumps[m] != tuple(jump):
                    return None
                start = [min(x, y) for x, y in zip(start, offsets[m])]
                end = [max(x, y) for x, y in zip(end, ends[m])]
            jumps[m], offsets[m], ends[m] = tuple(jump), tuple(start), tuple(
                end)
    sizes = {i: (ends[i][0] - offsets[i][0], ends[i][1] - offsets[i][1])
             for i in offsets}
    cost = sum(_cost(walk.nodes[i], sizes[i]) for i in ids)
    return Windows(offsets, sizes, jumps, True, cost)


def _cost(node, size):
    """Multiply-adds of a node's backward on a window of `size`."""
    out = node.output_shape
    area = size[0] * size[1] if size else 1
    if node.kind in _CONVS:
        (kr, _, _), (kc, _, _) = node.geometry
        cin = node.input_shapes[0][-1]
        if node.kind == "conv":
            per = kr * kc * cin * out[-1]
        elif node.kind == "depthwise":
            per = kr * kc * out[-1]
        else:
            mid = node.layer.pointwise_kernel.shape[2]
            per = kr * kc * mid + mid * out[-1]
        return area * per
    if node.kind == "dense":
        return int(np.prod(node.input_shapes[0])) * out[-1]
    return area * out[-1]


# Backward ------------------------------------------------------------------

@tf.autograph.experimental.do_not_convert
def backward(walk, seed_id, signal, windows, record, positions=None,
             xla=False):
    """Passes `signal` (at the seed's window) down to pixel space.

    Args:
        walk: the model's `GraphWalk`.
        seed_id: the seed node.
        signal: `(batch, *seed window shape)` top-down signal.
        windows: `Windows` from `full_windows` / `receptive_windows`.
        record: `record(key, node_id)` -> the per-item forward value at the
            node's window.
        positions: int32 `(batch, 2)` seed positions (windowed only).
        xla: unpool with segment sums (XLA-compilable).

    Returns:
        `(batch, *input_shape)` projections.
    """
    def starts(i):
        if not windows.windowed:
            return None
        return tuple(positions[:, a] * windows.jumps[i][a]
                     + windows.offsets[i][a] for a in range(2))

    pending = {seed_id: [signal]}
    for i in reversed(walk.ancestors(seed_id)):
        parts = pending.pop(i, None)
        if not parts:
            continue
        node = walk.nodes[i]
        dy = parts[0] if len(parts) == 1 else tf.add_n(parts)
        if windows.windowed and i != seed_id:
            dy = _mask(dy, starts(i), node.output_shape)
        if node.kind == "input":
            if windows.windowed:
                return _paste(dy, *starts(i), node.output_shape)
            return dy
        raw = _node_backward(node, dy, windows, starts(i),
                             lambda key: record(f"{i}:{key}", i), xla)
        for k, (m, contribution) in enumerate(zip(node.inputs, raw)):
            if contribution is None:
                continue
            if node.spatial:
                contribution = _place_input(node, contribution, windows, i,
                                            m)
            pending.setdefault(m, []).append(contribution)
    raise ValueError("The seed does not depend on the model input.")


def _place_input(node, x, windows, i, m):
    """Places a raw input-side window (start `offset * stride - pad`) into
    the input node's window."""
    leads = [windows.offsets[m][a] - (windows.offsets[i][a] * s - p)
             for a, (_, s, p) in enumerate(node.geometry)]
    return _place(x, leads, windows.sizes[m])


def _place(x, leads, sizes):
    """`result[j] = x[j + lead]` (zero beyond `x`) for `j < size`, on the
    two spatial axes."""
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
            x = tf.pad(x, pads)
    return x


def _mask(x, starts, shape):
    if len(shape) != 3:
        return x
    rows = _inside(starts[0], x.shape[1], shape[0])
    cols = _inside(starts[1], x.shape[2], shape[1])
    return x * (rows[:, :, None, None] * cols[:, None, :, None])


def _inside(starts, size, limit):
    positions = ops.window_positions(starts, size)
    return tf.cast((positions >= 0) & (positions < limit), tf.float32)


def _node_backward(node, dy, windows, starts, record, xla):
    """The raw contributions of `node`'s backward, one per input."""
    layer, kind = node.layer, node.kind
    if node.activation == "relu":
        dy = tf.nn.relu(dy)
    elif node.activation == "gradient":
        z = record("z")
        with tf.GradientTape() as tape:
            tape.watch(z)
            y = layer.activation(z)
        dy = tape.gradient(y, z, output_gradients=dy)
    n = len(node.inputs)
    if kind == "conv":
        return [conv_transpose_valid(dy, layer.kernel, layer.strides)]
    if kind == "depthwise":
        return [_depthwise_t(dy, layer.kernel, node)]
    if kind == "separable":
        pointwise = tf.convert_to_tensor(layer.pointwise_kernel)[0, 0]
        dy = tf.tensordot(dy, tf.transpose(pointwise), [[3], [0]])
        return [_depthwise_t(dy, layer.depthwise_kernel, node)]
    if kind == "dense":
        kernel = tf.convert_to_tensor(layer.kernel)
        return [tf.tensordot(dy, tf.transpose(kernel),
                             [[len(dy.shape) - 1], [0]])]
    if kind == "maxpool":
        return [_unpool(node, dy, record("switches"), starts, xla)]
    if kind == "avgpool":
        return [_avg_unpool(node, dy, windows, starts)]
    if kind == "scale":
        scale = tf.cast(mirror_layers.linear_scale(layer), dy.dtype)
        return [dy * scale]
    if kind == "add":
        return [dy] * n
    if kind == "subtract":
        return [dy, -dy]
    if kind == "average":
        return [dy / float(n)] * n
    if kind == "concat":
        return tf.split(dy, [s[-1] for s in node.input_shapes], axis=-1)
    if kind == "multiply":
        operands = [record(f"operand{k}") for k in range(n)]
        with tf.GradientTape() as tape:
            tape.watch(operands)
            y = operands[0]
            for other in operands[1:]:
                y = y * other
        return tape.gradient(y, operands, output_gradients=dy)
    if kind == "gap":
        height, width, channels = node.input_shapes[0]
        spread = tf.reshape(dy, (-1, 1, 1, channels)) / float(height * width)
        return [tf.broadcast_to(
            spread, tf.stack([tf.shape(dy)[0], height, width, channels]))]
    if kind == "reshape":
        return [tf.reshape(dy, (-1, *node.input_shapes[0]))]
    return [dy]  # pad, crop, identity, activation


def _raw_size(node, dy):
    return [(dy.shape[1 + a] - 1) * s + k
            for a, (k, s, _) in enumerate(node.geometry)]


def _depthwise_t(dy, kernel, node):
    rows, cols = _raw_size(node, dy)
    (_, sr, _), (_, sc, _) = node.geometry
    kernel = tf.convert_to_tensor(kernel)
    sizes = tf.stack([tf.shape(dy)[0], rows, cols, kernel.shape[2]])
    return tf.nn.depthwise_conv2d_backprop_input(
        sizes, kernel, dy, [1, sr, sc, 1], "VALID")


def _unpool(node, dy, switches, starts, xla):
    """Unpools `dy` through switches (flat per-image indices of the pooling
    input) into the raw window at `start * stride - pad`."""
    rows, cols = _raw_size(node, dy)
    (_, sr, pr), (_, sc, pc) = node.geometry
    width, channels = node.input_shapes[0][1], node.input_shapes[0][2]
    switches = tf.cast(switches, tf.int32)
    channel = switches % channels
    col = (switches // channels) % width
    row = switches // (channels * width)
    if starts is None:
        row0 = col0 = None
        local_row, local_col = row + pr, col + pc
    else:
        row0 = starts[0] * sr - pr
        col0 = starts[1] * sc - pc
        local_row = row - row0[:, None, None, None]
        local_col = col - col0[:, None, None, None]
    local_row = tf.clip_by_value(local_row, 0, rows - 1)
    local_col = tf.clip_by_value(local_col, 0, cols - 1)
    local = (local_row * cols + local_col) * channels + channel
    if xla:
        return ops.unpool(dy, local, (rows, cols))
    layer = node.layer
    return ops.unpool_with_kernel(dy, local, (rows, cols), layer.pool_size,
                                  layer.strides, "valid")


def _avg_unpool(node, dy, windows, starts):
    """Spreads `dy` evenly over each pooling window (dividing by the number
    of in-map positions, as `"same"` average pooling does)."""
    rows, cols = _raw_size(node, dy)
    factors = []
    for axis, (k, s, p) in enumerate(node.geometry):
        limit = node.input_shapes[0][axis]
        count = np.array([min(i * s - p + k, limit) - max(i * s - p, 0)
                          for i in range(node.output_shape[axis])], "float32")
        size = dy.shape[1 + axis]
        if starts is None:
            factor = tf.constant(k / count[None, :size])
        else:
            index = tf.clip_by_value(ops.window_positions(starts[axis], size),
                                     0, len(count) - 1)
            factor = tf.gather(tf.constant(k / count), index)
        factors.append(factor)
    dy = dy * (factors[0][:, :, None, None] * factors[1][:, None, :, None])
    (kr, sr, _), (kc, sc, _) = node.geometry
    shape = tf.stack([tf.shape(dy)[0], rows, cols, dy.shape[-1]])
    return tf.raw_ops.AvgPoolGrad(orig_input_shape=shape, grad=dy,
                                  ksize=[1, kr, kc, 1],
                                  strides=[1, sr, sc, 1], padding="VALID")


def window_record(records, item_images, windows, positions):
    """`record(key, node_id)` reading per-image records at each item's
    window (`tf.gather` of whole maps when not windowed)."""
    def record(key, i):
        value = records[key]
        if not windows.windowed or len(value.shape) != 4:
            return tf.gather(value, item_images)
        size = windows.sizes[i]
        starts = [positions[:, a] * windows.jumps[i][a]
                  + windows.offsets[i][a] for a in range(2)]
        return gather_windows(value, item_images, *starts, *size)

    return record
