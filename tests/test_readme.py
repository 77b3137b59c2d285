"""Every ```python block of README.md runs as written, in order, in one
namespace (in a fresh interpreter, so `import keras_zfnet as kz` is what a
new user gets), on the backend of the test run (`KERAS_BACKEND`; tox's py,
jax and torch environments), so the snippets are checked on TensorFlow, JAX
and PyTorch. Blocks that need TensorFlow itself (`tf.`, `tf.data`, `tfds`)
run on TensorFlow only. The only change is the data size: Fashion-MNIST
loads as its first few hundred images (the shipped sample when it is not
installed), so the test runs in seconds."""

import json
import os
import pathlib
import re
import subprocess
import sys

import keras

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SMALL = 256

DRIVER = r"""
import json, sys
from keras_zfnet.datasets import fashion_mnist

SMALL = int(sys.argv[1])
_load_data = fashion_mnist.load_data


def small_load_data(*args, **kwargs):
    if fashion_mnist.find_local() is not None:
        (x, y), (x_test, y_test) = _load_data(*args, **kwargs)
    else:
        x_test, y_test = fashion_mnist.load_sample(verbose=0)
        x, y = x_test, y_test
    return (x[:SMALL], y[:SMALL]), (x_test[:SMALL], y_test[:SMALL])


fashion_mnist.load_data = small_load_data
namespace = {"__name__": "__readme__"}
for number, code in enumerate(json.load(sys.stdin), 1):
    exec(compile(code, f"README.md python block {number}", "exec"), namespace)
    print(f"block {number} ok", flush=True)
"""


TF_ONLY = re.compile(r"\btf\.|\btfds\b|import tensorflow|from tensorflow")


def python_blocks(text):
    """The code of every ```python fenced block, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def runnable_blocks(blocks, backend):
    """The blocks that run on `backend`: all of them on TensorFlow, those
    that do not use TensorFlow itself elsewhere."""
    if backend == "tensorflow":
        return list(blocks)
    return [b for b in blocks if not TF_ONLY.search(b)]


def test_python_blocks_are_found():
    blocks = python_blocks("a\n```python\nx = 1\n```\n```bash\nls\n```\n"
                           "```python\ny = x\n```\n")
    assert blocks == ["x = 1\n", "y = x\n"]
    tf_block = "ds = tf.data.Dataset.from_tensor_slices(x)\n"
    assert runnable_blocks(blocks + [tf_block], "jax") == blocks
    assert runnable_blocks(blocks + [tf_block], "tensorflow") == [
        *blocks, tf_block]


def test_readme_python_blocks_run_as_written(tmp_path):
    backend = keras.config.backend()
    blocks = runnable_blocks(python_blocks(README.read_text(encoding="utf-8")),
                             backend)
    assert len(blocks) >= 4
    env = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(SMALL)], input=json.dumps(blocks),
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert f"block {len(blocks)} ok" in done.stdout
    # What the snippets say they write is there.
    for name in ("conv5_top9.png", "fig7.png", "top_0.npz", "top_1.npz"):
        assert (tmp_path / name).stat().st_size > 0, name
