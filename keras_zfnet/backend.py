"""The few backend-specific pieces, behind one module.

Tensor code in keras_zfnet is written on `keras.ops`; what `keras.ops` lacks
lives here, as keras-hub does it: a portable reference path plus
`keras.config.backend()` fast paths.

- `compile_function`: `tf.function` (optionally XLA) on TensorFlow,
  `jax.jit` on JAX, plain eager calls elsewhere; `padded_size`: the batch
  size to pad ragged batches to (full batches on JAX), `pad_rows` the
  padding.
- `vjp`: the vector-Jacobian product of a function at a point (the
  deconvnet's fallback rule).
- `map_parts`: a per-item function run on contiguous parts of a large
  batch (parallel lanes on TensorFlow, a sequential `lax.map` on JAX);
  `splits_parts` says whether it splits here.
- `segment_sum`: a scatter-add of rows into a zero tensor (PyTorch's
  `index_add_`, `keras.ops.segment_sum` elsewhere); `lookup`: a table
  read by in-range indices (a gather without bounds check on JAX).
- `fast_conv_transpose` / `fast_paste`: PyTorch's transposed convolution
  on a channels-last view and a slice-add per window (the deconvnet's
  mirror); `None` elsewhere.
- `fast_max_pool_with_switches` / `fast_unpool`: TensorFlow's
  `max_pool_with_argmax` and max-pool-gradient kernels; `keras_zfnet.ops`
  uses them where they exist and its `keras.ops` forms elsewhere, with the
  same first-maximum tie rule.

Nothing here imports a backend at module level: `import keras_zfnet` works
on whichever backend Keras runs.
"""

import keras
import numpy as np


def name():
    """The running Keras backend: `"tensorflow"`, `"jax"`, `"torch"`, ..."""
    return keras.config.backend()


