"""Unit browser: time and size of the whole site, and first paint.

Cases (issue 16):

- MiniZFNet preset (`kz.MiniZFNet(weights="fashion_mnist")`) over the
  10,000 Fashion-MNIST test images, conv1..conv5 (352 units), k = 9:
  targets whole site <= 60 s on 2 CPU cores and <= 20 MB on disk;
- ZFNet (224 px, random weights) over 500 smooth random colour images
  (`--images 200` for issue 22's case), conv5 only (256 units, JPEG
  sheets): time and size, and the whole site against `model.predict` on
  the same images (target <= 4x), beside the bound of its work: the scan,
  one forward pass per image and one batched mirror pass per seed.

Each case runs `kz.browse` once cold (a fresh model: XLA compilation
included, as a user sees it), then the scan and the site writing again
warm, to split the time. Wall and CPU time (all threads) are printed: the
machine may be shared, and CPU time does not grow with other processes'
load. With playwright and chromium installed, the time from opening
`index.html#<layer>` to a painted grid with its sprite sheet loaded is
measured too (target < 1 s).

Usage: python benchmarks/browser.py [--case mini|zfnet|all] [--images N]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def folder_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def say(message):
    print(message, file=sys.stderr, flush=True)


def clock():
    return time.perf_counter(), time.process_time()


def since(start):
    return time.perf_counter() - start[0], time.process_time() - start[1]


def first_paint(index, layer, repeats=3):
    """Median ms from navigation to the layer grid painted with its sheet
    loaded, or None without playwright / chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(CHROMIUM):
        return None
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox"])
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"file://{os.path.abspath(index)}#{layer}",
                      wait_until="commit")
            page.wait_for_function(
                "window.KZ && document.querySelector('#grid') && "
                "Object.values(KZ.images).length && "
                "Object.values(KZ.images).every(s => s === 'loaded')")
            # ms since navigation start: the grid rendered and its sheet
            # decoded, whichever came last.
            times.append(page.evaluate(
                "Math.max(KZ.renderedAt, KZ.loadedAt || 0)"))
            page.close()
        browser.close()
    return float(np.median(times))


def run_case(name, model_fn, images, layers, k, labels=None,
             class_names=None, display=None, batch_size=64):
    import keras_zfnet as kz
    from keras_zfnet.analysis._utils.browse_scan import browse_scan
    from keras_zfnet.analysis.browse import write_browser

    out = tempfile.mkdtemp(prefix="kz_browser_bench_")
    site = os.path.join(out, "units")
    model = model_fn()
    start = clock()
    index = kz.browse(model, images, layers=layers, k=k, output_dir=site,
                      labels=labels, class_names=class_names,
                      display=display, batch_size=batch_size, verbose=0)
    cold_wall, cold_cpu = since(start)
    size = folder_size(site)
    files = sum(len(f) for _, _, f in os.walk(site))
    start = clock()
    scan = browse_scan(model, images, layers, k=k, batch_size=batch_size,
                       verbose=0)
    scan_wall, scan_cpu = since(start)
    start = clock()
    write_browser(scan, images, site, display=display, batch_size=batch_size,
                  verbose=0)
    write_wall, write_cpu = since(start)
    units = sum(len(scan.top[n].channels) for n in scan.layers)
    dead = sum(int((scan.top[n].values[:, 0] <= 0).sum())
               for n in scan.layers)
    say(f"{name}: whole site {cold_wall:.1f} s wall / {cold_cpu:.1f} s CPU, "
        f"scan {scan_wall:.1f} / {scan_cpu:.1f}, writing {write_wall:.1f} / "
        f"{write_cpu:.1f}, {size / 1e6:.2f} MB")
    try:
        paint = first_paint(index, scan.layers[-1])
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        say(f"first paint not measured: {error}")
        paint = None
    shutil.rmtree(out)
    return dict(case=name, images=len(images), units=units, dead=dead,
                cold_wall=cold_wall, cold_cpu=cold_cpu, scan_wall=scan_wall,
                scan_cpu=scan_cpu, write_wall=write_wall,
                write_cpu=write_cpu, size=size, files=files, paint=paint)


def mini_case(count):
    import keras_zfnet as kz
    from keras_zfnet.datasets import fashion_mnist

    x, y, source = fashion_mnist.load_test_data(verbose=0)
    x = np.asarray(x[:count], "float32")
    x = x[..., None] if x.ndim == 3 else x
    print(f"MiniZFNet: {len(x)} images from {source}", file=sys.stderr)
    return run_case(
        "MiniZFNet conv1-5", lambda: kz.MiniZFNet(weights="fashion_mnist"),
        x, ["conv1", "conv2", "conv3", "conv4", "conv5"], 9,
        labels=np.asarray(y[:count]),
        class_names=list(fashion_mnist.CLASS_NAMES), display="raw")


