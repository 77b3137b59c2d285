"""The demo report's figure sections (paper Fig. 2, 4, 5, 6, 7).

Each function adds one section to `ctx.report` and returns the numbers it
measured (they go to `results.json`). Captions are computed from those
numbers: a sentence about an effect is only written when the numbers show
it.
"""

import numpy as np

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def _strongest_features(top, count):
    """The `count` features with the largest top-1 activations."""
    order = np.argsort(-top.values[:, 0], kind="stable")
    alive = [i for i in order if top.indices[i, 0] >= 0 and
             top.values[i, 0] > 0]
    return np.asarray(alive[:count], dtype="int64")


def _purity(top, labels):
    """Mean over a layer's channels (that fired) of the share of their
    top-9 images in one class."""
    shares = top.class_purity(labels)
    return float(np.nanmean(shares)) if np.isfinite(shares).any() else (
        float("nan"))


def _random_weights_tops(ctx):
    """The same scan on the same architecture with random weights (the
    control for class purity)."""
    import keras
    import keras_zfnet as kz

    keras.utils.set_random_seed(ctx.seed)
    control = kz.MiniZFNet(weights=None)
    return kz.top_activations(control, ctx.x, list(LAYERS), k=9,
                              batch_size=256, verbose=0)


def fig2(ctx):
    import keras_zfnet as kz

    tops = kz.top_activations(ctx.model, ctx.x, list(LAYERS), k=9,
                              batch_size=256, verbose=ctx.verbose)
    ctx.tops = tops
    control = _random_weights_tops(ctx)
    chance = float(np.bincount(ctx.y).max() / len(ctx.y))
    rows, numbers = [], {}
    for layer in LAYERS:
        top = tops[layer]
        features = _strongest_features(top, ctx.settings["features"])
        purity = _purity(top, ctx.y)
        random_purity = _purity(control[layer], ctx.y)
        size = top.receptive_field.size
        numbers[layer] = dict(receptive_field=list(map(int, size)),
                              class_purity=purity,
                              random_weights_class_purity=random_purity,
                              channels=int(len(top.channels)),
                              features=features.tolist())
        rows.append((layer, f"{size[0]}x{size[1]}", len(top.channels),
                     f"{purity:.0%}", f"{random_purity:.0%}"))
    first, last = numbers["conv1"]["class_purity"], numbers["conv5"][
        "class_purity"]
    trend = ("rises" if last > first + 0.05 else
             "does not rise" if last <= first else "rises only slightly")
    gaps = [numbers[n]["class_purity"] -
            numbers[n]["random_weights_class_purity"] for n in LAYERS]
    above = sum(g > 0.05 for g in gaps)
    ctx.report.section(
        "Fig. 2: what each layer responds to",
        "Paper: projections of the top-9 activations show that layer 1-2 "
        "features respond to edges and colours, and deeper features to "
        "larger, more class-specific structure. This run: over all "
        "channels of each layer, the share of a channel's top-9 images "
        f"that belong to one class {trend} from conv1 ({first:.0%}) to "
        f"conv5 ({last:.0%}), while the receptive field grows from "
        f"{rows[0][1]} to {rows[-1][1]} pixels. The same architecture with "
        "random weights (the control: purity that comes from the images "
        f"alone) gives {numbers['conv1']['random_weights_class_purity']:.0%}"
        f" at conv1 and "
        f"{numbers['conv5']['random_weights_class_purity']:.0%} at conv5; "
        f"the trained net is more than 5 points purer in {above} of "
        f"{len(LAYERS)} layers (the largest class holds {chance:.0%} of "
        "the images).",
        id="fig2")
    ctx.report.table(["layer", "receptive field", "channels",
                      "top-9 images of one class (trained)",
                      "same, random weights"], rows,
                     "Mean over the channels that fired.",
                     name="fig2_layers")
    for layer in LAYERS:
        features = np.asarray(numbers[layer]["features"], "int64")
        if not len(features):
            continue
        figure = tops[layer].plot(ctx.x, features=features,
                                  title=f"{layer}: top 9 of "
                                        f"{len(features)} features")
        ctx.report.figure(figure, f"{layer}: projections (left) and "
                          "receptive-field patches (right)",
                          name=f"fig2_{layer}.png", grid=True)
    return numbers


