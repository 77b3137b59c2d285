"""Importing TensorFlow without its start-up lines on the terminal.

TensorFlow's C++ runtime prints a few lines when it loads (the
`absl::InitializeLog` warning, the oneDNN notice, the CPU feature guard)
straight to file descriptor 2, before `TF_CPP_MIN_LOG_LEVEL` is honoured, so
neither `warnings` nor `sys.stderr` can catch them. The command line imports
TensorFlow once inside `quiet_stderr()`, which points descriptor 2 at
`/dev/null` for the duration of the import and then restores it.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stderr(enabled=True):
    """Silences file descriptor 2 (C and Python stderr) inside the block.

    Args:
        enabled: `False` makes this a no-op (e.g. for library imports).

    Example:

    >>> with quiet_stderr():
    ...     import tensorflow
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        # No real descriptor 2 (e.g. an embedded interpreter): nothing to do.
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def running_as_command(name="keras-zfnet"):
    """Whether this process is the `name` console script (or `python -m
    keras_zfnet.cli`, whose packages load while `sys.argv[0]` is "-m")."""
    argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
    return argv0 == "-m" or os.path.basename(argv0) in (name, name + ".exe")
