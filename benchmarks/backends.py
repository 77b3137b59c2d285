"""The same work on TensorFlow, JAX and PyTorch, side by side in one run.

Each backend and model runs in its own process (Keras fixes the backend at import),
one after the other, on the same images and weights. Every ratio is taken
against that backend's own compiled forward pass (`model.predict` for the
scans), so the ratios say what keras_zfnet adds on each backend; the
absolute times say which backend is fastest for what on this machine.

Rows, per model (MiniZFNet at 28 px; ZFNet at 224 px, random weights):
- `forward`: one image through the compiled model (ms).
- `1 projection`: `Deconvnet.project` of one channel of `conv5` on one
  image (ms) and its ratio to `forward` (target <= 1.5x).
- `64 channels`: a loop of 64 one-channel projections over one call with
  all 64 (ratio, target >= 5x; 3 rounds after a warm-up, each the loop
  then 3 calls back to back: the call's time is the median of the calls
  that follow a call, and the first call, which follows the loop and runs
  cold, has its own row; see `loop_and_batch`).
- `top-9 scan`: `top_activations(conv5, k=9)` over N images vs
  `model.predict` on them (ratio, target <= 1.10x).
- `occlusion`: occluded images per second over forward images per second
  in batches of 64 (ratio, target >= 1.0x; interleaved).
- `browse`: `kz.browse` of conv5 (k=9) over N images, absolute (s); for
  ZFNet one run including compilation.

Usage:
    python benchmarks/backends.py [--quick | --models MiniZFNet,ZFNet]
        [--backends tensorflow,jax,torch]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

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
    # (name, build, input shape, images, repeats, single repeats, browse
    # warm-up): the forward and the single projection alternate `single
    # repeats` times (medians; 10 alternations of MiniZFNet's 1 ms calls
    # moved the ratio between 1.42x and 1.68x from run to run); the loop of
    # 64 projections and the one call run in 3 rounds (`loop_and_batch`);
    # ZFNet's browse (2,304 seeds) runs once with compilation.
    cases = [("MiniZFNet", lambda: kz.MiniZFNet(weights="fashion_mnist"),
              (28, 28, 1), 512, 5, 200, 1),
             ("ZFNet", lambda: kz.ZFNet(weights=None),
              (224, 224, 3), 16, 3, 20, 0)]
    cases = [case for case in cases if case[0] in models]
    for (name, build, shape, count, repeats, single_repeats,
         browse_warmup) in cases:
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
        ], repeats=single_repeats, warmup=3)
        t_loop, t_batch, t_batch_first = loop_and_batch(
            lambda: [to_numpy(dn.project(one, "conv5", [c], verbose=0))
                     for c in range(64)],
            lambda: to_numpy(dn.project(one, "conv5", list(range(64)),
                                        verbose=0)))
        t_predict, t_scan = interleaved([
            lambda: model.predict(images, batch_size=64, verbose=0),
            lambda: kz.top_activations(model, images, "conv5", k=9,
                                       batch_size=64, verbose=0),
        ], repeats=repeats, warmup=1)
        occluded = images[:2]
        stride = 3 if name == "MiniZFNet" else 16
        patch = 7 if name == "MiniZFNet" else 48
        positions = kz.occlusion_sensitivity(
            model, occluded[:1], patch, stride, verbose=0).probability.size
        batch = images[:64]
        t_occlusion, t_batch_forward = interleaved([
            lambda: kz.occlusion_sensitivity(model, occluded, patch, stride,
                                             verbose=0),
            lambda: to_numpy(forward(batch)),
        ], repeats=max(3, repeats), warmup=1)
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
            batch_first_s=t_batch_first,
            predict_s=t_predict, scan_s=t_scan, scan_ratio=t_scan / t_predict,
            occluded_per_s=occluded_per_s, forward_per_s=forward_per_s,
            occlusion_ratio=occluded_per_s / forward_per_s,
            browse_s=t_browse, images=count)
    print("RESULT " + json.dumps(rows))


def loop_and_batch(loop, batch, rounds=3, calls=3):
    """Median seconds of `loop()` and of `batch()` over `rounds` rounds
    (after one warm-up round), and the median of each round's first
    `batch()` call.

    Each round runs the loop (64 calls back to back), then `calls` batch
    calls back to back: the batch's time is the median of the calls after
    the first, each one following a call of its own kind as the loop's
    calls do. The first call follows the loop and runs cold (JAX,
    MiniZFNet: 15 against 10 ms; its idle second core and thread pool
    wake for it); it is reported on its own row, not hidden.
    """
    loops, firsts, steadies = [], [], []
    for round_ in range(rounds + 1):
        start = time.perf_counter()
        loop()
        elapsed = time.perf_counter() - start
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            batch()
            times.append(time.perf_counter() - start)
        if round_:
            loops.append(elapsed)
            firsts.append(times[0])
            steadies.append(statistics.median(times[1:]))
    return (statistics.median(loops), statistics.median(steadies),
            statistics.median(firsts))


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
    # One process per backend and model: what one model's runs leave in
    # the process (compiled functions, allocator and thread state) moved
    # the next model's timings (JAX, ZFNet's 64-channel call after
    # MiniZFNet's runs: 0.58 s once, against 0.33-0.39 s alone).
    for model in models.split(","):
        for backend in args.backends.split(","):
            command = [sys.executable, __file__, "--child", backend,
                       "--models", model]
            env = dict(os.environ, KERAS_BACKEND=backend,
                       TF_CPP_MIN_LOG_LEVEL="3")
            done = subprocess.run(command, capture_output=True, text=True,
                                  env=env)
            lines = [line for line in done.stdout.splitlines()
                     if line.startswith("RESULT ")]
            if done.returncode or not lines:
                print(f"{backend} {model}: failed\n{done.stderr[-3000:]}")
                continue
            result = json.loads(lines[-1][len("RESULT "):])
            results.setdefault(backend, {}).update(result)
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
        ("  first call after the loop (s)", "batch_first_s", "{:.3f}"),
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