def fig4(ctx):
    from keras_zfnet.callbacks import settle_epochs
    from keras_zfnet.plotting.evolution import plot_evolution

    if ctx.args.train:
        from keras_zfnet.cli.demo_training import train_with_callbacks

        history, images, origin = train_with_callbacks(ctx)
    else:
        from keras_zfnet.callbacks import load_evolution_record

        try:
            history, images = load_evolution_record("fashion_mnist",
                                                    return_images=True)
        except ValueError:
            ctx.report.section(
                "Fig. 4: feature evolution during training",
                "Paper: lower layers converge within a few epochs, upper "
                "layers only after 40-50 epochs. This run: no evolution "
                "record of the fashion_mnist preset is installed with this "
                "version of keras-zfnet; run `keras-zfnet demo --train` to "
                "record one on this machine.", id="fig4")
            return dict(available=False)
        origin = "the shipped evolution record of the fashion_mnist preset"
    settle = {layer: int(epoch) for layer, epoch in
              settle_epochs(history).items()}
    epochs = sorted(history)
    layers = [layer for layer in LAYERS if layer in settle] or list(settle)
    low, high = settle[layers[0]], settle[layers[-1]]
    if low < high:
        verdict = (f"{layers[0]} settles at epoch {low}, before "
                   f"{layers[-1]} (epoch {high}), as in the paper")
    elif low == high:
        verdict = (f"{layers[0]} and {layers[-1]} settle at the same listed "
                   f"epoch ({low}): the paper's earlier convergence of lower "
                   "layers is not visible here")
    else:
        verdict = (f"{layers[0]} settles later (epoch {low}) than "
                   f"{layers[-1]} (epoch {high}): unlike the paper")
    ctx.report.section(
        "Fig. 4: feature evolution during training",
        "Paper: the strongest activation of each feature, projected at "
        "epochs 1 to 64, stabilises within a few epochs in lower layers and "
        f"only after 40-50 epochs in upper layers. This run ({origin}, "
        f"epochs {', '.join(map(str, epochs))}): {verdict}. A layer settles "
        "when from that epoch on every feature keeps its strongest probe "
        "image and its projection correlates >= 0.9 with the last epoch's.",
        id="fig4")
    ctx.report.table(["layer", "settles at epoch"],
                     [(layer, settle[layer]) for layer in settle],
                     name="fig4_settle")
    ctx.report.figure(plot_evolution(history, images),
                      "Rows: features by layer; columns: epochs. Each "
                      "projection beside the probe image that produced it.",
                      name="fig4_evolution.png")
    return dict(available=True, origin=origin, epochs=epochs, settle=settle)


