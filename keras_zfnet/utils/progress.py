"""Progress bars for long loops (Keras' Progbar), silent with verbose=0."""

import keras


class _Silent:
    def add(self, n, values=None):
        pass

    def update(self, current, values=None, finalize=None):
        pass


def bar(total, verbose="auto", unit_name="step"):
    """A `keras.utils.Progbar` for `total` steps, or a silent stand-in.

    Args:
        total: the number of steps (`None` when unknown).
        verbose: 0 (silent), 1 (always), or `"auto"` (only when there is more
            than one step).
        unit_name: what a step is called in the display.
    """
    if verbose not in (0, 1, 2, "auto", False, True):
        raise ValueError(
            f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}"
        )
    if verbose == "auto":
        verbose = 1 if total is None or total > 1 else 0
    if not verbose:
        return _Silent()
    return keras.utils.Progbar(total, verbose=int(verbose), unit_name=unit_name)
