"""`keras-zfnet project`: deconvnet projections of chosen channels of a
user's model (paper Sec. 2.1)."""

import os

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.arguments import non_negative_int


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "project",
        help="project channels of a layer back to pixel space (deconvnet)",
        description=(
            "Projects the strongest activation (--mode max) or the whole map "
            "(--mode all) of each channel of --layer back to pixel space "
            "with the deconvnet, for every image. Writes "
            "DIR/projections.npz (`projections` shaped (N, C, H, W, "
            "channels), `channels`, `layer`, `names`), DIR/projections.png "
            "and DIR/index.html."),
        example="keras-zfnet project model.keras photos/ --layer "
                "block5_conv3 --channels 0 7 42 --preprocess vgg16 "
                "--output out",
        run=run)
    inputs.add_model_argument(parser)
    inputs.add_images_argument(parser)
    inputs.add_layer_argument(parser, required=True)
    parser.add_argument("--channels", required=True, nargs="+",
                        type=non_negative_int, metavar="C",
                        help="channel indices of the layer")
    parser.add_argument("--mode", choices=("max", "all"), default="max",
                        help="project the strongest activation (max) or "
                             "the whole map (all)")
    inputs.add_common_arguments(parser)


def check_channels(model, layer, channels, option="--channels"):
    """Every channel is below the layer's channel count."""
    from keras_zfnet.deconv.model_graph import model_graph

    count = model_graph(model).output_shape(layer)[-1]
    bad = [c for c in channels if c >= count]
    if bad:
        raise ValueError(
            f"{option} must be channel indices below {count} (the channels "
            f"of {layer}). Received: {option}="
            + " ".join(str(c) for c in bad))
    return list(channels)


def run(args):
    pages.check_paths(args)
    import keras_zfnet as kz
    from keras_zfnet.plotting import plot_grid
    from keras_zfnet.plotting import input_to_image
    from keras_zfnet.plotting import projection_to_image

    model = inputs.load_model_spec(args.model, args.weights)
    layer = inputs.resolve_layer(model, args.layer)
    channels = check_channels(model, layer, args.channels)
    x, names, _ = inputs.model_images(model, args.images, args.preprocess,
                                      args.resize)
    pages.say(args, f"projecting {len(channels)} channel(s) of {layer} for "
                    f"{len(x)} image(s)")
    projections = kz.Deconvnet(model).project(x, layer, channels,
                                              mode=args.mode)
    projections = np.asarray(projections, "float32")
    np.savez_compressed(os.path.join(args.output, "projections.npz"),
                        projections=projections,
                        channels=np.asarray(channels, "int64"),
                        layer=np.asarray(layer), names=np.asarray(names))
    display = inputs.display_mode(args.preprocess)
    shown = input_to_image(x, display)
    pictures = projection_to_image(projections)
    cells, titles = [], []
    for i, name in enumerate(names):
        cells.append(pages.squeeze_gray(shown[i]))
        titles.append(name)
        for k, channel in enumerate(channels):
            cells.append(pages.squeeze_gray(pictures[i, k]))
            titles.append(f"{layer}[{channel}]")
    report = pages.new_page(
        args, "Deconvnet projections",
        f"Each row: an image, then the deconvnet projection of channels "
        f"{', '.join(map(str, channels))} of {layer} (mode={args.mode}; "
        "grey is zero, each projection scaled on its own).")
    report.figure(plot_grid(cells, titles, ncols=1 + len(channels)),
                  f"{layer}: projections of {len(x)} image(s)",
                  name="projections.png")
    energy = np.sqrt((projections ** 2).reshape(*projections.shape[:2], -1)
                     .sum(-1))
    rows = [[name] + [f"{energy[i, k]:.4g}" for k in range(len(channels))]
            for i, name in enumerate(names)]
    report.table(["image"] + [f"channel {c}" for c in channels], rows,
                 "L2 norm of each projection (0: the channel is not active "
                 "on that image).", name="projection_norms")
    return pages.finish(args, report,
                        f"{projections.shape[0]}x{projections.shape[1]} "
                        f"projections of {layer}")
