"""What every analysis subcommand shares: its parser shape, the checks run
before any work, and the small `index.html` it writes."""

import argparse
import json
import os
import sys

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.cli.arguments import check_output_dir


def add_subcommand(sub, name, help, description, example, run):
    """A subparser whose `--help` ends with `example`."""
    parser = sub.add_parser(
        name, help=help, description=description,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    return parser


def check_paths(args, images=True):
    """MODEL, IMAGES and --output checked before anything is loaded."""
    inputs.check_model_path(args.model)
    if images and getattr(args, "images", None) is not None:
        inputs.check_images_path(args.images)
    check_output_dir(args.output)


def say(args, message):
    if args.verbose:
        print(f"[{args.command}] {message}", file=sys.stderr, flush=True)


def new_page(args, title, text):
    """A `Report` whose first section names the command's inputs."""
    from keras_zfnet.plotting.report import Report

    report = Report(f"keras-zfnet {args.command}: {title}",
                    f"model {os.path.basename(args.model)}")
    report.section(title, text, id="summary")
    report.code("keras-zfnet " + " ".join(sys.argv[1:])
                if os.path.basename(sys.argv[0]) == "keras-zfnet"
                else f"keras-zfnet {args.command} {args.model}")
    return report


def write_json(args, name, payload):
    path = os.path.join(args.output, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(plain(payload), f, indent=1)
    return path


def plain(value):
    """`value` with numpy arrays / scalars as Python lists / numbers and
    non-finite floats as None (for JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def finish(args, report, summary):
    """Writes `index.html` and prints one line naming it."""
    path = report.write(os.path.join(args.output, "index.html"))
    print(f"{summary}; written to {os.path.abspath(path)}")
    return 0


def squeeze_gray(images):
    """`(..., H, W, 1)` to `(..., H, W)` for matplotlib."""
    images = np.asarray(images)
    return images[..., 0] if images.shape[-1] == 1 else images