def fig5(ctx):
    import keras_zfnet as kz
    from keras_zfnet.datasets.fashion_mnist import CLASS_NAMES

    count = ctx.settings["invariance_images"]
    picks = np.random.default_rng(ctx.seed).permutation(len(ctx.x))[:count]
    images, labels = ctx.x[picks], ctx.y[picks]
    step = ctx.settings["invariance_step"]
    settings = (("translate", np.arange(-8, 9, 2 * step)),
                ("scale", np.round(np.arange(0.6, 1.61, 0.1 * step), 2)),
                ("rotate", np.arange(0, 361, 15 * step)))
    results = [kz.invariance(ctx.model, images, t, a, ["conv1", "fc7"],
                             labels, verbose=0) for t, a in settings]
    translate, scale, rotate = results
    near = np.abs(translate.axis_values) == 4
    quarter = np.isin(rotate.amounts, (90, 270))
    identity = rotate.amounts == 0

    def band(result, what, where):
        """Mean and 95% band of the per-image mean over `where`."""
        values = (result.probabilities if what == "probability" else
                  result.distances[what])[:, where].mean(axis=1)
        half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
        return float(values.mean()), float(half)

    d1, d1_half = band(translate, "conv1", near)
    d7, d7_half = band(translate, "fc7", near)
    p_shift, p_shift_half = band(translate, "probability", near)
    p_rot, p_rot_half = band(rotate, "probability", quarter)
    p_ident, _ = band(rotate, "probability", identity)
    # Per image: fc7 distance minus conv1 distance at a 4-pixel shift.
    diff = (translate.distances["fc7"][:, near].mean(axis=1)
            - translate.distances["conv1"][:, near].mean(axis=1))
    diff_half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    layers = ("fc7 changes less than conv1"
              if diff.mean() + diff_half < 0 else
              "fc7 changes more than conv1 (unlike the paper)"
              if diff.mean() - diff_half > 0 else
              "fc7 and conv1 change alike (not decided by these images)")
    rotation = ("not rotation invariant" if p_rot + p_rot_half <
                0.5 * p_ident else
                "largely rotation invariant (unlike the paper)"
                if p_rot - p_rot_half >= 0.5 * p_ident else
                "somewhat rotation sensitive (not decided)")
    ctx.report.section(
        "Fig. 5: invariance to translation, scale and rotation",
        "Paper: small transformations change layer-1 features a lot and "
        "top-layer features much less; the output is fairly invariant to "
        "translation and scaling, not to rotation (except for symmetric "
        f"objects). This run ({len(picks)} random test images, means with "
        f"95% intervals): a 4-pixel shift moves conv1 features by {d1:.2f} "
        f"+- {d1_half:.2f} and fc7 features by {d7:.2f} +- {d7_half:.2f} "
        f"(relative distance): {layers}; the true-class probability is "
        f"{p_shift:.2f} +- {p_shift_half:.2f} after that shift and "
        f"{p_rot:.2f} +- {p_rot_half:.2f} after a 90 or 270 degree rotation "
        f"(vs {p_ident:.2f} unrotated): the net is {rotation}.", id="fig5")
    ctx.report.figure(translate.plot(scale, rotate, class_names=CLASS_NAMES),
                      "Columns: translation (pixels), scale, rotation "
                      "(degrees); rows: conv1 distance, fc7 distance, "
                      "true-class probability; means in black with their "
                      "95% bands.", name="fig5_invariance.png")
    rows = [(r.transform, f"{a:g}", round(float(r.distance["conv1"][j]), 4),
             round(float(r.distance["fc7"][j]), 4),
             round(float(r.probability[j]), 4))
            for r in results for j, a in enumerate(r.axis_values)]
    ctx.report.table(["transform", "amount", "conv1 distance",
                      "fc7 distance", "P(true class)"], rows,
                     f"Means over the {len(picks)} images.",
                     name="fig5_invariance")
    return dict(images=int(len(picks)), shift4_conv1=d1,
                shift4_conv1_half_interval=d1_half, shift4_fc7=d7,
                shift4_fc7_half_interval=d7_half,
                shift4_probability=p_shift,
                rotate_quarter_probability=p_rot,
                rotate_quarter_half_interval=p_rot_half,
                shift4_fc7_minus_conv1=float(diff.mean()),
                shift4_fc7_minus_conv1_half_interval=float(diff_half))


def fig6(ctx):
    import keras_zfnet as kz

    images = ctx.x[:ctx.settings["diagnosis_images"]]
    zf = kz.diagnose(ctx.model, images)
    alex = kz.diagnose(ctx.alexnet, images)
    m = {"ZFNet-style 5x5/1": zf.measures,
         "AlexNet-style 9x9/2": alex.measures}
    rows = [(name, int(v["stride"]), int(v.get("dead_by_norm", 0)),
             int(v.get("never_active", 0)), f"{v['band_low']:.3f}",
             f"{v['band_mid']:.3f}", f"{v['band_high']:.3f}",
             f"{v['rms_spread']:.3f}" if "rms_spread" in v else "",
             f"{v.get('aliasing', float('nan')):.3f}")
            for name, v in m.items()]
    za, aa = zf.measures, alex.measures
    gap = aa["band_mid"] < za["band_mid"] and aa["band_high"] > za[
        "band_high"]
    dead = (int(aa.get("never_active", 0)), int(za.get("never_active", 0)))
    found = len(zf.findings) + len(alex.findings)
    ctx.report.section(
        "Fig. 6: first-layer filters, ZFNet- vs AlexNet-style",
        "Paper: AlexNet's large-stride first layer mixes very high and very "
        "low frequency filters with little mid-frequency coverage, has dead "
        "filters and aliases in layer 2; smaller filters and stride fix "
        f"this. This run: mid-band energy share {aa['band_mid']:.2f} "
        f"(AlexNet-style) vs {za['band_mid']:.2f} (ZFNet-style), high band "
        f"{aa['band_high']:.2f} vs {za['band_high']:.2f}: the paper's "
        f"frequency gap {'appears' if gap else 'does not appear'} here; "
        f"filters never active: {dead[0]} vs {dead[1]}; second-layer "
        f"aliasing of the AlexNet-style net {aa.get('aliasing', 0):.3f} "
        f"(finding above 0.2); {found} finding(s) in all. Both presets were "
        "trained with the paper's fix (FilterRMS 0.1), so this pair cannot "
        "say what the fix prevents; the 2x2 test of docs/analysis.md "
        "(section 5: both first layers, with and without FilterRMS, 3 "
        "seeds each) found second-layer aliasing with the 9x9/2 layer "
        "either way, larger filter-RMS spread without FilterRMS (ZF layer), "
        "and no dead filters in any run.", id="fig6")
    ctx.report.figure(zf.plot(compare=alex, titles=list(m)),
                      "First-layer filters (each scaled on its own, grey is "
                      "zero) and second-layer projections.",
                      name="fig6_diagnosis.png")
    ctx.report.table(["first layer", "stride", "dead", "never active",
                      "low band", "mid band", "high band", "RMS max/median",
                      "aliasing"], rows,
                     f"kz.diagnose on the first {len(images)} test images.",
                     name="fig6_diagnosis")
    return {name: {k: float(v) for k, v in values.items()
                   if np.ndim(v) == 0} for name, values in m.items()}


