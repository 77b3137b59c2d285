"""The `keras-zfnet` command: `demo`, `info`, `train` and the analyses of a
user's model (`project`, `top`, `occlusion`, `diagnose`, `transfer`).

Errors are one line on stderr (`keras-zfnet: error: ...`) with exit status
2 for bad arguments; `--debug` shows the traceback instead. Subcommand
modules only declare their arguments at import; what they run (Keras,
TensorFlow, matplotlib) is imported inside `run`.
"""

import argparse
import importlib
import os
import sys

from keras_zfnet.utils.quiet_import import quiet_stderr

#: Subcommand modules of `keras_zfnet.cli`, in `--help` order. Each has
#: `add_parser(sub)` (no heavy import at module level) and a `run(args)`.
#: A module that is not there yet (e.g. `browse`) is skipped.
SUBCOMMANDS = ("demo", "project", "top", "occlusion", "diagnose", "transfer",
               "browse", "train", "info")

PROG = "keras-zfnet"
BACKENDS = ("tensorflow", "jax", "torch")
# Errors from our code that mean "bad input" (arguments, paths, data).
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError,
               PermissionError, OSError)


class OneLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} "
                     f"(see {self.prog} --help)\n")


def build_parser():
    """The argument parser of `keras-zfnet`."""
    parser = OneLineParser(
        prog=PROG,
        description="Zeiler & Fergus (2014) visualization toolkit for Keras.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    parser.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="Keras backend to run on (default: KERAS_BACKEND or "
             "~/.keras/keras.json)")
    sub = parser.add_subparsers(dest="command", required=True,
                                parser_class=OneLineParser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"keras_zfnet.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"keras_zfnet.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def _one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename and (
            str(error.filename) not in text):
        text += f": {error.filename}"
    return text


def _choose_backend(name):
    """Sets the command's Keras backend (in its own process, before Keras
    is imported); refuses a different one once Keras runs."""
    keras = sys.modules.get("keras")
    if keras is not None and keras.config.backend() != name:
        sys.exit(f"{PROG}: error: --backend {name} must be chosen before "
                 f"Keras is imported; this process already runs "
                 f"{keras.config.backend()!r} (run the command in a new "
                 "process)")
    os.environ["KERAS_BACKEND"] = name


def main(argv=None):
    """Entry point of the `keras-zfnet` console script.

    Returns:
        The exit status: 0 on success, 2 for bad arguments or input,
        130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    if args.backend is not None:
        _choose_backend(args.backend)
    # TensorFlow is imported once, before the command runs, without its
    # start-up lines (a no-op when it is already loaded).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_stderr(enabled="tensorflow" not in sys.modules):
        import keras  # noqa: F401

        if keras.config.backend() == "tensorflow":
            # TensorFlow looks for devices (and logs a failed CUDA probe)
            # on first use: done here, inside the quiet block.
            import tensorflow as tf

            tf.config.list_logical_devices()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume.",
              file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
