import json
import subprocess
import sys

import pytest

from keras_zfnet.utils.extras import require


def test_a_present_module_is_returned():
    assert require("json", "plot") is json
    decoder = require("json.decoder", "plot", "decoding")
    assert decoder is sys.modules["json.decoder"]


def test_a_missing_module_names_its_extra():
    with pytest.raises(ImportError) as info:
        require("no_such_module_kz.sub", "plot", "plot_grid")
    message = str(info.value)
    assert "\n" not in message
    assert message == ("plot_grid needs no_such_module_kz.sub: "
                       "pip install 'keras-zfnet[plot]'")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_the_feature_defaults_to_the_module():
    with pytest.raises(ImportError, match=r"^no_such_module_kz needs "
                       r"no_such_module_kz: pip install "
                       r"'keras-zfnet\[transfer\]'$"):
        require("no_such_module_kz", "transfer")


def test_a_plot_without_matplotlib_says_which_extra(monkeypatch):
    from keras_zfnet import plotting

    # None in sys.modules makes the import fail as if not installed.
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"keras-zfnet\[plot\]"):
        plotting.plot_grid([[[0.5]]])


def test_import_works_without_the_optional_dependencies():
    """`import keras_zfnet` (and building the deconvnet) needs none of the
    extras: with them hidden (as if not installed) it still works. (Keras
    itself imports them when they are there, so checking `sys.modules`
    after the import would test Keras, not us.)"""
    code = ("import sys\n"
            "for m in ('matplotlib', 'sklearn', 'PIL', 'tensorflow_datasets',"
            " 'tensorboard'):\n"
            "    sys.modules[m] = None\n"
            "import keras_zfnet as kz\n"
            "from keras_zfnet import plotting\n"
            "try:\n"
            "    plotting.plot_grid([[[0.5]]])\n"
            "except ImportError as error:\n"
            "    print(error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == ("plot_grid needs matplotlib.figure: "
                   "pip install 'keras-zfnet[plot]'")