def _occlusion_examples(predictions, labels, count):
    """Correctly classified images of different classes."""
    chosen, classes = [], set()
    for index in np.flatnonzero(predictions == labels):
        if labels[index] not in classes:
            chosen.append(int(index))
            classes.add(labels[index])
        if len(chosen) == count:
            break
    return np.asarray(chosen, dtype="int64")


def fig7(ctx):
    import keras_zfnet as kz
    from keras_zfnet.datasets.fashion_mnist import CLASS_NAMES

    chosen = _occlusion_examples(ctx.predictions, ctx.y,
                                 ctx.settings["occlusion_images"])
    result = kz.occlusion_sensitivity(ctx.model, ctx.x[chosen], 8, 2,
                                      fill="mean", labels=ctx.y[chosen],
                                      layer="conv5", verbose=0)
    dn = kz.Deconvnet(ctx.model)
    lows = result.probability.reshape(len(chosen), -1).min(-1)
    changed = [(result.predicted[i] != ctx.y[c]).mean()
               for i, c in enumerate(chosen)]
    drops = int((lows < 0.5).sum())
    ctx.report.section(
        "Fig. 7: occlusion sensitivity",
        "Paper: covering the object's key part with a grey square makes the "
        "true-class probability drop sharply, showing the model localises "
        "the object rather than using the context. This run (an 8x8 square "
        "of the image's mean, stride 2): the lowest true-class probability "
        f"over all positions falls below 0.5 for {drops} of {len(chosen)} "
        "images ("
        + ", ".join(f"{CLASS_NAMES[ctx.y[c]]} {low:.2f}"
                    for c, low in zip(chosen, lows))
        + f"); the predicted label changes at {np.mean(changed):.0%} of the "
        "positions on average."
        + (f" For the other {len(chosen) - drops} image(s) no position of "
           "the square brings the true class below 0.5."
           if drops < len(chosen) else ""), id="fig7")
    for i, index in enumerate(chosen):
        projection = dn.project(ctx.x[index:index + 1], "conv5",
                                int(result.strongest_channel[i]))[0]
        ctx.report.figure(result.plot(ctx.x[chosen], i,
                                      class_names=CLASS_NAMES,
                                      projection=projection),
                          f"test image {index} ({CLASS_NAMES[ctx.y[index]]}):"
                          f" lowest true-class probability {lows[i]:.2f}",
                          name=f"fig7_{index}.png")
    ctx.report.table(
        ["test image", "class", "lowest P(true class)",
         "positions changing the label"],
        [(int(c), CLASS_NAMES[ctx.y[c]], f"{low:.3f}", f"{ch:.0%}")
         for c, low, ch in zip(chosen, lows, changed)], name="fig7_occlusion")
    return dict(images=chosen.tolist(), lowest_probability=lows.tolist(),
                label_changed_share=[float(c) for c in changed])
