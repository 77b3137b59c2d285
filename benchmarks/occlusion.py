"""Occlusion sensitivity speed and memory, measured side by side in one run.

ZFNet (random weights) at 224x224 with a 16 px occluder at stride 8, and
MiniZFNet on Fashion-MNIST (8 px, stride 2):

- throughput in occluded forward passes per second (default settings) vs
  the model's own batched forward throughput on ordinary images, the better
  of batch 32 and occlusion's own batch (target: >= 1.0x);
- vs the brute-force loop (numpy occlusion, one `model(x)` call per
  position; target: >= 5x faster);
- peak memory (RSS, fresh subprocess) with 4x as many positions (target:
  independent of the number of positions).

Usage: python benchmarks/occlusion.py [--quick]
"""

import argparse
import os
import resource
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import timed  # noqa: E402


def cases(quick):
    import keras_zfnet as kz

    rng = np.random.default_rng(0)
    out = [("MiniZFNet 28x28", kz.MiniZFNet,
            lambda n: rng.uniform(0, 255, (n, 28, 28, 1)).astype("float32"),
            8, 2, 8)]
    if not quick:
        out.append(("ZFNet 224x224", kz.ZFNet,
                    lambda n: kz.preprocess_input(
                        rng.uniform(0, 255, (n, 224, 224, 3))),
                    16, 8, 1))
    return out


def brute_force(model, image, patch, stride):
    size = image.shape[0]
    for r in range(0, size - patch + 1, stride):
        for c in range(0, size - patch + 1, stride):
            occluded = image.copy()
            occluded[r:r + patch, c:c + patch] = image.mean(axis=(0, 1))
            model(occluded[None], training=False)


def memory_child(name, stride):
    import keras_zfnet as kz

    for label, builder, make, patch, _, images in cases(False):
        if label == name:
            model = builder()
            x = make(1)
            kz.occlusion_sensitivity(model, x, patch, stride, verbose=0)
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
            return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="MiniZFNet only")
    parser.add_argument("--memory-child", nargs=2, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return 0

    import tensorflow as tf

    import keras_zfnet as kz

    header = (f"{'model':<16} {'positions':>9} {'forward/s':>10} "
              f"{'occluded/s':>11} {'ratio':>6} {'brute/s':>8} "
              f"{'speedup':>8} {'RSS s':>7} {'RSS s/2':>8}")
    print(header)
    print("-" * len(header))
    for label, builder, make, patch, stride, n_images in cases(args.quick):
        model = builder()
        images = make(n_images)
        # The occlusion default ("auto") batch, and the forward pass's best
        # throughput over batch 32 and that batch (a fair baseline).
        occ_batch = int(np.clip(2_000_000 // np.prod(images.shape[1:]),
                                32, 1024))
        forward = tf.function(lambda x: model(x, training=False))
        rates = []
        for batch in sorted({32, occ_batch}):
            plain = make(batch)
            forward(tf.constant(plain))
            rates.append(batch / timed(
                lambda: forward(tf.constant(plain)).numpy()))
        forward_rate = max(rates)
        result = kz.occlusion_sensitivity(model, images, patch, stride,
                                          verbose=0)
        positions = result.probability[0].size * n_images
        t_occ = timed(lambda: kz.occlusion_sensitivity(
            model, images, patch, stride, verbose=0))
        t_brute = timed(lambda: brute_force(model, images[0], patch, stride),
                        repeats=1) * n_images
        rss = []
        for s in (stride, max(1, stride // 2)):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", label, str(s)],
                capture_output=True, text=True, check=True)
            rss.append(float(out.stdout.strip().splitlines()[-1]))
        print(f"{label:<16} {positions:>9} {forward_rate:>10.1f} "
              f"{positions / t_occ:>11.1f} "
              f"{(positions / t_occ) / forward_rate:>5.2f}x "
              f"{positions / t_brute:>8.1f} {t_brute / t_occ:>7.1f}x "
              f"{rss[0]:>6.0f}M {rss[1]:>7.0f}M")
    print("targets: ratio >= 1.0x; speedup >= 5x; RSS independent of the "
          "number of positions (stride/2 has ~4x the positions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
