"""Transposed convolutions: the three methods side by side, per layer shape.

For the layer shapes the mirror meets (ZFNet-224's conv1-conv5 windows of a
conv5 seed, MiniZFNet's conv1 / conv2 / conv5 whole maps, ResNet50's whole
maps), times `conv_transpose_valid` by the backend's kernel,
by phases and by taps, interleaved in one run, on the current Keras backend
(`KERAS_BACKEND`), compiled the way the engine compiles (`tf.function`,
`jax.jit`; eager on PyTorch), and prints which method `method_for` picks and
how far it is from the fastest. Agreement with the kernel path is printed
beside.

Usage: KERAS_BACKEND=jax python benchmarks/transposed.py [--repeats 5]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved  # noqa: E402

from keras_zfnet.deconv import transposed  # noqa: E402

# name, input rows, input cols, input filters, output channels, kernel, stride
SHAPES = [
    ("ZFNet conv5 window", 1, 1, 256, 384, 3, 1),
    ("ZFNet conv4 window", 3, 3, 384, 384, 3, 1),
    ("ZFNet conv3 window", 5, 5, 384, 256, 3, 1),
    ("ZFNet conv2 window", 15, 15, 256, 96, 5, 2),
    ("ZFNet conv1 window", 67, 67, 96, 3, 7, 2),
    ("MiniZFNet conv5 map", 7, 7, 64, 96, 3, 1),
    ("MiniZFNet conv2 map", 14, 14, 64, 32, 3, 1),
    ("MiniZFNet conv1 map", 28, 28, 32, 1, 5, 1),
    ("ResNet50 conv4 3x3", 14, 14, 256, 256, 3, 1),
    ("ResNet50 conv3 3x3", 28, 28, 128, 128, 3, 1),
    ("ResNet50 conv5 3x3", 7, 7, 512, 512, 3, 1),
    ("ResNet50 conv4 1x1", 14, 14, 1024, 256, 1, 1),
    ("ResNet50 conv1", 112, 112, 64, 3, 7, 2),
]


def compiled(function):
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--items", type=int, nargs="+", default=[1, 16],
                        help="batch sizes (default 1 and 16)")
    args = parser.parse_args(argv)
    backend = keras.config.backend()
    rng = np.random.default_rng(0)
    print(f"backend: {backend}; ms per call, median of {args.repeats}")
    print("| shape | items | kernel | phases | taps | picked | picked / "
          "fastest | max rel. diff |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for name, h, w, filters, channels, k, s in SHAPES:
        shape = (k, k, channels, filters)
        kernel = ops.convert_to_tensor(
            rng.normal(size=shape).astype("float32") * 0.05)
        for items in args.items:
            picked = transposed.method_for(backend, shape, (s, s), (h, w),
                                           items)
            x = ops.convert_to_tensor(
                rng.normal(size=(items, h, w, filters)).astype("float32"))
            functions = {
                m: compiled(lambda a, b, m=m: transposed.conv_transpose_valid(
                    a, b, (s, s), m)) for m in transposed.METHODS}
            outputs = {m: ops.convert_to_numpy(f(x, kernel))
                       for m, f in functions.items()}
            times = dict(zip(transposed.METHODS, interleaved(
                [lambda f=f: ops.convert_to_numpy(f(x, kernel))
                 for f in functions.values()], args.repeats)))
            scale = np.abs(outputs["kernel"]).max()
            diff = max(np.abs(o - outputs["kernel"]).max()
                       for o in outputs.values()) / scale
            fastest = min(times.values())
            print(f"| {name} | {items} | " + " | ".join(
                f"{times[m] * 1e3:.2f}" for m in transposed.METHODS)
                + f" | {picked} | {times[picked] / fastest:.2f}x"
                f" | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
