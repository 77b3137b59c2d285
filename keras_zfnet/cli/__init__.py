"""The `keras-zfnet` command: `demo`, `info`, `train`."""

import argparse
import sys

from keras_zfnet.cli import demo
from keras_zfnet.cli import info
from keras_zfnet.cli import train


def build_parser():
    """The argument parser of `keras-zfnet`."""
    parser = argparse.ArgumentParser(
        prog="keras-zfnet",
        description="Zeiler & Fergus (2014) visualization toolkit for Keras.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (demo, info, train):
        module.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the `keras-zfnet` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
