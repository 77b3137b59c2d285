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


# `scripts/train_evolution_record.py`: the `fashion_mnist` preset's recipe
# (`keras-zfnet train --model mini_zfnet --first-layer zfnet --dataset
# fashion_mnist --epochs 16 --learning-rate 0.03 --seed 0`) trained again
# with the weights kept at every epoch (test accuracy of that run: 91.28%;
# the shipped preset weights are another run of the same recipe, 91.17%),
# then `FeatureEvolution` over epochs 1, 2, 3, 5, 8, 10, 13, 16: 9 random
# features (seed 0) of each of conv1..conv5, probe = the first 2,000
# images of the official Fashion-MNIST test set.
register_evolution_record(
    "fashion_mnist",
    "mini_zfnet_fashion_mnist.evolution.npz",
    "3449b9803c8f66077b93c52061d03b2afb752a1185275ba5b9f32c13944b4a77",
    preset="fashion_mnist",
    epochs=(1, 2, 3, 5, 8, 10, 13, 16),
    layers=("conv1", "conv2", "conv3", "conv4", "conv5"),
    features=9,
    probe="fashion_mnist test[:2000]",
    run_test_accuracy=0.9128,
)
