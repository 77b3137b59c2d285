"""`keras-zfnet occlusion`: occlusion sensitivity of a user's classifier
(paper Fig. 7)."""

import os

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.arguments import positive_int


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "occlusion",
        help="slide a grey square over images and map the classifier's "
             "response (Fig. 7)",
        description=(
            "Covers each image with a square (--patch pixels, every --stride "
            "pixels) filled with the image's mean colour and records the "
            "probability of the true class (--labels, or a `labels` array "
            "in an IMAGES .npz; else the unoccluded prediction), the most "
            "probable class and, with --layer, the activity of that layer's "
            "strongest map. Writes DIR/occlusion.npz, DIR/occlusion.json, "
            "one PNG per image and DIR/index.html."),
        example="keras-zfnet occlusion model.keras photos/ --patch 32 "
                "--stride 8 --layer block5_conv3 --preprocess vgg16 "
                "--output out",
        run=run)
    inputs.add_model_argument(parser)
    inputs.add_images_argument(parser)
    parser.add_argument("--patch", required=True, type=positive_int,
                        help="side of the occluding square, pixels")
    parser.add_argument("--stride", required=True, type=positive_int,
                        help="step between occluder positions, pixels")
    inputs.add_layer_argument(
        parser, help="a layer with spatial maps for the activity panel and "
                     "its projection")
    inputs.add_labels_argument(parser)
    inputs.add_class_names_argument(parser)
    inputs.add_common_arguments(parser)


def run(args):
    pages.check_paths(args)
    inputs.check_file_option(args.labels, "--labels")
    class_names = inputs.read_class_names(args.class_names)
    import keras_zfnet as kz

    model = inputs.load_model_spec(args.model, args.weights)
    layer = (inputs.resolve_layer(model, args.layer)
             if args.layer is not None else None)
    x, names, labels = inputs.model_images(model, args.images,
                                           args.preprocess, args.resize)
    side = min(x.shape[1:3])
    if args.patch > side:
        raise ValueError(
            f"--patch must be at most the image side ({side}). Received: "
            f"--patch={args.patch}")
    if args.labels is not None:
        labels = inputs.read_labels(args.labels, len(x))
    classes = int(model.output_shape[-1])
    if labels is not None and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"--labels must be class indices in [0, {classes}). Received: "
            f"{int(labels.min())}..{int(labels.max())}")
    pages.say(args, f"occluding {len(x)} image(s)")
    result = kz.occlusion_sensitivity(model, x, args.patch, args.stride,
                                      labels=labels, layer=layer,
                                      verbose=args.verbose)
    np.savez_compressed(
        os.path.join(args.output, "occlusion.npz"),
        probability=result.probability, predicted=result.predicted,
        activity=(result.activity if result.activity is not None
                  else np.zeros((0,))),
        positions=result.positions, names=np.asarray(names))
    base = model.predict(x, verbose=0)
    scored = (labels if labels is not None else base.argmax(-1))
    summary = []
    for i, name in enumerate(names):
        p = result.probability[i]
        summary.append(dict(
            image=name, label=int(scored[i]),
            unoccluded=float(base[i, scored[i]]),
            min_probability=float(p.min()),
            min_at=[int(v) for v in result.positions[np.unravel_index(
                p.argmin(), p.shape)]],
            label_changes=int((result.predicted[i] != scored[i]).sum()),
            positions=int(p.size)))
    pages.write_json(args, "occlusion.json", summary)
    report = pages.new_page(
        args, "Occlusion sensitivity",
        f"A {args.patch}x{args.patch} square of each image's mean colour "
        f"slides over it every {args.stride} pixels. Panels: the activity "
        "of the layer's strongest map (with --layer), its projection, the "
        "probability of the scored class and the most probable class at "
        "each position.")
    display = inputs.display_mode(args.preprocess)
    dn = kz.Deconvnet(model) if layer else None
    for i, name in enumerate(names[:16]):
        projection = (dn.project(x[i:i + 1], layer,
                                 int(result.strongest_channel[i]))[0]
                      if dn is not None else None)
        report.figure(result.plot(x, i, class_names, projection,
                                  display=display),
                      f"{name}: lowest probability {summary[i]['min_probability']:.3f} "
                      f"(unoccluded {summary[i]['unoccluded']:.3f})",
                      name=f"occlusion_{i:03d}.png")
    report.table(["image", "class", "unoccluded", "lowest when occluded",
                  "positions changing the label"],
                 [(s["image"], s["label"], f"{s['unoccluded']:.3f}",
                   f"{s['min_probability']:.3f}",
                   f"{s['label_changes']} / {s['positions']}")
                  for s in summary], name="occlusion_summary")
    return pages.finish(args, report, f"occlusion maps of {len(x)} image(s)")
