import json
import os

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


@pytest.mark.parametrize("option, value", [
    ("--epochs", "-1"), ("--epochs", "0"), ("--batch-size", "0"),
    ("--learning-rate", "0"), ("--learning-rate", "nan"),
    ("--lr-patience", "-2"), ("--filter-rms", "-0.1"),
    ("--validation-size", "0"), ("--train-images", "-5"),
    ("--backup-every", "0"), ("--seed", "-1"), ("--verbose", "3"),
])
def test_train_rejects_bad_numbers_in_one_line(tmp_path, capsys, option,
                                                value):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--output", str(out), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-zfnet train: error")
    assert f"argument {option}" in err and repr(value) in err
    assert not out.exists()


@pytest.mark.parametrize("extra, needle", [
    (["--train-images", "1000", "--validation-size", "1000"],
     "--validation-size=1000"),
    (["--train-images", "60001"], "--train-images=60001"),
    (["--lr-drops", "3,x"], "--lr-drops=3,x"),
    (["--epochs", "10", "--lr-drops", "10"], "--lr-drops=10"),
    (["--dataset", "tfds:nope"], "--dataset=tfds:nope"),
    (["--dataset", "imagenet"], "--dataset=imagenet"),
    (["--data-path", "/no/such/folder"], "--data-path=/no/such/folder"),
    (["--model", "zfnet", "--first-layer", "alexnet"], "--first-layer=alexnet"),
])
def test_train_rejects_inconsistent_arguments_before_any_work(
        tmp_path, capsys, monkeypatch, extra, needle):
    monkeypatch.setattr(fashion_mnist, "load_data",
                        lambda *a, **k: pytest.fail("data was loaded"))
    out = tmp_path / "run"
    assert main(["train", "--output", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-zfnet: error: ")
    assert needle in err
    assert not out.exists()


def test_an_unwritable_output_fails_first_and_debug_shows_the_traceback(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "load_test_data",
                        lambda *a, **k: pytest.fail("demo did some work"))
    monkeypatch.setattr(fashion_mnist, "load_data",
                        lambda *a, **k: pytest.fail("train did some work"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    target = str(blocker / "out")  # a folder inside a file cannot exist
    for command in (["demo", "--output", target],
                    ["train", "--output", target, "--epochs", "1"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("keras-zfnet: error:")
        assert f"--output={target}" in err
    with pytest.raises(ValueError, match="--output"):
        main(["--debug", "demo", "--output", target])


@needs_data
def test_train_derives_the_validation_size(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--output", out, "--epochs", "1", "--train-images",
                 "300", "--batch-size", "64", "--verbose", "0"]) == 0
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert summary["validation_size"] == 30  # a tenth of 300
    with open(os.path.join(out, "log.csv")) as f:
        assert len(f.readlines()) == 2


def test_the_command_prints_no_tensorflow_start_up_lines(tmp_path):
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(sys.executable), "keras-zfnet")
    if not os.path.exists(script):
        pytest.skip("the keras-zfnet console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = subprocess.run(
        [script, "train", "--output", str(blocker / "out")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("keras-zfnet: error: --output must be")
