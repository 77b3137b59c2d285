"""Writes `tests/golden/tensorflow.npz`: results of the TensorFlow backend
that `tests/test_backends.py` compares on JAX and PyTorch.

The inputs are made to contain exact ties: images repeated at later dataset
positions (top-k ties between images go to the lower index), and Fashion-MNIST's
flat black backgrounds (equal activations inside pooling windows, where the
first-maximum switch rule decides what a projection passes down).

Run on TensorFlow when a result is meant to change:

    KERAS_BACKEND=tensorflow python tests/golden/make_golden.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

from tests.golden import cases  # noqa: E402


def main():
    import keras

    if keras.config.backend() != "tensorflow":
        raise SystemExit("Golden files come from the TensorFlow backend; "
                         f"this is {keras.config.backend()!r}.")
    results = cases.compute()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "tensorflow.npz")
    np.savez_compressed(path, **results)
    print(f"wrote {len(results)} arrays to {path}")


if __name__ == "__main__":
    main()
