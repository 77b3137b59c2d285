"""keras_zfnet: Zeiler & Fergus (ECCV 2014) for Keras 3.

Models (`ZFNet`, `AlexNet`, `MiniZFNet`), the deconvnet that projects any
activation of a Keras CNN to pixel space, and the paper's analyses.
"""

import os as _os
import sys as _sys

# `import keras_zfnet` uses whichever backend Keras runs (KERAS_BACKEND or
# keras.json) and sets no environment variable. Only the `keras-zfnet`
# command quiets TensorFlow's C++ logs in its own process.
if _os.path.basename(_sys.argv[0] if _sys.argv else "") == "keras-zfnet":
    # The command line stays readable: no TensorFlow INFO / WARNING logs.
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_zfnet.utils.quiet_import import quiet_stderr as _quiet  # noqa: E402
from keras_zfnet.utils.quiet_import import running_as_command as _cli  # noqa

def _import_api():
    # Loads Keras (and its backend) and the public names. Library users get it
    # at `import keras_zfnet`; the `keras-zfnet` command defers it (so that
    # `keras-zfnet --help` answers at once) until a name is first used.
    # TensorFlow's start-up lines bypass TF_CPP_MIN_LOG_LEVEL: the command line
    # imports it with stderr pointed at /dev/null.
    with _quiet(enabled=_cli()):
        import keras as _keras  # noqa: E402

    from keras_zfnet import callbacks  # noqa: E402
    from keras_zfnet import constraints  # noqa: E402
    from keras_zfnet import datasets  # noqa: E402
    from keras_zfnet import layers  # noqa: E402
    from keras_zfnet.applications import AlexNet  # noqa: E402
    from keras_zfnet.applications import MiniZFNet  # noqa: E402
    from keras_zfnet.applications import ZFNet  # noqa: E402
    from keras_zfnet.applications import decode_predictions  # noqa: E402
    from keras_zfnet.analysis import TopActivations  # noqa: E402
    from keras_zfnet.analysis import correspondence  # noqa: E402
    from keras_zfnet.analysis import diagnose  # noqa: E402
    from keras_zfnet.analysis import extract_features  # noqa: E402
    from keras_zfnet.analysis import layer_analysis  # noqa: E402
    from keras_zfnet.analysis import mean_average_precision  # noqa: E402
    from keras_zfnet.analysis import transfer_model  # noqa: E402
    from keras_zfnet.analysis import invariance  # noqa: E402
    from keras_zfnet.analysis import occlusion_sensitivity  # noqa: E402
    from keras_zfnet.analysis import top_activations  # noqa: E402
    from keras_zfnet.analysis.browse import browse  # noqa: E402
    from keras_zfnet.applications import preprocess_input  # noqa: E402
    from keras_zfnet.deconv import Deconvnet  # noqa: E402
    from keras_zfnet.deconv import receptive_field  # noqa: E402
    globals().update({k: v for k, v in locals().items()
                      if not k.startswith("_")})


from keras_zfnet.version import __version__  # noqa: E402

if not _cli():
    _import_api()

__all__ = [
    "AlexNet",
    "Deconvnet",
    "TopActivations",
    "MiniZFNet",
    "ZFNet",
    "__version__",
    "browse",
    "callbacks",
    "constraints",
    "correspondence",
    "datasets",
    "decode_predictions",
    "diagnose",
    "extract_features",
    "invariance",
    "layer_analysis",
    "mean_average_precision",
    "transfer_model",
    "layers",
    "occlusion_sensitivity",
    "preprocess_input",
    "receptive_field",
    "top_activations",
]


_LAZY_SUBPACKAGES = ("callbacks", "plotting", "training")
_API_LOADING = []


def __getattr__(name):
    # `kz.plotting` etc. load on first use, so `import keras_zfnet` stays
    # light (no matplotlib).
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"keras_zfnet.{name}")
    if name in __all__ and not _API_LOADING:  # the command line defers them
        _API_LOADING.append(name)
        try:
            _import_api()
        finally:
            _API_LOADING.clear()
        return globals()[name]
    raise AttributeError(f"module 'keras_zfnet' has no attribute {name!r}")
