import json
import os

import numpy as np
import pytest

from keras_zfnet.applications import presets
from keras_zfnet.cli import main
from keras_zfnet.datasets import fashion_mnist

REQUIRED = os.environ.get("KERAS_ZFNET_REQUIRE_FASHION_MNIST") == "1"
needs_data = pytest.mark.skipif(
    fashion_mnist.find_local() is None and not REQUIRED,
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "62,357,608" in out and "MiniZFNet" in out


@needs_data
def test_train_resumes_and_summarises(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--output", out, "--epochs", "2", "--train-images",
            "600", "--validation-size", "100", "--batch-size", "50",
            "--verbose", "0"]
    assert main(args) == 0
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert summary["epochs"] == 2 and 0 <= summary["test_accuracy"] <= 1
    assert summary["sha256"] == presets.file_sha256(summary["weights"])
    # Running it again finds the finished backup and trains nothing more.
    assert main(args) == 0
    with open(os.path.join(out, "log.csv")) as f:
        assert len(f.readlines()) == 1 + 2


def test_demo_writes_a_report(tmp_path):
    if not {"fashion_mnist", "fashion_mnist_alexnet"} <= set(
            presets.available_presets("MiniZFNet")):
        pytest.fail("the shipped presets are missing")
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--images", "300",
                 "--features", "2", "--occlusion-images", "1",
                 "--verbose", "0"]) == 0
    page = (out / "index.html").read_text()
    for needle in ("Fig. 2", "Fig. 6", "Fig. 7", "test accuracy"):
        assert needle in page
    assert (out / "fig2_conv5.png").stat().st_size > 1000
    assert len(list(out.glob("fig7_*.png"))) == 1
    assert np.all([p.stat().st_size > 1000 for p in out.glob("*.png")])
