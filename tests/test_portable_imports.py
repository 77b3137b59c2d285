"""Nothing in the package imports TensorFlow unless a TensorFlow-only
feature is used: checked in a fresh JAX (or PyTorch) process, where Keras
itself never loads TensorFlow."""

import importlib.util
import os
import subprocess
import sys

import pytest

MODULES = [
    "keras_zfnet", "keras_zfnet.analysis", "keras_zfnet.deconv",
    "keras_zfnet.callbacks", "keras_zfnet.training", "keras_zfnet.datasets",
    "keras_zfnet.plotting", "keras_zfnet.layers", "keras_zfnet.cli",
    "keras_zfnet.applications",
]

SCRIPT = f"""
import importlib, sys
for name in {MODULES!r}:
    importlib.import_module(name)
import keras
assert keras.config.backend() == BACKEND, keras.config.backend()
loaded = sorted(m for m in sys.modules
                if m == "tensorflow" or m.startswith("tensorflow."))
print("tensorflow modules:", loaded[:3])
assert not loaded, loaded
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_loads_no_tensorflow(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-c", f"BACKEND = {backend!r}\n" + SCRIPT],
        capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_import_sets_no_environment_variable():
    # Keras' own import may touch the environment (with opencv installed,
    # cv2 extends LD_LIBRARY_PATH), so the snapshot is taken after it.
    script = ("import os; import keras; before = dict(os.environ); "
              "import keras_zfnet; "
              "after = dict(os.environ); "
              "print(sorted(set(after.items()) ^ set(before.items())))")
    env = dict(os.environ)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        # Unset, so that a `setdefault("KERAS_BACKEND", ...)` would show.
        env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", script],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
