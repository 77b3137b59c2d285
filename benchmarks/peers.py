"""keras_zfnet against its peers, side by side in one run, agreement printed.

Every tool of a case runs on the same images, the same weights and the same
seeds / windows; their repeats alternate (`timing.interleaved`), so a
moment of machine noise hits all of them alike. One Markdown table:

    case | tool | ms (median) | ratio to keras_zfnet | agreement

`ratio to keras_zfnet` is the tool's median time over keras_zfnet's median
time in the same case: above 1 the peer is slower (keras_zfnet ahead),
below 1 it is faster. `agreement` is the largest absolute difference from
keras_zfnet's result over the largest magnitude of the compared map (0 is
identical; ~1e-6 is float32 rounding).

Cases (random weights, random continuous inputs, so no ties decide a max):

1. `deconvnet, digits CNN`: a small digits-style CNN at 32x32x1 (Rescaling
   1/255, conv 3x3x16 relu, maxpool 2, conv 3x3x32 relu, maxpool 2, conv
   3x3x32 relu `conv3`, dense 10 softmax), 16 images x 16 channels of
   `conv3`, `mode="max"` (each channel seeded at its first maximum).
   - keras_zfnet: `Deconvnet(model).project(images, "conv3", range(16))`
     (default batch_size=64, i.e. 4 mirror passes), and the same with
     `batch_size=256` (all rows in one pass) for reference.
   - Captum: `NeuronDeconvolution` on a weight-identical PyTorch twin
     (benchmarks/torch_twin.py), all 256 (image, channel) rows in one batch
     (images repeated), each row's neuron selector at its channel's argmax.
   - PyTorch floor: the twin's forward to `conv3` on the 256 rows and one
     `torch.autograd.grad` of the selected maxima, ReLU backward replaced by
     the ReLU of the signal (the deconvnet rule, so the result is the
     projection itself), eager PyTorch, no Captum.
   - TensorFlow floor: the same forward + `tf.GradientTape` gradient with
     `tf.custom_gradient` ReLUs, in one `tf.function`, written on `tf.nn`.
   Captum and the floors seed with 1, keras_zfnet with the activation
   value; their maps are multiplied by each row's activation before
   comparing the (N, K, H, W, C) projections.
2. `occlusion 8px/2, digits CNN`: the same net and 16 images, an 8x8
   occluder at stride 2 (13x13 positions), filled with each image's mean,
   scoring each image's unoccluded top class.
   - keras_zfnet: `occlusion_sensitivity(model, images, 8, 2, labels=...)`.
   - Captum: `Occlusion(twin).attribute(sliding_window_shapes=(1, 8, 8),
     strides=(1, 2, 2), baselines=per-image mean, target=labels)`, with
     `perturbations_per_eval` set so a forward holds as many copies as
     keras_zfnet's automatic batch (1,024 at 32x32x1).
   - PyTorch floor: the twin's `no_grad` forward of all occluded copies in
     batches of the same size, target probability gathered.
   Compared quantity (Captum's convention): the per-pixel drop of the
   target probability, `p(unoccluded) - p(occluded)`, averaged over the
   windows covering the pixel. keras_zfnet's per-position
   `base_probability - probability` and the floor's are converted to it.
3. `occlusion 4px/4 grey, digits CNN`: tf-explain's own grid: a 4x4 patch
   at stride 4 (8x8 positions) filled with 127.5 (hard-coded in
   tf-explain), same tools plus tf-explain's `OcclusionSensitivity`
   (`get_sensitivity_map` per image with that image's class: the work of
   `explain` without its colour heat-map rendering). tf-explain's map is
   `1 - p(occluded)` per patch, bilinearly resized to the image with
   `cv2.resize`; keras_zfnet's `1 - probability` goes through the same
   resize for its agreement. Captum and the floor compare as in case 2.
4. With `--big`: ZFNet 224x224x3 (`kz.ZFNet(weights=None)`, random
   weights, `preprocess_input` of random pixels): `conv5` projections of 2
   images x 4 channels (all tools of case 1), and occlusion of 1 image by a
   48 px window at stride 16 (12x12 positions, mean fill; keras_zfnet,
   Captum with keras_zfnet's batch of 32 copies, the PyTorch floor). The
   twin's LRN passes the signal back unchanged, as the mirror does.

Occluder grids tile the image ((size - patch) divisible by the stride):
there Captum's windows are keras_zfnet's (Captum adds a last window cropped
at the border otherwise; the script refuses such a case).

Inputs are handed to each tool in its own layout (NumPy NHWC for
keras_zfnet, a NCHW tensor for PyTorch/Captum, a `tf.constant` for the TF
floor); every timed call ends with its result read into NumPy.

Usage:
    python benchmarks/peers.py [--repeats 5] [--quick] [--big]
        [--backend tensorflow|jax|torch]

`--quick`: one warm-up call per tool instead of two, and a smaller ZFNet
case under `--big` (1 image x 2 channels; occlusion at stride 44, 5x5
positions).
`--backend` reruns the script in a subprocess with KERAS_BACKEND set
(keras_zfnet runs on that backend; the peers are unchanged). Run it alone
on the machine: the peers use every core.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def digits_cnn():
    """The 32-px digits-style CNN (random weights, seed 0)."""
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 1)),
        layers.Rescaling(1 / 255.0, name="rescale"),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dense(10, activation="softmax", name="predictions"),
    ], name="digits_cnn")
    # A sharper head than Glorot's (probabilities of 0.2-0.9 rather than
    # ~0.1 everywhere), so occlusion drops are well above float32 rounding.
    dense = model.get_layer("predictions")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 20.0, bias])
    return model


def _nchw(images):
    import torch

    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def _relative(reference, other):
    scale = float(np.abs(reference).max())
    return float(np.abs(reference - other).max()) / (scale or 1.0)


def _fmt_agreement(value):
    if isinstance(value, str):
        return value
    return f"{value:.1e}"


# -- TensorFlow floor ------------------------------------------------------

def tf_forward(specs, layer):
    """NHWC `tf.nn` forward of a chain up to `layer`, deconvnet ReLUs."""
    import tensorflow as tf

    @tf.custom_gradient
    def deconv_relu(x):
        return tf.nn.relu(x), lambda dy: tf.nn.relu(dy)

    weights = {}
    for kind, name, p in specs:
        if kind == "conv":
            weights[name] = (tf.constant(p["kernel"]),
                             None if p["bias"] is None
                             else tf.constant(p["bias"]))

    last = max(i for i, (_, name, _) in enumerate(specs) if name == layer)

    def forward(x):
        for kind, name, p in specs[:last + 1]:
            if kind == "scale":
                x = x * p["scale"] + p["offset"]
            elif kind == "pad":
                left, right, top, bottom = p["pad"]
                x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
            elif kind == "conv":
                left, right, top, bottom = p["pad"]
                if any(p["pad"]):
                    x = tf.pad(x, [[0, 0], [top, bottom], [left, right],
                                   [0, 0]])
                kernel, bias = weights[name]
                x = tf.nn.conv2d(x, kernel, p["stride"], "VALID")
                if bias is not None:
                    x = tf.nn.bias_add(x, bias)
            elif kind == "relu":
                x = deconv_relu(x)
            elif kind == "maxpool":
                x = tf.nn.max_pool2d(x, p["pool"], p["stride"], "VALID")
            elif kind == "lrn":
                normalized = tf.nn.local_response_normalization(
                    x, p["radius"], p["bias"], p["alpha"], p["beta"])
                x = x + tf.stop_gradient(normalized - x)
            else:
                raise ValueError(f"TF floor: {kind} before {layer}")
        return x

    return forward


# -- case 1: deconvnet projections -----------------------------------------

def deconv_rows(case, model, images, layer, channels, repeats, warmup):
    import tensorflow as tf
    import torch
    from captum.attr import NeuronDeconvolution

    import keras_zfnet as kz
    from torch_twin import layer_specs
    from torch_twin import torch_twin
    from timing import interleaved

    specs = layer_specs(model)
    twin, index = torch_twin(specs)
    floor, _ = torch_twin(specs, relu="deconvnet")
    floor = floor[: index[layer] + 1]
    n, k = len(images), len(channels)
    rows = n * k
    x_torch = _nchw(images)
    row_channel = torch.tensor(list(channels) * n)
    arange = torch.arange(rows)

    def selector(out):
        flat = out[arange, row_channel].reshape(rows, -1)
        return flat[arange, flat.argmax(dim=1)]

    captum = NeuronDeconvolution(twin, twin[index[layer]])
    dn = kz.Deconvnet(model)

    def run_kz():
        return dn.project(images, layer, list(channels), verbose=0)

    def run_kz_one_pass():
        return dn.project(images, layer, list(channels), batch_size=rows,
                          verbose=0)

    def run_captum():
        x = x_torch.repeat_interleave(k, dim=0).requires_grad_()
        return captum.attribute(x, selector).numpy()

    def run_torch():
        x = x_torch.repeat_interleave(k, dim=0).requires_grad_()
        flat = floor(x)[arange, row_channel].reshape(rows, -1)
        values = flat[arange, flat.argmax(dim=1)]
        (grad,) = torch.autograd.grad(values.sum(), x)
        return grad.numpy(), values.detach().numpy()

    tf_chain = tf_forward(specs, layer)
    tf_channels = tf.constant(list(channels) * n, dtype="int32")

    @tf.function(jit_compile=False)
    def tf_floor(x):
        x = tf.repeat(x, k, axis=0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.transpose(tf_chain(x), (0, 3, 1, 2))
            maps = tf.gather(out, tf_channels, axis=1, batch_dims=1)
            flat = tf.reshape(maps, (rows, -1))
            values = tf.gather(flat, tf.argmax(flat, axis=1), axis=1,
                               batch_dims=1)
            total = tf.reduce_sum(values)
        return tape.gradient(total, x), values

    x_tf = tf.constant(images)

    def run_tf():
        grad, values = tf_floor(x_tf)
        return grad.numpy(), values.numpy()

    tools = [
        ("keras_zfnet `Deconvnet.project`", run_kz),
        (f"keras_zfnet, batch_size={rows} (one pass)", run_kz_one_pass),
        ("Captum `NeuronDeconvolution`, rows batched", run_captum),
        ("PyTorch floor: forward + autograd, deconvnet ReLU", run_torch),
        ("TensorFlow floor: tf.function forward + GradientTape, "
         "deconvnet ReLU", run_tf),
    ]
    times = interleaved([fn for _, fn in tools], repeats, warmup)

    reference = run_kz()  # (N, K, H, W, C)
    torch_grad, values = run_torch()
    values = values.reshape(n, k, 1, 1, 1)

    def as_projection(nchw_rows):
        shaped = nchw_rows.reshape(n, k, *nchw_rows.shape[1:])
        return shaped.transpose(0, 1, 3, 4, 2) * values

    tf_grad, tf_values = run_tf()
    agreements = [
        "reference",
        _relative(reference, run_kz_one_pass()),
        _relative(reference, as_projection(run_captum())),
        _relative(reference, as_projection(torch_grad)),
        _relative(reference, tf_grad.reshape(reference.shape)
                  * tf_values.reshape(n, k, 1, 1, 1)),
    ]
    return [(case, name, t, a)
            for (name, _), t, a in zip(tools, times, agreements)]


# -- cases 2-3: occlusion --------------------------------------------------

def _per_pixel_drop(drop, positions, size):
    """Captum's per-pixel convention from per-position drops."""
    total = np.zeros((len(drop), *size))
    count = np.zeros(size)
    for i in range(positions.shape[0]):
        for j in range(positions.shape[1]):
            r0, r1, c0, c1 = (int(v) for v in positions[i, j])
            total[:, r0:r1, c0:c1] += drop[:, i, j, None, None]
            count[r0:r1, c0:c1] += 1
    return total / np.maximum(count, 1)


