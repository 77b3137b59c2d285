"""The `keras-zfnet` command."""

import argparse
import sys


def _info(args):
    from keras_zfnet import applications
    from keras_zfnet.applications import presets
    from keras_zfnet.version import __version__

    print(f"keras-zfnet {__version__}")
    print()
    print(f"{'model':<12} {'input':<14} {'params':>12}  presets")
    for name, builder, kwargs in (
        ("ZFNet", applications.ZFNet, {}),
        ("AlexNet", applications.AlexNet, {}),
        ("MiniZFNet", applications.MiniZFNet, {}),
    ):
        model = builder(**kwargs)
        shape = "x".join(str(d) for d in model.input_shape[1:])
        available = ", ".join(presets.available_presets(name)) or "-"
        print(f"{name:<12} {shape:<14} {model.count_params():>12,}  {available}")
    return 0


def build_parser():
    """The argument parser of `keras-zfnet`."""
    parser = argparse.ArgumentParser(
        prog="keras-zfnet",
        description="Zeiler & Fergus (2014) visualization toolkit for Keras.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print the version and model table")
    info.set_defaults(run=_info)
    return parser


def main(argv=None):
    """Entry point of the `keras-zfnet` console script."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
