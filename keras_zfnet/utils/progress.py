"""Progress bars for long loops (Keras' Progbar), silent with verbose=0.

Keras' `Progbar` always colours its bar with ANSI escape codes and redraws
it with backspaces and carriage returns (it treats every POSIX process as a
terminal). Written to a log file or a pipe that is noise, so `Progbar` here
writes plain text when standard output is not a terminal: no escape codes,
one line per update (`=` for steps done, `.` for the rest), at most one
update every `PLAIN_INTERVAL` seconds (and the final one).
"""

import contextlib
import io
import re
import sys

import keras

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Keras draws done steps green and the rest grey with the same character.
_REMAINING = re.compile("\x1b\\[37m(\u2501*)\x1b\\[0m")
PLAIN_INTERVAL = 10.0


def _in_notebook():
    """Whether this code runs inside a Jupyter kernel (whose output cells
    render Keras' live bar), not merely in a process that imported one."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def is_terminal(stream=None):
    """Whether `stream` (default: `sys.stdout`) is shown live to a person."""
    stream = sys.stdout if stream is None else stream
    if _in_notebook():
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


class Progbar(keras.utils.Progbar):
    """`keras.utils.Progbar` that writes plain text outside a terminal.

    Args:
        target: total number of steps (`None` when unknown).
        plain: `True` for plain text, `False` for Keras' coloured bar,
            `None` (default) to choose from whether standard output is a
            terminal.
        **kwargs: `keras.utils.Progbar` arguments.
    """

    def __init__(self, target, plain=None, **kwargs):
        super().__init__(target, **kwargs)
        self.plain = (not is_terminal()) if plain is None else bool(plain)
        if self.plain:
            self._dynamic_display = False
            self.interval = max(self.interval, PLAIN_INTERVAL)

    def update(self, current, values=None, finalize=None):
        if not self.plain:
            return super().update(current, values, finalize)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            super().update(current, values, finalize)
        text = _REMAINING.sub(lambda m: "." * len(m.group(1)),
                              buffer.getvalue())
        text = ANSI_ESCAPE.sub("", text).replace("\u2501", "=")
        text = text.replace("\b", "").replace("\r", "").strip("\n").rstrip()
        if text:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


class ProgbarLogger(keras.callbacks.ProgbarLogger):
    """`keras.callbacks.ProgbarLogger` drawing this module's `Progbar`.

    Pass it in `model.fit(callbacks=[...])`: Keras then uses it instead of
    its own logger, so training logs are plain text outside a terminal.
    """

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
            )


class _Silent:
    def add(self, n, values=None):
        pass

    def update(self, current, values=None, finalize=None):
        pass


def bar(total, verbose="auto", unit_name="step"):
    """A progress bar for `total` steps, or a silent stand-in.

    Args:
        total: the number of steps (`None` when unknown).
        verbose: 0 (silent), 1 (always), or `"auto"` (only when there is more
            than one step).
        unit_name: what a step is called in the display.

    Returns:
        A `Progbar` (plain text when standard output is not a terminal) or a
        silent object with the same `add` / `update` methods.
    """
    if verbose not in (0, 1, 2, "auto", False, True):
        raise ValueError(
            f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}"
        )
    if verbose == "auto":
        verbose = 1 if total is None or total > 1 else 0
    if not verbose:
        return _Silent()
    return Progbar(total, verbose=int(verbose), unit_name=unit_name)