def compile_function(function, signature=None, jit_compile=False,
                     variables=None):
    """`function` compiled for the running backend.

    Args:
        function: a function of tensors, written on `keras.ops` (it may call
            Keras layers and models).
        signature: on TensorFlow, a list of `(shape, dtype)` per argument
            (`None` for free sizes), so that one trace serves every batch.
        jit_compile: on TensorFlow, compile with XLA.
        variables: the Keras variables `function` reads (e.g.
            `model.variables`). On JAX they are passed to the compiled
            function as arguments, so that it always sees their current
            values (a callback during `fit` sees the weights of that epoch).
            Without them, JAX bakes the values of the first call in.

    Returns:
        A callable taking NumPy arrays or tensors.

    Example:

    >>> f = compile_function(lambda x: model(x, training=False),
    ...                      variables=model.variables)
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        specs = None
        if signature is not None:
            specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
        return tf.function(function, input_signature=specs,
                           jit_compile=bool(jit_compile), autograph=False)
    if backend == "jax":
        import jax

        if not variables:
            return jax.jit(function)
        variables = list(variables)

        def stateless(values, *args):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                return function(*args)

        jitted = jax.jit(stateless)

        def call(*args):
            return jitted([v.value for v in variables], *args)

        return call
    if backend == "torch":
        import torch

        def no_grad(*args):
            with torch.no_grad():
                return function(*args)

        return no_grad
    return function


def lookup(table, indices):
    """`table[indices]` for `indices` known to lie in the table.

    On JAX a gather without a bounds check
    (`.at[].get(mode="promise_in_bounds")`): XLA computes it once, where a
    bounds check (`keras.ops.take`'s) would read `indices` again and fuse
    their producers into every consumer (see
    `keras_zfnet.ops.max_pool_with_switches_portable`).
    """
    if name() == "jax":
        return table.at[indices].get(mode="promise_in_bounds")
    return keras.ops.take(table, indices)


def padded_size(size, largest):
    """The batch size to pad a batch of `size` items to (`largest` is the
    size of a full batch) before calling a compiled function.

    `size` itself where one compiled function serves every batch size
    (TensorFlow's signatures with free sizes, PyTorch's eager calls). JAX
    compiles once per shape: there `largest`, so that a loop of ragged
    batches compiles once (measured on the unit browser's projections,
    MiniZFNet on 1,000 images: 116 s with one compile per shape, 29 s with
    powers of two, 16 s padded to full batches).
    """
    if name() != "jax":
        return size
    return max(int(size), int(largest))


def pad_rows(rows, size):
    """NumPy `rows` padded to `size` with copies of its first row (to be
    dropped from the results)."""
    if len(rows) >= size:
        return rows
    return np.concatenate([rows, np.repeat(rows[:1], size - len(rows), 0)])


def compile_errors():
    """The exceptions a compiled function raises when the backend's compiler
    cannot compile it (TensorFlow: a layer without an XLA kernel), so that
    a caller can fall back to an uncompiled function. Empty elsewhere."""
    if name() == "tensorflow":
        import tensorflow as tf

        return (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)
    return ()


def to_numpy(tensor):
    """A tensor of any backend (or an array) as a NumPy array."""
    return keras.ops.convert_to_numpy(tensor)


def vjp(function, primals, cotangent):
    """The vector-Jacobian product of `function` at `primals`.

    Args:
        function: `function(*primals) -> tensor`.
        primals: a list of tensors.
        cotangent: a tensor shaped like `function`'s output.

    Returns:
        A list with one tensor per primal (zeros where it has no effect).
    """
    backend = name()
    primals = [keras.ops.convert_to_tensor(p) for p in primals]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for primal in primals:
                tape.watch(primal)
            output = function(*primals)
        return tape.gradient(output, primals, output_gradients=cotangent,
                             unconnected_gradients="zero")
    if backend == "jax":
        import jax

        _, pullback = jax.vjp(function, *primals)
        return list(pullback(cotangent))
    if backend == "torch":
        import torch

        with torch.enable_grad():
            leaves = [p.detach().requires_grad_(True) for p in primals]
            output = function(*leaves)
            grads = torch.autograd.grad(output, leaves, cotangent,
                                        allow_unused=True)
        return [torch.zeros_like(p) if g is None else g
                for p, g in zip(primals, grads)]
    raise ValueError(f"keras_zfnet has no vector-Jacobian product for the "
                     f"'{backend}' backend. Received: backend={backend!r}")


# `map_parts` on TensorFlow: a batch runs as this many parallel lanes (see
# its docstring for the trace cost of more).
MAX_LANES = 2


def splits_parts(jit_compile=False):
    """Whether `map_parts` splits a batch here, in a function compiled with
    `jit_compile` (TensorFlow without XLA, or JAX).

    Args:
        jit_compile: whether the function is compiled with XLA.

    Returns:
        A bool.
    """
    backend = name()
    return backend == "jax" or (backend == "tensorflow" and not jit_compile)


def map_parts(function, arrays, part_items):
    """`function(*arrays)` computed on contiguous parts of the items (axis 0
    of every array; `None` entries are passed as they are), the results
    concatenated in order. The result equals one call on all items when
    `function` treats items independently.

    Large batches of big per-item tensors run faster in parts (2 CPU
    cores, the 64-item ZFNet conv5 mirror: its transposed convolutions
    took 1.2-1.9x the time per item of the same on 8 items):
    - TensorFlow: `MAX_LANES` lanes in one graph, which its executor runs
      side by side, each of `max(ceil(count / MAX_LANES), part_items)`
      items; a lane left empty is skipped by a `tf.cond`. Each lane is one
      more copy of `function` to trace: the 64-item ZFNet call's first run
      took 2.0-2.7 s in one lane, 3.1-3.3 s in 2 and 9.5-10.2 s in 8, for
      steady calls of 0.82-0.85, 0.71-0.80 and 0.64-0.66 s; 2 lanes it is.
      Not for XLA-compiled functions (dynamic slices): pass
      `part_items=None` there.
    - JAX (static sizes): a sequential `lax.map` over parts of `part_items`
      items, the remainder in one more call; one call for fewer than
      `2 * part_items` items (the same 64-item call: 828 -> 674 ms in parts
      of 2 items, 761 ms in parts of 1, 717 ms of 4).
    - Elsewhere (PyTorch's eager calls): one call.

    Args:
        function: `function(*arrays)` -> a tensor with one row per item.
        arrays: tensors with the items on axis 0 (at least the first), or
            `None`.
        part_items: items per part (a Python int), or `None` for one call.

    Returns:
        The concatenated tensor.

    Example:

    >>> double = lambda x: x * 2.0
    >>> y = map_parts(double, [keras.ops.ones((5, 3))], part_items=2)
    >>> tuple(y.shape)
    (5, 3)
    """
    backend = name()
    if not part_items or backend not in ("tensorflow", "jax"):
        return function(*arrays)
    part_items = int(part_items)
    if backend == "tensorflow":
        import tensorflow as tf

        count = tf.shape(arrays[0])[0]
        per = tf.maximum((count + MAX_LANES - 1) // MAX_LANES, part_items)

        def part(start, stop):
            return [None if a is None else a[start:stop] for a in arrays]

        outputs = [function(*part(0, per))]
        empty = outputs[0][:0]
        for lane in range(1, MAX_LANES):
            start = tf.minimum(lane * per, count)
            stop = tf.minimum(start + per, count)
            outputs.append(tf.cond(
                stop > start,
                lambda start=start, stop=stop: function(*part(start, stop)),
                lambda: empty))
        return tf.concat(outputs, axis=0)
    import jax

    count = arrays[0].shape[0]
    full = count // part_items
    if full <= 1:
        return function(*arrays)
    split = full * part_items
    head = [None if a is None else keras.ops.reshape(
        a[:split], (full, part_items, *a.shape[1:])) for a in arrays]
    out = jax.lax.map(lambda xs: function(*xs), head)
    out = keras.ops.reshape(out, (split, *out.shape[2:]))
    if split == count:
        return out
    tail = function(*[None if a is None else a[split:] for a in arrays])
    return keras.ops.concatenate([out, tail], axis=0)


def segment_sum(data, segment_ids, num_segments):
    """Rows of `data` summed into `num_segments` rows by `segment_ids`.

    Negative ids are dropped, as `keras.ops.segment_sum` drops them on
    every backend (ids past the end are dropped too, except on
    TensorFlow, which raises for them). On PyTorch through `index_add_` on
    one flat index per element (the unpooling of ZFNet's pool1 windows, 64
    items: 108 ms against 417 ms by `keras.ops.segment_sum`, which expands
    the ids to the data's shape and passes over the output three times);
    elsewhere, and for symbolic tensors, `keras.ops.segment_sum`.

    Args:
        data: `(n, ...)` tensor.
        segment_ids: `(n,)` integer tensor.
        num_segments: int, rows of the result.

    Returns:
        `(num_segments, ...)` tensor of `data`'s dtype.
    """
    if name() == "torch" and not keras.backend.is_keras_tensor(data):
        import torch

        width = 1
        for d in data.shape[1:]:
            width *= d
        ids = segment_ids.reshape(-1).to(torch.int64)
        # Out-of-range ids go to one extra slot, dropped below.
        ids = torch.where((ids >= 0) & (ids < num_segments), ids,
                          num_segments)
        if width > 1:
            ids = (ids[:, None] * width + torch.arange(
                width, device=ids.device)).reshape(-1)
        out = torch.zeros((num_segments + 1) * width, dtype=data.dtype,
                          device=data.device)
        out.index_add_(0, ids, data.reshape(-1))
        return out[:num_segments * width].reshape(
            (num_segments, *data.shape[1:]))
    return keras.ops.segment_sum(data, segment_ids,
                                 num_segments=num_segments)


def fast_conv_transpose(x, kernel, strides):
    """The backend's `"valid"` transposed convolution without layout
    copies, or `None` where `keras.ops.conv_transpose` is already that.

    On PyTorch: `conv_transpose2d` on a channels-last view of the
    `(batch, h, w, filters)` signal. oneDNN reads that layout directly, where
    `keras.ops.conv_transpose` copies the signal into channels-first and
    back (ZFNet's conv1 windows, 64 items: 311 ms against 521 ms; conv2:
    240 ms against 281 ms).

    Args:
        x: `(batch, h, w, filters)` tensor.
        kernel: `(kh, kw, channels, filters)` forward kernel of x's dtype.
        strides: `(sr, sc)`.

    Returns:
        `(batch, (h - 1) * sr + kh, (w - 1) * sc + kw, channels)` tensor,
        or `None`.
    """
    if name() != "torch":
        return None
    import torch

    z = torch.nn.functional.conv_transpose2d(
        x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1),
        stride=tuple(strides))
    return z.permute(0, 2, 3, 1)


def fast_paste(windows, row_starts, col_starts, frame_shape):
    """Each item's window added into a zero frame at its offset, or `None`
    where the backend has no faster way than `keras_zfnet.deconv.engine`'s
    scatter-add.

    On PyTorch (eager): one slice-add per item (ZFNet's 139 x 139 pixel
    windows into 224 x 224 frames, 64 items: 33 ms against 59 ms by
    `index_add_`).

    Args:
        windows: `(batch, rows, cols, C)` tensor.
        row_starts, col_starts: `(batch,)` integer tensors, the frame
            position of each window's first row / column (possibly outside
            the frame; the part outside is dropped).
        frame_shape: `(H, W, C)`.

    Returns:
        `(batch, H, W, C)` tensor, or `None`.
    """
    if name() != "torch":
        return None
    import torch

    height, width = frame_shape[0], frame_shape[1]
    rows, cols = windows.shape[1], windows.shape[2]
    frame = torch.zeros((windows.shape[0], *frame_shape), dtype=windows.dtype,
                        device=windows.device)
    for item, (r, c) in enumerate(zip(row_starts.tolist(),
                                      col_starts.tolist())):
        top, left = max(r, 0), max(c, 0)
        bottom, right = min(r + rows, height), min(c + cols, width)
        if bottom > top and right > left:
            frame[item, top:bottom, left:right] += windows[
                item, top - r:bottom - r, left - c:right - c]
    return frame


def fast_max_pool_with_switches(x, geometry, padding):
    """The backend's own max pooling with switches, or `None` where it has
    none (then `keras_zfnet.ops.max_pool_with_switches` uses `keras.ops`).

    On TensorFlow: `tf.nn.max_pool_with_argmax` (its switches follow the
    first-maximum tie rule). Returns `(pooled, int32 switches)`.
    """
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    (kr, sr, _), (kc, sc, _) = geometry
    pooled, switches = tf.nn.max_pool_with_argmax(
        x, ksize=(1, kr, kc, 1), strides=(1, sr, sc, 1),
        padding=padding.upper(), include_batch_in_index=False)
    return pooled, tf.cast(switches, "int32")


def fast_unpool(values, switches, output_size, pool_size, strides,
                padding="valid"):
    """The backend's own unpooling kernel, or `None` where it has none.

    On TensorFlow: the max-pool gradient kernel (it reads only the shape of
    its `input`) for a `"valid"` pooling of `pool_size` / `strides` whose
    input is `output_size`.
    """
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    shape = tf.concat([tf.shape(values)[:1], output_size,
                       tf.shape(values)[3:]], axis=0)
    return tf.raw_ops.MaxPoolGradWithArgmax(
        input=tf.zeros(shape, values.dtype), grad=values,
        argmax=tf.cast(switches, "int64"), ksize=[1, *pool_size, 1],
        strides=[1, *strides, 1], padding=padding.upper(),
        include_batch_in_index=False)


def fast_top_k(x, k):
    """The backend's own top-k where it keeps the lower index among equal
    values (TensorFlow's `tf.math.top_k`), or `None` (then
    `keras_zfnet.ops.top_k_first` sorts stably; `torch.topk` is not stable
    and is never used for ties)."""
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.math.top_k(x, k=k)

