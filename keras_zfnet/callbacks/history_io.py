"""Feature-evolution histories on disk, and when features settle.

A history is `{epoch: {layer: {"channels", "values", "indices",
"projections"}}}` (1-based epochs). One epoch is stored as
`epoch_0002.npz` with one group of arrays per layer (`conv1/channels`,
`conv1/values`, ...); a whole history (the shipped evolution record) as one
`.npz` with one group per epoch and layer (`e2/conv1/channels`, ...).
"""

import json
import os
import re

import numpy as np

KEYS = ("channels", "values", "indices", "projections")
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.npz$")


def epoch_filename(epoch):
    """`epoch_0002.npz` for epoch 2."""
    return f"epoch_{int(epoch):04d}.npz"


def _group(layers, prefix=""):
    arrays = {f"{prefix}layers": np.array(list(layers), dtype=str)}
    for layer, entry in layers.items():
        for key in KEYS:
            arrays[f"{prefix}{layer}/{key}"] = np.asarray(entry[key])
    return arrays


def _read_group(data, prefix=""):
    return {
        str(layer): {key: data[f"{prefix}{layer}/{key}"] for key in KEYS}
        for layer in data[f"{prefix}layers"]
    }


def save_epoch(folder, epoch, layers):
    """Writes one epoch (`{layer: arrays}`) as `folder/epoch_NNNN.npz`
    (atomically: an interrupted write leaves no partial file)."""
    path = os.path.join(folder, epoch_filename(epoch))
    tmp = path + ".tmp.npz"
    np.savez(tmp, epoch=int(epoch), **_group(layers))
    os.replace(tmp, path)
    return path


def load_epochs(folder):
    """The history stored in `folder` as `epoch_NNNN.npz` files ({} if none).
    """
    history = {}
    if not folder or not os.path.isdir(folder):
        return history
    for name in sorted(os.listdir(folder)):
        match = _EPOCH_FILE.match(name)
        if match:
            with np.load(os.path.join(folder, name)) as data:
                history[int(match.group(1))] = _read_group(data)
    return history


def save_history(path, history, images=None, metadata=None, compact=True):
    """Writes a whole history to one `.npz` file.

    Args:
        path: destination `.npz`.
        history: `{epoch: {layer: arrays}}`.
        images: optional `{probe index: image}` of the images the history
            refers to (so that the record draws its patches on its own).
        metadata: optional JSON-serialisable dict.
        compact: store each projection as float16 relative to its own
            maximum absolute value (kept as float32): a projection is shown
            scaled on its own, and this halves the file.

    Returns:
        `path`.
    """
    arrays = {"epochs": np.array(sorted(history), dtype="int64"),
              "compact": np.array(bool(compact))}
    for epoch in sorted(history):
        group = _group(history[epoch], prefix=f"e{epoch}/")
        if compact:
            for layer in history[epoch]:
                key = f"e{epoch}/{layer}/projections"
                projections = np.asarray(group[key], dtype="float32")
                axes = tuple(range(1, projections.ndim))
                scale = np.abs(projections).max(axis=axes)
                safe = np.where(scale > 0, scale, 1.0)
                shaped = safe.reshape((-1,) + (1,) * (projections.ndim - 1))
                group[key] = (projections / shaped).astype("float16")
                group[f"e{epoch}/{layer}/scale"] = scale.astype("float32")
        arrays.update(group)
    if images is not None:
        order = sorted(int(i) for i in images)
        arrays["image_indices"] = np.array(order, dtype="int64")
        arrays["images"] = np.stack([np.asarray(images[i]) for i in order])
    arrays["metadata"] = np.array(json.dumps(metadata or {}))
    np.savez_compressed(path, **arrays)
    return path


def load_history(path, return_images=False):
    """Reads a history written by `save_history`.

    Args:
        path: the `.npz` file.
        return_images: also return the stored `{probe index: image}`.

    Returns:
        The history (float32 projections); with `return_images`,
        `(history, images)`.
    """
    with np.load(path) as data:
        compact = bool(data["compact"])
        history = {}
        for epoch in data["epochs"]:
            epoch = int(epoch)
            layers = _read_group(data, prefix=f"e{epoch}/")
            if compact:
                for layer, entry in layers.items():
                    scale = data[f"e{epoch}/{layer}/scale"]
                    projections = entry["projections"].astype("float32")
                    entry["projections"] = projections * scale.reshape(
                        (-1,) + (1,) * (projections.ndim - 1))
            history[epoch] = layers
        images = {}
        if "image_indices" in data:
            images = dict(zip((int(i) for i in data["image_indices"]),
                              data["images"]))
    return (history, images) if return_images else history


def load_metadata(path):
    """The metadata dict stored by `save_history`."""
    with np.load(path) as data:
        return json.loads(str(data["metadata"]))


def _correlation(a, b):
    a = np.ravel(a).astype("float64")
    b = np.ravel(b).astype("float64")
    a = a - a.mean()
    b = b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    if norm == 0:
        return 1.0 if not (a.any() or b.any()) else 0.0
    return float((a * b).sum() / norm)


def settle_epochs(history, correlation=0.9):
    """Per layer, the listed epoch from which its features settle.

    A layer has settled at epoch `e` when, at `e` and at every later listed
    epoch, each of its features has the same strongest probe image as at
    the last epoch and a projection whose Pearson correlation with the last
    epoch's is at least `correlation`. The last listed epoch always
    qualifies, so a layer that settles only there has not settled before
    the end of the record.

    Args:
        history: `{epoch: {layer: arrays}}`.
        correlation: the projection correlation threshold.

    Returns:
        `{layer: epoch}`.
    """
    epochs = sorted(history)
    if not epochs:
        raise ValueError("`history` is empty: no epoch was recorded yet.")
    last = history[epochs[-1]]
    result = {}
    for layer, final in last.items():
        settled = epochs[-1]
        for epoch in reversed(epochs[:-1]):
            entry = history[epoch].get(layer)
            if entry is None or not _same_features(entry, final, correlation):
                break
            settled = epoch
        result[layer] = settled
    return result


def _same_features(entry, final, correlation):
    if not np.array_equal(entry["channels"], final["channels"]):
        return False
    if not np.array_equal(entry["indices"], final["indices"]):
        return False
    return all(
        _correlation(a, b) >= correlation
        for a, b in zip(entry["projections"], final["projections"])
    )
