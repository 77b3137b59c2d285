"""Top-k activations per feature map over a dataset of any size (Fig. 2)."""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_zfnet.analysis import data_stream
from keras_zfnet.analysis.top_result import TopActivations
from keras_zfnet.deconv.graph import model_input_shape
from keras_zfnet.utils import progress
from keras_zfnet.utils import validation


def feature_extractor(model, layer_names):
    """A `keras.Model` from the model's input to the named layers' outputs.

    Built from the model's own symbolic tensors: the model is not modified.
    """
    outputs = [model.get_layer(name).output for name in layer_names]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_features")


def _resolve_layers(model, layer):
    names = [lay.name for lay in model.layers
             if not isinstance(lay, keras.layers.InputLayer)]
    several = isinstance(layer, (list, tuple))
    requested = list(layer) if several else [layer]
    if not requested:
        raise ValueError("`layer` is an empty list; name at least one layer.")
    resolved = [validation.resolve_layer_name(lay, names) for lay in requested]
    return resolved, several


def _resolve_channels(channels, name, num_channels):
    if isinstance(channels, dict):
        channels = channels.get(name)
    if channels is None:
        return np.arange(num_channels, dtype="int32")
    array, _ = validation.as_channels(channels, num_channels, name)
    return array


def _step_function(extractor, channel_lists, k, image_shape):
    """The compiled per-batch step: forward, spatial max / first argmax,
    running top-k merge (all in graph)."""
    selections = [tf.constant(c) for c in channel_lists]
    state_specs = [
        (tf.TensorSpec((len(c), k), tf.float32),
         tf.TensorSpec((len(c), k), tf.int64),
         tf.TensorSpec((len(c), k, 2), tf.int32))
        for c in channel_lists
    ]

    @tf.function(input_signature=[
        tf.TensorSpec((None, *image_shape), tf.float32),
        tf.TensorSpec((), tf.int64),
        state_specs,
    ])
    def step(images, offset, states):
        outputs = extractor(images, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        new_states = []
        for out, picked, state in zip(outputs, selections, states):
            out = tf.gather(out, picked, axis=-1)
            batch = tf.shape(out)[0]
            if len(out.shape) == 4:
                width = tf.shape(out)[2]
                flat = tf.reshape(out, (batch, -1, tf.shape(out)[3]))
                peak = tf.reduce_max(flat, axis=1)  # (B, C)
                size = tf.shape(flat)[1]
                where = tf.where(flat == peak[:, None, :],
                                 tf.range(size)[None, :, None], size)
                first = tf.reduce_min(where, axis=1)  # (B, C)
                rows, cols = first // width, first % width
            else:
                peak = tf.reshape(out, (batch, -1))
                rows = cols = tf.zeros_like(peak, dtype=tf.int32)
            index = tf.cast(offset, tf.int64) + tf.range(batch, dtype=tf.int64)
            values, indices, positions = state
            all_values = tf.concat([values, tf.transpose(peak)], axis=1)
            all_indices = tf.concat(
                [indices, tf.broadcast_to(index[None, :],
                                          tf.shape(tf.transpose(peak)))],
                axis=1)
            all_positions = tf.concat(
                [positions,
                 tf.stack([tf.transpose(rows), tf.transpose(cols)], axis=-1)],
                axis=1)
            # top_k puts the lower position first among equal values, and
            # earlier images come first in the concatenation: ties go to the
            # lower dataset index.
            _, keep = tf.math.top_k(all_values, k=k)
            new_states.append((
                tf.gather(all_values, keep, batch_dims=1),
                tf.gather(all_indices, keep, batch_dims=1),
                tf.gather(all_positions, keep, batch_dims=1),
            ))
        return new_states

    return step


def top_activations(model, data, layer, channels=None, k=9, batch_size=64,
                    index_offset=0, checkpoint=None, checkpoint_every=200,
                    verbose="auto"):
    """The `k` images that excite each feature map most, over any dataset.

    For every channel of `layer`, each image contributes its strongest
    activation (the spatial maximum of that channel, at its first
    occurrence in row-major order), and the `k` largest over the dataset are
    kept, ties going to the lower dataset index (paper Fig. 2; the
    deep-visualization toolbox's top-9). The scan streams: one forward pass
    per batch, the per-channel max / argmax and the running top-k merge run
    inside one compiled function, and memory is O(channels x k) plus one
    batch whatever the dataset's length.

    Scale out: scan disjoint shards apart (e.g. `dataset.shard(n, i)` on n
    workers, or contiguous slices with their `index_offset`) and combine
    the results with `TopActivations.merge`, which gives exactly the
    single-scan result. Long scans survive interruption with `checkpoint`.

    Args:
        model: a Keras model (any functional / Sequential model; patches and
            projections additionally need a deconvnet-supported chain).
        data: a NumPy array `(N, H, W, C)`, a `tf.data.Dataset` of images or
            `(images, labels)` (batched or not), or a
            `keras.utils.PyDataset`, as the model expects its inputs.
        layer: a layer name or object, or a list of them (one forward pass
            serves all; a dict of results is returned).
        channels: `None` (all), a list of channel indices, or a dict from
            layer name to such a list.
        k: entries kept per channel (paper: 9).
        batch_size: batch size for arrays and unbatched datasets.
        index_offset: added to positions in `data` to form `.indices` (for
            contiguous shards).
        checkpoint: optional `.npz` path. Progress is saved there every
            `checkpoint_every` batches; a scan started with an existing
            checkpoint continues after the images it already scanned.
        checkpoint_every: batches between checkpoints.
        verbose: `"auto"`, 0 or 1 (progress bar).

    Returns:
        A `TopActivations` (a dict of them, by layer name, when `layer` is a
        list) with `.values (C, k)`, `.indices (C, k)`, `.positions (C, k,
        2)`, `.patches(data)`, `.projections(data)`, `.plot(data)`,
        `.merge(other)`, `.to_npz(path)`.

    Example:

    >>> top = top_activations(model, x_test, "conv5", channels=[0, 1], k=9)
    >>> top.indices.shape
    (2, 9)
    """
    if int(k) != k or k < 1:
        raise ValueError(f"`k` must be an integer >= 1. Received: k={k}")
    k = int(k)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be an integer >= 1. Received: "
            f"batch_size={batch_size}"
        )
    names, several = _resolve_layers(model, layer)
    extractor = feature_extractor(model, names)
    outputs = extractor.outputs
    channel_lists = [
        _resolve_channels(channels, name, out.shape[-1])
        for name, out in zip(names, outputs)
    ]
    image_shape = model_input_shape(model)
    states, scanned = _initial_states(channel_lists, k, checkpoint, names,
                                      index_offset)
    step = _step_function(extractor, channel_lists, k, image_shape)
    total = data_stream.num_batches(data, batch_size)
    bar = progress.bar(total, verbose, unit_name="batch")
    if scanned:
        bar.update(-(-scanned // batch_size))
    batches = 0
    for batch in data_stream.iterate_batches(data, batch_size, image_shape,
                                             skip_images=scanned):
        states = step(tf.cast(batch, tf.float32),
                      tf.constant(index_offset + scanned, tf.int64), states)
        scanned += int(batch.shape[0])
        batches += 1
        bar.add(1)
        if checkpoint and batches % checkpoint_every == 0:
            _save_checkpoint(checkpoint, names, channel_lists, states,
                             scanned, index_offset)
    if scanned == 0:
        raise ValueError("`data` is empty: expected at least one image.")
    if checkpoint:
        _save_checkpoint(checkpoint, names, channel_lists, states, scanned,
                         index_offset)
    results = {
        name: _result(model, name, chans, state, scanned, image_shape)
        for name, chans, state in zip(names, channel_lists, states)
    }
    return results if several else results[names[0]]


def _initial_states(channel_lists, k, checkpoint, names, index_offset):
    if checkpoint and os.path.exists(checkpoint):
        with np.load(checkpoint) as saved:
            stored = [str(n) for n in saved["layers"]]
            if stored != names or int(saved["index_offset"]) != index_offset:
                raise ValueError(
                    f"Checkpoint {checkpoint} belongs to a scan of layers "
                    f"{stored} (index_offset={int(saved['index_offset'])}). "
                    f"Received: layers {names}, index_offset={index_offset}"
                )
            states = []
            for i, chans in enumerate(channel_lists):
                if not np.array_equal(saved[f"channels_{i}"], chans) or (
                        saved[f"values_{i}"].shape[1] != k):
                    raise ValueError(
                        f"Checkpoint {checkpoint} was written for other "
                        f"channels or another k. Received: k={k}"
                    )
                states.append((tf.constant(saved[f"values_{i}"]),
                               tf.constant(saved[f"indices_{i}"]),
                               tf.constant(saved[f"positions_{i}"])))
            return states, int(saved["scanned"])
    states = [
        (tf.fill((len(c), k), tf.constant(-np.inf, tf.float32)),
         tf.fill((len(c), k), tf.constant(-1, tf.int64)),
         tf.fill((len(c), k, 2), tf.constant(-1, tf.int32)))
        for c in channel_lists
    ]
    return states, 0


def _save_checkpoint(path, names, channel_lists, states, scanned,
                     index_offset):
    arrays = dict(layers=np.array(names), scanned=scanned,
                  index_offset=index_offset)
    for i, (chans, (values, indices, positions)) in enumerate(
            zip(channel_lists, states)):
        arrays[f"channels_{i}"] = chans
        arrays[f"values_{i}"] = values.numpy()
        arrays[f"indices_{i}"] = indices.numpy()
        arrays[f"positions_{i}"] = positions.numpy()
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _receptive_field(model, name):
    from keras_zfnet.deconv import receptive_field

    try:
        return receptive_field(model, name)
    except ValueError:
        return None


def _result(model, name, channels, state, scanned, image_shape):
    values, indices, positions = (s.numpy() for s in state)
    return TopActivations(
        layer=name,
        channels=channels,
        values=values.astype("float32"),
        indices=indices.astype("int64"),
        positions=positions.astype("int32"),
        scanned=scanned,
        image_shape=tuple(image_shape),
        receptive_field=_receptive_field(model, name),
        model=model,
    )
