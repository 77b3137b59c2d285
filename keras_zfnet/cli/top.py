"""`keras-zfnet top`: the top-k activations of a layer's channels over a
user's images, with projections and patches (paper Fig. 2)."""

import os

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.arguments import positive_int


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "top",
        help="top-k images of each channel of a layer (Fig. 2)",
        description=(
            "Scans the images for the k strongest activations of every "
            "channel of --layer and draws, for the strongest --features "
            "channels, their deconvnet projections beside the input patches. "
            "Writes DIR/top.npz (values, indices, positions; reload with "
            "kz.TopActivations.from_npz), DIR/top.csv / top.json, "
            "DIR/top.png and DIR/index.html."),
        example="keras-zfnet top model.keras photos/ --layer conv5 --k 9 "
                "--output out",
        run=run)
    inputs.add_model_argument(parser)
    inputs.add_images_argument(parser)
    inputs.add_layer_argument(parser, required=True)
    parser.add_argument("--k", type=positive_int, default=9,
                        help="images kept per channel (default 9)")
    parser.add_argument("--features", type=positive_int, default=8,
                        help="channels drawn in the figure (default 8)")
    inputs.add_common_arguments(parser)


def run(args):
    pages.check_paths(args)
    import keras_zfnet as kz

    model = inputs.load_model_spec(args.model, args.weights)
    layer = inputs.resolve_layer(model, args.layer)
    x, names, _ = inputs.model_images(model, args.images, args.preprocess,
                                      args.resize)
    k = min(args.k, len(x))
    pages.say(args, f"scanning {len(x)} image(s) for the top {k} of {layer}")
    top = kz.top_activations(model, x, layer, k=k, verbose=args.verbose)
    top.to_npz(os.path.join(args.output, "top.npz"))
    order = np.argsort(-top.values[:, 0], kind="stable")
    features = [int(c) for c in order if top.values[c, 0] > 0][:args.features]
    report = pages.new_page(
        args, f"Top {k} activations of {layer}",
        f"For the {len(features)} channels of {layer} with the strongest "
        f"activations over {len(x)} image(s): the deconvnet projections of "
        f"their top {k} activations (left, grey is zero) and the input "
        "patches of their receptive fields (right).")
    if features:
        figure = top.plot(x, features=np.asarray(features),
                          title=f"{layer}: top {k}",
                          display=inputs.display_mode(args.preprocess))
        report.figure(figure, f"{layer}: {len(features)} channels",
                      name="top.png")
    else:
        report.paragraph(f"No channel of {layer} is active on these images.")
    rows = [[int(c), rank + 1, names[top.indices[c, rank]],
             f"{top.values[c, rank]:.5g}",
             int(top.positions[c, rank, 0]), int(top.positions[c, rank, 1])]
            for c in range(top.values.shape[0]) for rank in range(k)
            if top.indices[c, rank] >= 0]
    report.table(["channel", "rank", "image", "value", "row", "col"],
                 rows[:60], f"The first rows of top.csv ({len(rows)} rows).")
    from keras_zfnet.plotting.report import write_table

    write_table(args.output, "top",
                ["channel", "rank", "image", "value", "row", "col"],
                [[r[0], r[1], r[2], float(r[3]), r[4], r[5]] for r in rows])
    return pages.finish(args, report,
                        f"top {k} of {top.values.shape[0]} channels of "
                        f"{layer}")