def zfnet_case(count):
    import keras_zfnet as kz

    import tensorflow as tf

    # Smooth random images (14x14 noise, bilinear to 224x224), closer to
    # photographs than pixel noise (which no image format compresses).
    rng = np.random.default_rng(0)
    coarse = rng.uniform(-1, 1, (count, 14, 14, 3)).astype("float32")
    x = tf.image.resize(coarse, (224, 224)).numpy()
    row = run_case("ZFNet conv5 (random)", lambda: kz.ZFNet(weights=None),
                   x, ["conv5"], 9, batch_size=32)
    row.update(predict_and_bound(kz.ZFNet(weights=None), x, "conv5", 9,
                                 row["units"], row["scan_wall"]))
    return row


def predict_and_bound(model, x, layer, k, units, scan_wall):
    """`model.predict` on the same images, and the bound of the browser's
    work: the scan, one forward pass per image, and one batched mirror
    pass per seed (measured: a pass of 32 seeds on one image, less one
    forward pass of that image)."""
    import keras_zfnet as kz
    from keras_zfnet.analysis._utils.browse_data import PROJECTION_BATCH

    model.predict(x[:32], batch_size=32, verbose=0)
    start = clock()
    model.predict(x, batch_size=32, verbose=0)
    predict = since(start)[0]
    dn = kz.Deconvnet.shared(model)
    seeds = PROJECTION_BATCH
    rng = np.random.default_rng(0)
    shape = dn._graph(x.shape[1:]).nodes[
        dn._graph(x.shape[1:]).by_name[layer]].output_shape
    channels = rng.integers(0, shape[-1], seeds)
    positions = rng.integers(0, shape[0], (seeds, 2))

    def project(count):
        return dn.project_positions(
            x[:1], layer, channels[:count], positions[:count],
            batch_size=seeds, image_indices=np.zeros(count, "int64"))

    def best(function, repeats=3):
        function()
        times = []
        for _ in range(repeats):
            start = clock()
            function()
            times.append(since(start)[0])
        return min(times)

    one = best(lambda: project(1))
    batch = best(lambda: project(seeds))
    per_seed = max(0.0, batch - one) / (seeds - 1)
    forward = predict / len(x)
    entries = units * k
    bound = scan_wall + len(x) * forward + entries * per_seed
    say(f"predict {predict:.2f} s; mirror {per_seed * 1e3:.1f} ms per seed; "
        f"bound {bound:.1f} s")
    return dict(predict=predict, bound=bound, per_seed=per_seed,
                entries=entries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=("mini", "zfnet", "all"),
                        default="all")
    parser.add_argument("--images", type=int, default=None,
                        help="images per case (default 10000 / 500)")
    args = parser.parse_args()
    rows = []
    if args.case in ("mini", "all"):
        rows.append(mini_case(args.images or 10000))
    if args.case in ("zfnet", "all"):
        rows.append(zfnet_case(args.images or 500))
    print(f"cores: {os.cpu_count()}, load average: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("| case | images | units (dead) | whole site wall / CPU s | "
          "scan wall / CPU s (warm) | site writing wall / CPU s (warm) | "
          "size MB (files) | grid first paint ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        paint = "-" if r["paint"] is None else f"{r['paint']:.0f}"
        print(f"| {r['case']} | {r['images']} | {r['units']} ({r['dead']}) | "
              f"{r['cold_wall']:.1f} / {r['cold_cpu']:.1f} | "
              f"{r['scan_wall']:.1f} / {r['scan_cpu']:.1f} | "
              f"{r['write_wall']:.1f} / {r['write_cpu']:.1f} | "
              f"{r['size'] / 1e6:.2f} ({r['files']}) | {paint} |")
    for r in rows:
        if "predict" in r:
            print(f"\n{r['case']}: whole site / model.predict on the same "
                  f"{r['images']} images = {r['cold_wall']:.1f} / "
                  f"{r['predict']:.1f} s = "
                  f"{r['cold_wall'] / r['predict']:.1f}x (target <= 4x); "
                  f"bound (scan + one forward per image + "
                  f"{r['entries']} seeds x {r['per_seed'] * 1e3:.1f} ms "
                  f"batched mirror) = {r['bound']:.1f} s = "
                  f"{r['bound'] / r['predict']:.1f}x")
    print("Targets (MiniZFNet): whole site <= 60 s, <= 20 MB; first paint "
          "< 1000 ms.")


if __name__ == "__main__":
    main()
