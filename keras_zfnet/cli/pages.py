"""What every analysis subcommand shares: its parser shape, the checks run
before any work, and the small `index.html` it writes.

A subcommand's files are written into a temporary folder beside `--output`
and moved into place when it finishes (`keras_zfnet.utils.atomic`), so a
killed run never leaves a half-written report that blocks its rerun.
"""

import argparse
import functools
import json
import os
import sys

import numpy as np

from keras_zfnet.cli import inputs
from keras_zfnet.utils import atomic

#: The file that marks a folder written by a keras-zfnet subcommand.
REPORT_MARKER = "keras_zfnet_report.json"


def add_subcommand(sub, name, help, description, example, run,
                   atomic_output=True):
    """A subparser whose `--help` ends with `example`.

    Args:
        atomic_output: run `run` with `args.output` set to a temporary
            folder that `atomic_output_run` moves into place at the end
            (False: `run` writes `--output` itself).
    """
    parser = sub.add_parser(
        name, help=help, description=description,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=atomic_output_run(run) if atomic_output
                        else run)
    return parser


def check_output(args):
    """`--output`: a folder that may be written (before any work)."""
    return atomic.check_output_dir(args.output, True, REPORT_MARKER,
                                   name="--output")


def atomic_output_run(run):
    """`run(args)` writing into a temporary folder beside `args.output`
    that replaces `args.output`'s previous files when `run` returns
    (`args.final_output` keeps the target for messages)."""

    @functools.wraps(run)
    def wrapped(args):
        final = args.output
        check_output(args)
        with atomic.atomic_folder(final, True, REPORT_MARKER,
                                  name="--output") as temp:
            args.output, args.final_output = temp, final
            try:
                status = run(args)
            finally:
                args.output = final
        return status

    return wrapped


def final_path(args, *names):
    """The path `names` will have under `--output` once the run ends."""
    return os.path.abspath(os.path.join(
        getattr(args, "final_output", args.output), *names))


def check_paths(args, images=True):
    """MODEL, IMAGES and --output checked before anything is loaded."""
    inputs.check_model_spec(args.model, getattr(args, "weights", None))
    if images and getattr(args, "images", None) is not None:
        inputs.check_images_path(args.images)
    check_output(args)


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
    report.write(os.path.join(args.output, "index.html"))
    print(f"{summary}; written to {final_path(args, 'index.html')}")
    return 0


def squeeze_gray(images):
    """`(..., H, W, 1)` to `(..., H, W)` for matplotlib."""
    images = np.asarray(images)
    return images[..., 0] if images.shape[-1] == 1 else images
