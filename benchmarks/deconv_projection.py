"""Deconvnet projection speed, measured side by side in one run.

Prints, for MiniZFNet (28x28x1) and ZFNet (224x224x3, random weights):

- 64 conv5 channels of one image projected in one batched pass vs a Python
  loop of 64 single-channel calls (target: >= 5x faster);
- one conv5 projection vs one forward pass of the same model on the same
  input, compiled (`tf.function(model)`), and vs `model.predict`
  (target: <= 1.25x the forward pass), beside its MAC bound (the forward's
  multiply-adds to conv5 plus the mirror's inside the seed's receptive
  field cone, over the whole forward's multiply-adds);
- the same projections with the windowed mirror off, for reference.

Usage: python benchmarks/deconv_projection.py [--repeats 5] [--quick]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_zfnet as kz  # noqa: E402


def mac_bound(model, layer="conv5", windowed="auto"):
    """The physical floor of one projection, over one forward pass: (the
    forward's multiply-adds up to `layer` + the mirror's inside the seed's
    cone, or on whole maps when `windowed` is False) / the whole forward's
    multiply-adds."""
    from keras_zfnet.deconv import windows as windows_lib

    dn = kz.Deconvnet(model)
    graph = dn._graph(tuple(model.input_shape[1:]))
    seed = graph.by_name[layer]
    forward = windows_lib.full_windows(graph, seed).cost
    cone = (windows_lib.receptive_windows(graph, seed)
            if windowed is not False else None)
    mirror = (cone or windows_lib.full_windows(graph, seed)).cost
    whole = windows_lib.full_windows(graph, len(graph.nodes) - 1).cost
    return (forward + mirror) / whole


def measure(name, model, image, repeats, channels=64):
    layer = "conv5"
    forward = tf.function(lambda x: model(x, training=False))
    x = tf.constant(image)
    rows = []
    for windowed in ("auto", False):
        dn = kz.Deconvnet(model, windowed=windowed)
        chans = list(range(channels))
        t_forward, t_predict, t_one, t_batched = interleaved(
            [lambda: forward(x).numpy(),
             lambda: model.predict(image, verbose=0),
             lambda: dn.project(image, layer, 0),
             lambda: dn.project(image, layer, chans)],
            repeats,
        )
        (t_loop,) = interleaved(
            [lambda: [dn.project(image, layer, c) for c in chans]],
            max(1, repeats // 2), warmup=1,
        )
        label = "auto" if windowed == "auto" else "full mirror"
        rows.append((name, label, t_loop, t_batched, t_one, t_forward,
                     t_predict, mac_bound(model, layer, windowed)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="MiniZFNet only")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    cases = [("MiniZFNet 28x28x1", kz.MiniZFNet(),
              rng.uniform(0, 255, (1, 28, 28, 1)).astype("float32"))]
    if not args.quick:
        cases.append((
            "ZFNet 224x224x3", kz.ZFNet(),
            kz.preprocess_input(rng.uniform(0, 255, (1, 224, 224, 3))),
        ))
    print(f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
          f", CPU threads: {os.cpu_count()}")
    header = (
        f"{'model':<18} {'mirror':<12} {'64x1ch loop':>12} {'64ch batch':>11}"
        f" {'speedup':>8} {'1 proj':>9} {'forward':>9} {'proj/fwd':>9}"
        f" {'MAC bound':>9} {'predict':>9} {'proj/pred':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, model, image in cases:
        for row in measure(name, model, image, args.repeats):
            name_, label, loop, batched, one, fwd, pred, bound = row
            print(
                f"{name_:<18} {label:<12} {loop * 1e3:>10.1f}ms"
                f" {batched * 1e3:>9.1f}ms {loop / batched:>7.1f}x"
                f" {one * 1e3:>7.1f}ms {fwd * 1e3:>7.1f}ms {one / fwd:>8.2f}x"
                f" {bound:>8.2f}x {pred * 1e3:>7.1f}ms {one / pred:>8.2f}x"
            )
    print("targets: speedup >= 5x; proj/fwd <= 1.25x (issue 22). MAC "
          "bound: (forward multiply-adds to conv5 + mirror multiply-adds "
          "inside the seed's cone) / whole forward's multiply-adds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
