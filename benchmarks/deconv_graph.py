"""Deconvnet speed on a graph model (ResNet50, 224x224x3, random weights),
measured side by side in one run.

Prints, for one image:

- one `conv4_block6_out` projection vs one forward pass of the whole model
  (`tf.function`) (target: <= 2x);
- 64 channels of `conv2_block3_out` (`mode="max"`, receptive-field windows)
  in one batched call vs 64 single-channel calls (target: >= 5x);
- 64 channels of `conv4_block6_out` batched vs a loop (target: >= 1.7x),
  beside its bound: a loop pays `64 * (forward + mirror)`, a batch
  `forward + 64 * mirror`, so the ratio cannot exceed `(forward to the
  layer + one mirror) / one mirror` (from the measured times, the mirror of
  one projection estimated as `one projection - forward to the layer`).

Timings alternate (A, B, A, B, ...) and print medians; the load average is
printed because the machine may be shared.

Usage: python benchmarks/deconv_graph.py [--repeats 3] [--size 224]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_zfnet as kz  # noqa: E402


def _load():
    try:
        return "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--channels", type=int, default=64)
    args = parser.parse_args(argv)
    size, count = args.size, args.channels
    model = keras.applications.ResNet50(weights=None,
                                        input_shape=(size, size, 3))
    image = np.random.default_rng(0).normal(
        size=(1, size, size, 3)).astype("float32")
    x = tf.constant(image)
    forward = tf.function(lambda t: model(t, training=False))
    deep, shallow = "conv4_block6_out", "conv2_block3_out"
    to_deep = tf.function(keras.Model(model.input,
                                      model.get_layer(deep).output))
    dn = kz.Deconvnet(model)
    chans = list(range(count))
    print(f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
          f", CPU threads: {os.cpu_count()}, {_load()}")

    t_forward, t_to_deep, t_one = interleaved(
        [lambda: forward(x).numpy(), lambda: to_deep(x).numpy(),
         lambda: dn.project(image, deep, 0)], args.repeats)
    t_batch_s, t_loop_s = interleaved(
        [lambda: dn.project(image, shallow, chans),
         lambda: [dn.project(image, shallow, c) for c in chans]],
        args.repeats, warmup=1)
    t_batch_d, t_loop_d = interleaved(
        [lambda: dn.project(image, deep, chans),
         lambda: [dn.project(image, deep, c) for c in chans]],
        max(1, args.repeats - 1), warmup=1)
    mirror = max(t_one - t_to_deep, 1e-9)
    bound = (t_to_deep + mirror) / mirror

    rows = [
        ("1 proj conv4_block6_out / forward", t_one, t_forward,
         t_one / t_forward, "<= 2x", ""),
        (f"{count}ch conv2_block3_out loop / batch", t_loop_s, t_batch_s,
         t_loop_s / t_batch_s, ">= 5x", ""),
        (f"{count}ch conv4_block6_out loop / batch", t_loop_d, t_batch_d,
         t_loop_d / t_batch_d, ">= 1.7x", f"bound {bound:.2f}x"),
    ]
    header = (f"{'ResNet50 ' + str(size) + 'x' + str(size):<40} {'A':>10} "
              f"{'B':>10} {'A/B':>7}  target   note")
    print(header)
    print("-" * len(header))
    for label, a, b, ratio, target, note in rows:
        print(f"{label:<40} {a * 1e3:>8.0f}ms {b * 1e3:>8.0f}ms "
              f"{ratio:>6.2f}x  {target:<8} {note}")
    print(f"forward to {deep}: {t_to_deep * 1e3:.0f}ms; one mirror "
          f"(1 proj - forward to layer): {mirror * 1e3:.0f}ms; {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
