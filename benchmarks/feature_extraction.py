"""One multi-output extraction of 7 layers vs 7 separate truncated models.

`kz.extract_features(model, layers, x)` runs the model once per batch with
all seven layers as outputs; the naive alternative builds one truncated
model per layer (input -> that layer) and predicts with each, recomputing
the shared early layers seven times. Both return the same features (checked
exactly here). Target: >= 3x faster. Timings are interleaved medians.

MiniZFNet(weights="fashion_mnist") on scikit-learn's 1,797 digits resized to
28x28, layers conv1..conv5, fc6, fc7, flattened (pooling=None) and pooled
(pooling="avg").

Usage: python benchmarks/feature_extraction.py [--images 1797] [--repeats 3]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved  # noqa: E402

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")


def truncated_models(model, layers):
    """The naive way's models: one truncated model per layer (built once,
    outside the timing)."""
    import keras

    return {layer: keras.Model(model.input, model.get_layer(layer).output)
            for layer in layers}


def separate_models(subs, images, pooling, batch_size):
    """Each truncated model run over the data (compiled `predict`, same
    batch size)."""
    features = {}
    for layer, sub in subs.items():
        out = sub.predict(images, batch_size=batch_size, verbose=0)
        if pooling == "avg" and out.ndim == 4:
            out = out.mean(axis=(1, 2))
        features[layer] = out.reshape(len(out), -1)
    return features


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1797)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    import keras_zfnet as kz

    model = kz.MiniZFNet(weights="fashion_mnist")
    x, _ = kz.datasets.digits.load_data(image_size=28)
    x = np.resize(x[..., None].astype("float32"), (args.images, 28, 28, 1))
    print(f"MiniZFNet(fashion_mnist), {len(x)} digits 28x28, layers "
          f"{', '.join(LAYERS)}, batch {args.batch_size}, medians of "
          f"{args.repeats} interleaved runs\n")
    subs = truncated_models(model, LAYERS)
    print("| pooling | one multi-output pass (s) | 7 truncated models (s) "
          "| speed-up | identical |")
    print("|---|---:|---:|---:|---|")
    for pooling in (None, "avg"):
        def fused():
            return kz.extract_features(model, list(LAYERS), x, pooling,
                                       args.batch_size, verbose=0)

        def separate():
            return separate_models(subs, x, pooling, args.batch_size)

        a, b = fused(), separate()
        same = all(np.array_equal(a[k], b[k]) if pooling is None
                   else np.allclose(a[k], b[k], rtol=1e-5, atol=1e-6)
                   for k in LAYERS)
        t_fused, t_separate = interleaved([fused, separate],
                                          repeats=args.repeats, warmup=1)
        print(f"| {pooling} | {t_fused:.2f} | {t_separate:.2f} | "
              f"{t_separate / t_fused:.1f}x | "
              f"{'exact' if pooling is None and same else same} |",
              flush=True)


if __name__ == "__main__":
    main()
