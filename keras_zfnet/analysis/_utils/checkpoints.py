"""Checkpoints of streaming scans: what identifies a scan, safe storage.

A checkpoint records, beside the running state, everything that identifies
the scan it belongs to: the model's weights (a fingerprint), the input
shape, the layers, channels, `k`, `index_offset`, the batch size and the
first batch (the data's order). Resuming with anything different is refused
with the list of what differs: continuing another scan's state would give a
silently wrong result.
"""

import hashlib
import json
import os
import zipfile

import numpy as np

CHECKPOINT_FORMAT = "keras_zfnet.top_activations.checkpoint/1"


def weights_fingerprint(model):
    """A SHA-256 over the model's weights (names, shapes and values)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        digest.update(str((variable.path, value.shape,
                           str(value.dtype))).encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def batch_fingerprint(batch):
    """A SHA-256 of one batch of images (identifies the data's order)."""
    array = np.ascontiguousarray(np.asarray(batch, dtype="float32"))
    return hashlib.sha256(array.tobytes()).hexdigest()


def load_npz(path, what, required=()):
    """Reads a `.npz` file fully, with a clear error for a corrupt file or
    one without the `required` keys.

    Returns:
        A dict of numpy arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ValueError(
            f"{path} is not a readable {what} (.npz) file: {error}. "
            f"Received: path={path!r}"
        ) from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(
            f"{path} is not a {what}: it lacks {missing}. "
            f"Received: path={path!r} with keys {sorted(arrays)}"
        )
    return arrays


def identity_mismatches(saved, identity):
    """The identity fields (a JSON string under `saved["identity"]`) that
    differ from `identity`, as readable lines."""
    try:
        stored = json.loads(str(saved["identity"]))
    except (KeyError, ValueError):
        return ["the checkpoint records no scan identity"]
    problems = []
    for key, value in identity.items():
        if stored.get(key) != value:
            problems.append(f"{key}: checkpoint {_short(stored.get(key))}, "
                            f"this scan {_short(value)}")
    return problems


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def save_npz(path, arrays):
    """Writes `arrays` atomically (a crash never leaves a half file)."""
    tmp = str(path) + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def exists(path):
    return bool(path) and os.path.exists(path)