def occlusion_rows(case, model, images, patch, stride, fill, repeats, warmup,
                   tf_explain=False):
    import torch
    from captum.attr import Occlusion

    import keras_zfnet as kz
    from keras_zfnet.analysis.occlusion import occluder_grid
    from torch_twin import layer_specs
    from torch_twin import torch_twin
    from timing import interleaved

    twin, _ = torch_twin(layer_specs(model))
    n, height, width, channels = images.shape
    labels = np.argmax(model.predict(images, verbose=0), axis=-1)
    labels = labels.astype("int32")
    x_torch = _nchw(images)
    labels_torch = torch.from_numpy(labels.astype("int64"))
    if fill == "mean":
        fills = images.mean(axis=(1, 2))  # (N, C)
        baselines = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(
            fills[:, :, None, None], x_torch.shape)))
    else:
        fills = np.full((n, channels), float(fill), "float32")
        baselines = float(fill)
    fills_torch = torch.from_numpy(fills)[:, :, None, None]
    # keras_zfnet's automatic batch: ~2 million input values per pass.
    batch = int(np.clip(2_000_000 // (height * width * channels), 32, 1024))
    # Captum slides to ceil((size - patch) / stride) + 1 windows, the last
    # one cropped at the border; the grids agree when the windows tile.
    if (height - patch) % stride or (width - patch) % stride:
        raise ValueError("occlusion cases need (size - patch) % stride == 0")
    positions = occluder_grid((height, width), (patch, patch),
                              (stride, stride))
    boxes = positions.reshape(-1, 4)
    count = len(boxes)
    masks = torch.zeros(count, 1, height, width, dtype=torch.bool)
    for m, (r0, r1, c0, c1) in enumerate(boxes):
        masks[m, :, r0:r1, c0:c1] = True

    occlusion = Occlusion(twin)

    def run_kz():
        return kz.occlusion_sensitivity(model, images, patch, stride,
                                        fill=fill, labels=labels, verbose=0)

    def run_captum():
        return occlusion.attribute(
            x_torch, sliding_window_shapes=(channels, patch, patch),
            strides=(channels, stride, stride), baselines=baselines,
            target=labels_torch,
            perturbations_per_eval=max(1, batch // n)).numpy()

    def run_torch():
        out = torch.empty(n * count)
        with torch.no_grad():
            for start in range(0, n * count, batch):
                index = torch.arange(start, min(n * count, start + batch))
                image, box = index // count, index % count
                copies = torch.where(masks[box], fills_torch[image],
                                     x_torch[image])
                probs = twin(copies)
                out[index] = probs[torch.arange(len(index)),
                                   labels_torch[image]]
        return out.reshape(n, *positions.shape[:2]).numpy()

    tools = [("keras_zfnet `occlusion_sensitivity`", run_kz),
             ("Captum `Occlusion`, batched", run_captum),
             ("PyTorch floor: no_grad forward of the occluded copies",
              run_torch)]
    explainer_note = None
    if tf_explain:
        try:
            import cv2
            from tf_explain.core.occlusion_sensitivity import \
                OcclusionSensitivity
        except Exception as error:  # noqa: BLE001 - any reason is reported
            explainer_note = (f"not installable: {type(error).__name__}: "
                              f"{str(error).splitlines()[0][:80]}")
        else:
            explainer = OcclusionSensitivity()

            def run_tf_explain():
                with contextlib.redirect_stdout(io.StringIO()):
                    return np.stack([
                        explainer.get_sensitivity_map(model, image, int(c),
                                                      patch)
                        for image, c in zip(images, labels)])

            tools.append(("tf-explain `OcclusionSensitivity`",
                          run_tf_explain))
    times = interleaved([fn for _, fn in tools], repeats, warmup)

    result = run_kz()
    drop = result.base_probability[:, None, None] - result.probability
    reference = _per_pixel_drop(drop, result.positions, (height, width))
    with torch.no_grad():
        base = twin(x_torch)[torch.arange(n), labels_torch].numpy()
    floor_drop = base[:, None, None] - run_torch()
    agreements = [
        "reference",
        _relative(run_captum()[:, 0], reference),
        _relative(_per_pixel_drop(floor_drop, result.positions,
                                  (height, width)), reference),
    ]
    if len(tools) > 3:
        resized = np.stack([cv2.resize((1.0 - p).astype("float64"),
                                       (height, width))
                            for p in result.probability])
        agreements.append(_relative(tools[3][1](), resized))
    rows = [(case, name, t, a)
            for (name, _), t, a in zip(tools, times, agreements)]
    if explainer_note:
        rows.append((case, "tf-explain `OcclusionSensitivity`", None,
                     explainer_note))
    return rows


# -- the table -------------------------------------------------------------

def table(rows):
    lines = ["| case | tool | ms (median) | ratio to keras_zfnet | agreement |",
             "| --- | --- | ---: | ---: | --- |"]
    reference = {}
    for case, tool, seconds, _ in rows:
        if tool.startswith("keras_zfnet `") and seconds is not None:
            reference.setdefault(case, seconds)
    for case, tool, seconds, agreement in rows:
        if seconds is None:
            ms = ratio = "-"
        else:
            ms = f"{seconds * 1e3:.1f}"
            ratio = f"{seconds / reference[case]:.2f}x"
        lines.append(f"| {case} | {tool} | {ms} | {ratio} | "
                     f"{_fmt_agreement(agreement)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="one warm-up call; a smaller --big case")
    parser.add_argument("--big", action="store_true",
                        help="add ZFNet 224x224 (slow)")
    parser.add_argument("--backend", default=None,
                        help="Keras backend for keras_zfnet (reruns the "
                             "script with KERAS_BACKEND set)")
    args = parser.parse_args(argv)
    if args.backend and os.environ.get("KERAS_BACKEND") != args.backend:
        env = dict(os.environ, KERAS_BACKEND=args.backend)
        command = [sys.executable, os.path.abspath(__file__)]
        command += sys.argv[1:] if argv is None else list(argv)
        return subprocess.run(command, env=env).returncode

    sys.path.insert(0, HERE)
    warnings.filterwarnings("ignore")
    import keras
    import tensorflow as tf
    import torch

    import keras_zfnet as kz

    warmup = 1 if args.quick else 2
    rng = np.random.default_rng(0)
    model = digits_cnn()
    images = rng.uniform(0, 255, (16, 32, 32, 1)).astype("float32")

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    rows = []
    progress("deconvnet, digits CNN ...")
    rows += deconv_rows("deconvnet, digits CNN 32x32, 16 img x 16 ch",
                        model, images, "conv3", range(16), args.repeats,
                        warmup)
    progress("occlusion 8px/2 ...")
    rows += occlusion_rows("occlusion 8px/2 mean, digits CNN, 16 img",
                           model, images, 8, 2, "mean", args.repeats, warmup)
    progress("occlusion 4px/4 grey ...")
    rows += occlusion_rows("occlusion 4px/4 grey 127.5, digits CNN, 16 img",
                           model, images, 4, 4, 127.5, args.repeats, warmup,
                           tf_explain=True)
    if args.big:
        keras.utils.set_random_seed(0)
        big = kz.ZFNet(weights=None)
        n_img, n_ch, stride = (1, 2, 44) if args.quick else (2, 4, 16)
        pixels = kz.preprocess_input(rng.uniform(0, 255, (n_img, 224, 224, 3)))
        pixels = np.asarray(pixels, "float32")
        progress("ZFNet deconvnet ...")
        rows += deconv_rows(f"deconvnet, ZFNet 224 conv5, {n_img} img x "
                            f"{n_ch} ch", big, pixels, "conv5", range(n_ch),
                            args.repeats, warmup)
        progress("ZFNet occlusion ...")
        rows += occlusion_rows(f"occlusion 48px/{stride} mean, ZFNet 224, "
                               "1 img", big, pixels[:1], 48, stride, "mean",
                               args.repeats, warmup)

    versions = ", ".join(
        f"{name} {_version(dist) or 'absent'}"
        for name, dist in [("keras_zfnet", "keras_zfnet"),
                           ("Keras", "keras"), ("TensorFlow", "tensorflow"),
                           ("PyTorch", "torch"), ("Captum", "captum"),
                           ("tf-explain", "tf-explain")])
    print(f"Keras backend: {keras.backend.backend()}; {versions}; "
          f"CPU threads: {os.cpu_count()} (torch {torch.get_num_threads()},"
          f" TF devices {[d.device_type for d in tf.config.list_logical_devices()]}); "
          f"repeats {args.repeats}, warm-up {warmup}\n")
    print(table(rows))
    print("\nratio: the tool's median time / keras_zfnet's in the same case "
          "(> 1: keras_zfnet faster). agreement: max |difference| / max "
          "|map| against keras_zfnet (projections; per-pixel target-"
          "probability drop for Captum and the floor; tf-explain's resized "
          "1 - p map).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
