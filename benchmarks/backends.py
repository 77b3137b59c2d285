"""The same work on TensorFlow, JAX and PyTorch, side by side in one run.

Each backend runs in its own process (Keras fixes the backend at import),
one after the other, on the same images and weights. Every ratio is taken
against that backend's own compiled forward pass (`model.predict` for the
scans), so the ratios say what keras_zfnet adds on each backend; the
absolute times say which backend is fastest for what on this machine.

Rows, per model (MiniZFNet at 28 px; ZFNet at 224 px, random weights):
- `forward`: one image through the compiled model (ms).
- `1 projection`: `Deconvnet.project` of one channel of `conv5` on one
  image (ms) and its ratio to `forward` (target <= 1.5x).
- `64 channels`: a loop of 64 one-channel projections over one call with
  all 64 (ratio, target >= 5x; medians of 3, interleaved).
- `top-9 scan`: `top_activations(conv5, k=9)` over N images vs
  `model.predict` on them (ratio, target <= 1.10x).
- `occlusion`: occluded images per second over forward images per second
  (ratio, target >= 1.0x).
- `browse`: `kz.browse` of conv5 (k=9) over N images, absolute (s); for
  ZFNet one run including compilation.

Usage:
    python benchmarks/backends.py [--quick | --models MiniZFNet,ZFNet]
        [--backends tensorflow,jax,torch]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def child(backend, models):
    os.environ["KERAS_BACKEND"] = backend
    sys.path.insert(0, HERE)
    import keras
    import numpy as np

    import keras_zfnet as kz
    from keras_zfnet import backend as kz_backend
    from timing import interleaved
    from timing import timed

    rng = np.random.default_rng(0)
    rows = {}
    # (name, build, input shape, images, repeats, browse warm-up): the loop
    # of 64 projections and the one call run 3 times each, interleaved,
    # after one warm-up (medians; single runs of ZFNet's moved by 1.2x
    # between runs); ZFNet's browse (2,304 seeds) runs once with
    # compilation.
    cases = [("MiniZFNet", lambda: kz.MiniZFNet(weights="fashion_mnist"),
              (28, 28, 1), 512, 5, 1),
             ("ZFNet", lambda: kz.ZFNet(weights=None),
              (224, 224, 3), 16, 3, 0)]
    cases = [case for case in cases if case[0] in models]
    for name, build, shape, count, repeats, browse_warmup in cases:
        keras.utils.set_random_seed(0)
        model = build()
        images = rng.uniform(0, 255, (count, *shape)).astype("float32")
        one = images[:1]
        forward = kz_backend.compile_function(
            lambda x: model(x, training=False), variables=model.variables)
        dn = kz.Deconvnet(model)

        def to_numpy(x):
            return keras.ops.convert_to_numpy(x)

        t_forward, t_project = interleaved([
            lambda: to_numpy(forward(one)),
            lambda: to_numpy(dn.project(one, "conv5", [0], verbose=0)),
        ], repeats=repeats * 2)
        t_loop, t_batch = interleaved([
            lambda: [to_numpy(dn.project(one, "conv5", [c], verbose=0))
                     for c in range(64)],
            lambda: to_numpy(dn.project(one, "conv5", list(range(64)),
                                        verbose=0)),
        ], repeats=3, warmup=1)
        t_predict, t_scan = interleaved([
            lambda: model.predict(images, batch_size=64, verbose=0),
            lambda: kz.top_activations(model, images, "conv5", k=9,
                                       batch_size=64, verbose=0),
        ], repeats=repeats, warmup=1)
        occluded = images[:2]
        stride = 3 if name == "MiniZFNet" else 16
        patch = 7 if name == "MiniZFNet" else 48
        t_occlusion = timed(lambda: kz.occlusion_sensitivity(
            model, occluded, patch, stride, verbose=0),
            repeats=max(2, repeats // 2), warmup=1)
        positions = kz.occlusion_sensitivity(
            model, occluded[:1], patch, stride, verbose=0).probability.size
        batch = images[:64]
        t_batch_forward = timed(lambda: to_numpy(forward(batch)),
                                repeats=repeats, warmup=2)
        occluded_per_s = 2 * positions / t_occlusion
        forward_per_s = len(batch) / t_batch_forward
        with tempfile.TemporaryDirectory() as folder:
            t_browse = timed(lambda: kz.browse(
                model, images, ["conv5"], k=9, overwrite=True, verbose=0,
                output_dir=os.path.join(folder, "site")), repeats=1,
                warmup=browse_warmup)
        rows[name] = dict(
            forward_ms=1e3 * t_forward, project_ms=1e3 * t_project,
            project_ratio=t_project / t_forward,
            loop_s=t_loop, batch_s=t_batch, batch_ratio=t_loop / t_batch,
            predict_s=t_predict, scan_s=t_scan, scan_ratio=t_scan / t_predict,
            occluded_per_s=occluded_per_s, forward_per_s=forward_per_s,
            occlusion_ratio=occluded_per_s / forward_per_s,
            browse_s=t_browse, images=count)
    print("RESULT " + json.dumps(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="MiniZFNet only (same as --models MiniZFNet)")
    parser.add_argument("--models", default="MiniZFNet,ZFNet",
                        help="comma-separated: MiniZFNet, ZFNet")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and args.models != parser.get_default("models"):
        parser.error("--quick runs MiniZFNet only; use --models or --quick")
    models = "MiniZFNet" if args.quick else args.models
    unknown = set(models.split(",")) - {"MiniZFNet", "ZFNet"}
    if unknown:
        parser.error(f"--models takes MiniZFNet and/or ZFNet; unknown: "
                     f"{', '.join(sorted(unknown))}")
    if args.child:
        child(args.child, models.split(","))
        return
    results = {}
    for backend in args.backends.split(","):
        command = [sys.executable, __file__, "--child", backend,
                   "--models", models]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run(command, capture_output=True, text=True,
                              env=env)
        lines = [line for line in done.stdout.splitlines()
                 if line.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{backend}: failed\n{done.stderr[-3000:]}")
            continue
        results[backend] = json.loads(lines[-1][len("RESULT "):])
        print(f"{backend}: {lines[-1][len('RESULT '):]}", flush=True)
    backends = list(results)
    models = sorted({m for r in results.values() for m in r},
                    key=["MiniZFNet", "ZFNet"].index)
    rows = [
        ("forward, 1 image (ms)", "forward_ms", "{:.2f}"),
        ("1 projection conv5 (ms)", "project_ms", "{:.2f}"),
        ("  / forward (<= 1.5x)", "project_ratio", "{:.2f}x"),
        ("64 channels: loop (s)", "loop_s", "{:.3f}"),
        ("64 channels: one call (s)", "batch_s", "{:.3f}"),
        ("  loop / one call (>= 5x)", "batch_ratio", "{:.1f}x"),
        ("predict N images (s)", "predict_s", "{:.3f}"),
        ("top-9 scan conv5 (s)", "scan_s", "{:.3f}"),
        ("  scan / predict (<= 1.10x)", "scan_ratio", "{:.2f}x"),
        ("occluded images / s", "occluded_per_s", "{:.0f}"),
        ("forward images / s", "forward_per_s", "{:.0f}"),
        ("  occlusion / forward (>= 1.0x)", "occlusion_ratio", "{:.2f}x"),
        ("browse conv5 k=9 (s; ZFNet incl. compile)", "browse_s", "{:.2f}"),
    ]
    for model in models:
        count = next(r[model]["images"] for r in results.values()
                     if model in r)
        print(f"\n{model} (N = {count} images)\n")
        print("| | " + " | ".join(backends) + " |")
        print("| --- |" + " ---: |" * len(backends))
        for label, key, fmt in rows:
            cells = [fmt.format(results[b][model][key])
                     if model in results[b] else "-" for b in backends]
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
