"""Optional dependencies, imported on first use with a one-line hint.

`pip install keras-zfnet` needs only Keras and NumPy. Plotting (matplotlib,
Pillow), the transfer probes (scikit-learn), the TFDS sources and the
TensorBoard callbacks come from extras; the code that needs one imports it
through `require`, so a missing extra says which `pip install` to run.
"""

import importlib


def require(module, extra, feature=None):
    """Imports and returns an optional dependency, or names its extra.

    Args:
        module: the module to import, e.g. `"matplotlib.figure"` or
            `"PIL.Image"` (submodules are fine).
        extra: the keras-zfnet extra that installs it, e.g. `"plot"`.
        feature: what needs it, for the message (e.g.
            `"plot_filters"`); defaults to the module's name.

    Returns:
        The imported module.

    Raises:
        ImportError: one line, `"<feature> needs <module>: pip install
            'keras-zfnet[<extra>]'"`, with the original import error as
            its `__cause__`.

    Example:

    >>> Figure = require("matplotlib.figure", "plot", "plot_grid").Figure
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        what = feature or module
        raise ImportError(
            f"{what} needs {module}: pip install 'keras-zfnet[{extra}]'"
        ) from error
