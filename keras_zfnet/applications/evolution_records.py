"""The registry of shipped feature-evolution records (paper Fig. 4).

A record is a `FeatureEvolution` history of a preset's training run, stored
as one `.npz` in the package's weights folder and checked against its
SHA-256 on every load, like the weights. Read it with
`keras_zfnet.callbacks.load_evolution_record(name)`.
"""

import os

from keras_zfnet.applications.presets import file_sha256

_WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

EVOLUTION_RECORDS = {}


def register_evolution_record(name, filename, sha256, **metadata):
    """Adds a record (`filename` relative to the weights folder, or
    absolute) to the registry."""
    EVOLUTION_RECORDS[name] = dict(
        name=name, path=os.path.join(_WEIGHTS_DIR, filename), sha256=sha256,
        **metadata)


def evolution_record_path(name):
    """The verified path of a shipped evolution record.

    Raises:
        ValueError: for an unknown or missing record, or a file whose
            SHA-256 does not match.
    """
    record = EVOLUTION_RECORDS.get(name)
    if record is None or not os.path.exists(record["path"]):
        available = sorted(n for n, r in EVOLUTION_RECORDS.items()
                           if os.path.exists(r["path"]))
        raise ValueError(
            f"No shipped evolution record named {name!r}. Available: "
            f"{available}. Received: name={name!r}"
        )
    actual = file_sha256(record["path"])
    if actual != record["sha256"]:
        raise ValueError(
            f"The evolution record '{name}' ({record['path']}) is corrupt: "
            f"expected SHA-256 {record['sha256']}, received {actual}. "
            "Reinstall keras-zfnet to restore it."
        )
    return record["path"]
