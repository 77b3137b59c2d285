"""`keras-zfnet browse`: a unit browser (every unit of every layer) for a
user's model and images."""

import os

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages
from keras_zfnet.cli.arguments import positive_int


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "browse",
        help="a static web site to browse every unit of a model",
        description=(
            "Scans IMAGES once with MODEL and writes a static site in DIR "
            "(open DIR/index.html from disk, no server needed): the layers, "
            "per layer a grid of all channels with their top-1 projection "
            "(dead channels marked), per unit its top-k deconvnet "
            "projections beside the image patches, activation values, image "
            "indices (and classes) and a histogram of its maximum activation "
            "over the images. Deep links: index.html#conv5/31; arrow keys "
            "move between units. MODEL may also be a shipped preset such as "
            "MiniZFNet:fashion_mnist."),
        example="keras-zfnet browse model.keras photos/ --output units "
                "--layers conv1 conv5 --k 9",
        run=run, atomic_output=False)
    inputs.add_model_argument(parser)
    inputs.add_images_argument(parser)
    parser.add_argument("--layers", nargs="+", default=None, metavar="L",
                        help="layers to browse (default: every convolution)")
    parser.add_argument("--k", type=positive_int, default=9,
                        help="top activations per unit (default 9)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    inputs.add_labels_argument(parser)
    inputs.add_class_names_argument(parser)
    parser.add_argument("--max-tile", type=positive_int, default=96,
                        help="largest tile side in pixels (default 96)")
    parser.add_argument("--image-format", choices=("auto", "png", "jpeg"),
                        default="auto",
                        help="sprite sheets: png (lossless), jpeg, or auto "
                             "(PNG for grey, JPEG for colour images)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an existing folder that is not a "
                             "unit browser")
    inputs.add_common_arguments(parser)


def _check(args):
    """Everything that needs no model, before any work."""
    from keras_zfnet.plotting.browser.site import check_site_dir

    inputs.check_model_spec(args.model, args.weights)
    inputs.check_images_path(args.images)
    inputs.check_file_option(args.labels, "--labels")
    inputs.check_file_option(args.class_names, "--class-names")
    check_site_dir(args.output, args.overwrite, name="--output")


def run(args):
    _check(args)
    model = inputs.load_model_spec(args.model, args.weights)
    x, _, labels = inputs.model_images(model, args.images, args.preprocess,
                                       args.resize)
    if args.labels:
        labels = inputs.read_labels(args.labels, len(x))
    class_names = inputs.read_class_names(args.class_names)
    if args.layers:
        args.layers = [inputs.resolve_layer(model, layer, "--layers")
                       for layer in args.layers]
    pages.say(args, f"scanning {len(x)} image(s)")
    import keras_zfnet as kz

    index = kz.browse(
        model, x, layers=args.layers, k=args.k, output_dir=args.output,
        class_names=class_names,
        display=inputs.display_mode(args.preprocess),
        batch_size=args.batch_size, labels=labels, max_tile=args.max_tile,
        overwrite=args.overwrite, image_format=args.image_format,
        verbose=args.verbose)
    print(f"unit browser of {model.name} written to {os.path.abspath(index)}")
    return 0


def demo_browser(output_dir, model, images, labels=None, verbose=0):
    """The unit browser of the shipped preset, for `keras-zfnet demo`.

    Args:
        output_dir: the site's folder (e.g. `<demo output>/units`; must be
            missing, empty or a previous unit browser).
        model: `kz.MiniZFNet(weights="fashion_mnist")`.
        images: `(N, 28, 28, 1)` float32 raw pixels (the test set).
        labels: `(N,)` integer labels, or None.
        verbose: 0 or 1.

    Returns:
        The path of the site's `index.html` (link it relative to the
        report: `units/index.html`).
    """
    import keras_zfnet as kz
    from keras_zfnet.datasets import fashion_mnist

    return kz.browse(model, images, layers=None, k=9, output_dir=output_dir,
                     class_names=list(fashion_mnist.CLASS_NAMES),
                     labels=labels, display="raw", verbose=verbose)
