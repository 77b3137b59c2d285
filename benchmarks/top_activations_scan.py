"""Top-9 scan speed and memory, measured side by side in one run.

MiniZFNet on 10,000 Fashion-MNIST images (the real test set if installed,
else the shipped sample repeated), layers conv1..conv5 in one scan:

- scan time vs `model.predict` over the same images and batch size
  (target: <= 1.10x);
- scan vs a per-image Python-loop tracker (the deep-visualization
  toolbox's approach: one forward pass per image, a Python heap per
  channel), same top-9 sets (target: >= 10x faster);
- peak memory (RSS, in a fresh subprocess) of a 60,000-image scan vs a
  6,000-image scan over a streaming source (target: within 10%).

Usage: python benchmarks/top_activations_scan.py [--images 10000]
"""

import argparse
import heapq
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import timed  # noqa: E402

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"]


def load_images(count):
    from keras_zfnet.datasets import fashion_mnist

    if fashion_mnist.find_local() is not None:
        _, (x, _) = fashion_mnist.load_data(verbose=0)
        source = "Fashion-MNIST test set"
    else:
        x, _ = fashion_mnist.load_sample(verbose=0)
        source = "shipped sample, repeated"
    reps = -(-count // len(x))
    return np.tile(x, (reps, 1, 1))[:count, :, :, None].astype("float32"), \
        source


def python_loop_tracker(model, images, layers, k=9):
    """One image at a time, a heap per channel (toolbox-style)."""
    import keras

    extractor = keras.Model(model.input,
                            [model.get_layer(n).output for n in layers])
    heaps = {n: None for n in layers}
    for index, image in enumerate(images):
        outputs = extractor(image[None], training=False)
        for name, out in zip(layers, outputs):
            out = np.asarray(out)[0]
            peaks = out.reshape(-1, out.shape[-1]).max(axis=0)
            if heaps[name] is None:
                heaps[name] = [[] for _ in range(len(peaks))]
            for channel, value in enumerate(peaks):
                heap = heaps[name][channel]
                item = (float(value), -index)
                if len(heap) < k:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
    return {
        name: [sorted(-i for _, i in heap) for heap in channel_heaps]
        for name, channel_heaps in heaps.items()
    }


def memory_child(count):
    """Runs one streaming scan of `count` images; prints peak RSS (MiB)."""
    import tensorflow as tf

    import keras_zfnet as kz

    base, _ = load_images(10000)
    data = (tf.data.Dataset.range(count)
            .map(lambda i: tf.gather(base, i % len(base)))
            .batch(64))
    model = kz.MiniZFNet()
    kz.top_activations(model, data, LAYERS, k=9, verbose=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--loop-images", type=int, default=1000,
                        help="images for the (slow) Python-loop tracker")
    parser.add_argument("--memory-child", type=int, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0

    import keras_zfnet as kz

    model = kz.MiniZFNet()
    images, source = load_images(args.images)
    batch = 64
    t_predict = timed(lambda: model.predict(images, batch_size=batch,
                                            verbose=0))
    t_scan = timed(lambda: kz.top_activations(model, images, LAYERS, k=9,
                                              batch_size=batch, verbose=0))
    subset = images[:args.loop_images]
    start = time.perf_counter()
    loop = python_loop_tracker(model, subset, LAYERS)
    t_loop = time.perf_counter() - start
    start = time.perf_counter()
    scan = kz.top_activations(model, subset, LAYERS, k=9, batch_size=batch,
                              verbose=0)
    t_scan_subset = time.perf_counter() - start
    same = all(
        sorted(scan[n].indices[c]) == loop[n][c]
        for n in LAYERS for c in range(len(loop[n]))
    )
    rss = {}
    for count in (6000, 60000):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(count)],
            capture_output=True, text=True, check=True,
        )
        rss[count] = float(out.stdout.strip().splitlines()[-1])

    print(f"MiniZFNet, {args.images} images ({source}), layers "
          f"{'..'.join([LAYERS[0], LAYERS[-1]])}, batch {batch}")
    print(f"{'measure':<44} {'value':>12} {'ratio':>8}  target")
    print("-" * 76)
    print(f"{'model.predict':<44} {t_predict:>11.2f}s")
    print(f"{'top_activations scan (5 layers)':<44} {t_scan:>11.2f}s "
          f"{t_scan / t_predict:>7.2f}x  <= 1.10x predict")
    print(f"{f'Python-loop tracker, {len(subset)} images':<44} "
          f"{t_loop:>11.2f}s")
    print(f"{f'scan, same {len(subset)} images':<44} {t_scan_subset:>11.2f}s "
          f"{t_loop / t_scan_subset:>7.1f}x  >= 10x faster "
          f"(same top-9 sets: {same})")
    print(f"{'peak RSS, 6,000-image scan':<44} {rss[6000]:>9.0f}MiB")
    print(f"{'peak RSS, 60,000-image scan':<44} {rss[60000]:>9.0f}MiB "
          f"{rss[60000] / rss[6000]:>7.3f}x  within 1.10x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
