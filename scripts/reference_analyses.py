"""Reference runs of the paper's Sec. 4 analyses on the shipped presets.

1. Diagnosis (Fig. 6) of the shipped pair: `MiniZFNet(weights=
   "fashion_mnist")` (5x5 stride-1 first layer) vs
   `"fashion_mnist_alexnet"` (9x9 stride 2), trained identically, on the
   first 256 Fashion-MNIST test images.
2. Invariance (Fig. 5) of the `fashion_mnist` preset on the first 10 test
   images of every class (100 images, means with 95% bands): vertical
   translation, scale, rotation; layers conv1 and fc7 (the paper's layers 1
   and 7).
3. Correspondence (Sec. 4.3, Table 1) on 10 ankle boots (toe, heel, shaft
   opening) and 10 shirts (collar, left sleeve), layers conv5 and fc7, boxes
   placed per image relative to the object's bounding box.

Usage:
    python scripts/reference_analyses.py [--output docs/images]
        [--sections diagnosis,invariance,correspondence]
Prints the reports and tables (Markdown); writes fig6_diagnosis.png and
fig5_invariance.png to --output.
"""

import argparse
import os

import numpy as np

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def bounding_box(image, threshold=30):
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def _box(r0, c0, size=7, limit=28):
    r0 = int(np.clip(r0, 0, limit - size))
    c0 = int(np.clip(c0, 0, limit - size))
    return (r0, r0 + size, c0, c0 + size)


def boot_parts(images):
    """Toe (bottom left), heel (bottom right), shaft opening (top right)."""
    parts = {"toe": [], "heel": [], "shaft opening": []}
    for image in images:
        r0, r1, c0, c1 = bounding_box(image)
        parts["toe"].append(_box(r1 - 7, c0))
        parts["heel"].append(_box(r1 - 7, c1 - 7))
        parts["shaft opening"].append(_box(r0, c1 - 7))
    return parts


def shirt_parts(images):
    """Collar (top centre) and left sleeve (left edge, middle)."""
    parts = {"collar": [], "left sleeve": []}
    for image in images:
        r0, r1, c0, c1 = bounding_box(image)
        parts["collar"].append(_box(r0, (c0 + c1) // 2 - 3))
        parts["left sleeve"].append(_box((r0 + r1) // 2 - 3, c0))
    return parts


def diagnosis_section(kz, x, output):
    models = {name: kz.MiniZFNet(weights=name)
              for name in ("fashion_mnist", "fashion_mnist_alexnet")}
    diagnoses = {}
    for name, model in models.items():
        diagnoses[name] = kz.diagnose(model, x)
        print(f"## {name}\n{diagnoses[name]}\n")
    keys = ["rms_spread", "dead_by_norm", "never_active", "band_low",
            "band_mid", "band_high", "aliasing"]
    print("| measure | fashion_mnist (5x5/1) | fashion_mnist_alexnet (9x9/2) "
          "| worse for AlexNet-style? |")
    print("| --- | ---: | ---: | --- |")
    zf, alex = (diagnoses[n].measures for n in models)
    # Higher is worse for all but the mid-band share.
    for key in keys:
        worse = alex[key] < zf[key] if key == "band_mid" else \
            alex[key] > zf[key]
        print(f"| {key} | {zf[key]:.4g} | {alex[key]:.4g} | "
              f"{'yes' if worse else 'no'} |")
    for period in (2, 4):
        scores = [kz.diagnose(m, x, aliasing_period=period).measures[
            "aliasing"] for m in models.values()]
        print(f"| aliasing at period {period} | {scores[0]:.4g} | "
              f"{scores[1]:.4g} | {'yes' if scores[1] > scores[0] else 'no'}"
              " |")
    figure = diagnoses["fashion_mnist_alexnet"].plot(
        compare=diagnoses["fashion_mnist"],
        titles=["AlexNet-style conv1 9x9/2", "ZFNet-style conv1 5x5/1"])
    figure.savefig(os.path.join(output, "fig6_diagnosis.png"), dpi=90)


def invariance_section(kz, x, y, output):
    """Fig. 5 on the first 10 test images of every class (100 images), with
    95% bands over images (`InvarianceResult.interval`)."""
    model = kz.MiniZFNet(weights="fashion_mnist")
    picks = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(10)])
    images, labels = x[picks], y[picks]
    settings = (("translate", np.arange(-8, 9, 1)),
                ("scale", np.round(np.arange(0.6, 1.61, 0.1), 2)),
                ("rotate", np.arange(0, 361, 15)))
    results = [kz.invariance(model, images, t, a, ["conv1", "fc7"], labels,
                             verbose=0) for t, a in settings]

    def cell(values, j):
        mean, low, high = values
        return f"{mean[j]:.3f} [{low[j]:.3f}, {high[j]:.3f}]"

    print(f"\n{len(images)} images; mean over images [95% band]\n")
    print("| transform | amount | conv1 distance | fc7 distance | "
          "P(true class) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for result in results:
        bands = [result.interval(w) for w in ("conv1", "fc7", "probability")]
        for j in np.linspace(0, len(result.amounts) - 1, 5).astype(int):
            amount = result.axis_values[j]
            print(f"| {result.transform} | {amount:g} | "
                  + " | ".join(cell(b, j) for b in bands) + " |")
    figure = results[0].plot(*results[1:], class_names=CLASS_NAMES)
    figure.savefig(os.path.join(output, "fig5_invariance.png"), dpi=90)


def correspondence_section(kz, x, y):
    model = kz.MiniZFNet(weights="fashion_mnist")
    rows = []
    for label, parts_of in ((9, boot_parts), (6, shirt_parts)):
        images = x[np.flatnonzero(y == label)[:10]]
        result = kz.correspondence(model, images, parts_of(images[..., 0]),
                                   ["conv5", "fc7"], random_trials=99,
                                   verbose=0)
        for row in result.table:
            rows.append(dict(row, part=f"{CLASS_NAMES[label]}: "
                             f"{row['part']}"))
    print("\n| part | layer | mean | std | random mean | random std | p | "
          "consistent (p <= 0.05)? |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['part']} | {r['layer']} | {r['mean']:.3f} | "
              f"{r['std']:.3f} | {r['random_mean']:.3f} | "
              f"{r['random_std']:.3f} | {r['p_value']:.2f} | "
              f"{'yes' if r['p_value'] <= 0.05 else 'no'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="docs/images")
    parser.add_argument("--sections", default="diagnosis,invariance,"
                        "correspondence", help="comma-separated")
    args = parser.parse_args(argv)
    sections = [name.strip() for name in args.sections.split(",")]
    known = ("diagnosis", "invariance", "correspondence")
    unknown = [name for name in sections if name not in known]
    if unknown:
        parser.error(f"--sections takes names among {', '.join(known)}; "
                     f"unknown: {', '.join(unknown)}")
    os.makedirs(args.output, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import keras_zfnet as kz

    (_, _), (x, y) = kz.datasets.fashion_mnist.load_data()
    x = x[..., None].astype("float32")
    if "diagnosis" in sections:
        diagnosis_section(kz, x[:256], args.output)
    if "invariance" in sections:
        invariance_section(kz, x, y, args.output)
    if "correspondence" in sections:
        correspondence_section(kz, x, y)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
