"""One CLI vocabulary: MODEL specs on every subcommand, one declaration per
argument, and killed runs that never block their rerun."""

import os

import pytest

from keras_zfnet.cli import build_parser
from keras_zfnet.cli import main


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions
                  if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_each_argument_has_one_type_and_default_everywhere():
    seen = {}
    for name, sub in _subparsers().items():
        for action in sub._actions:
            for flag in ("--layer", "--seed", "--labels", "--class-names",
                         "--weights"):
                if flag in action.option_strings:
                    seen.setdefault(flag, set()).add(
                        (getattr(action.type, "__name__", action.type),
                         action.default, action.metavar))
    assert {flag: len(kinds) for flag, kinds in seen.items()} == {
        "--layer": 1, "--seed": 1, "--labels": 1, "--class-names": 1,
        "--weights": 1}
    model_commands = [name for name, sub in _subparsers().items()
                      if any(a.dest == "model" and not a.option_strings
                             for a in sub._actions)]
    assert set(model_commands) >= {"project", "top", "occlusion", "diagnose",
                                   "transfer", "browse"}
    for name in model_commands:
        assert any("--weights" in a.option_strings
                   for a in _subparsers()[name]._actions), name


def test_a_preset_spec_on_top(image_folder, tmp_path):
    out = tmp_path / "top"
    assert main(["top", "MiniZFNet:fashion_mnist", image_folder, "--resize",
                 "--layer", "conv1", "--k", "2", "--features", "2",
                 "--output", str(out), "--verbose", "0"]) == 0
    assert {"index.html", "top.npz", "keras_zfnet_report.json"} <= set(
        os.listdir(out))


def test_a_keras_applications_name_on_diagnose(tmp_path):
    out = tmp_path / "diag"
    assert main(["diagnose", "VGG16", "--weights", "none", "--output",
                 str(out), "--verbose", "0"]) == 0
    assert os.path.isfile(out / "diagnosis.json")


@pytest.mark.parametrize("argv, expected", [
    (["project", "nonsense", "--layer", "c", "--channels", "0"],
     "MODEL must be a .keras file, a shipped ARCH[:PRESET] (ZFNet, AlexNet, "
     "MiniZFNet; e.g. MiniZFNet:fashion_mnist) or a keras.applications name "
     "with --weights (e.g. VGG16 --weights imagenet). Received: "
     "MODEL=nonsense"),
    (["top", "VGG16", "--layer", "block1_conv1"],
     "MODEL VGG16 is a keras.applications model: pass --weights imagenet, "
     "--weights none (random weights) or --weights FILE.weights.h5. "
     "Received: MODEL=VGG16 (no --weights)"),
    (["occlusion", "MiniZFNet:fashion_mnist", "--patch", "2", "--stride",
      "2", "--weights", "none"], "MODEL MiniZFNet:fashion_mnist names its "
     "preset; --weights must not be given too."),
    (["browse", "MiniZFNet:nope"], "MODEL could not be built ("),
])
def test_bad_specs_fail_in_one_line(argv, expected, image_folder, tmp_path,
                                    capsys):
    argv = argv[:2] + [image_folder] + argv[2:] + [
        "--output", str(tmp_path / "o"), "--verbose", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err


def test_browse_names_its_options_without_rewriting(image_folder, tmp_path,
                                                    capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["browse", "MiniZFNet:fashion_mnist", image_folder,
                 "--resize", "--output", str(tmp_path), "--verbose",
                 "0"]) == 2
    err = capsys.readouterr().err
    assert ("--output exists and is not a unit browser written by "
            "keras_zfnet; refusing to overwrite it (pass --overwrite, or "
            f"another folder). Received: --output={tmp_path}") in err


def _interrupt_once(monkeypatch, owner, name):
    original = getattr(owner, name)
    calls = []

    def interrupted(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


def test_a_killed_report_never_blocks_its_rerun(tiny_model_path,
                                                image_folder, tmp_path,
                                                monkeypatch):
    from keras_zfnet.plotting.report import Report

    out = tmp_path / "out"
    argv = ["top", tiny_model_path, image_folder, "--layer", "conv2", "--k",
            "2", "--output", str(out), "--verbose", "0"]
    _interrupt_once(monkeypatch, Report, "write")
    assert main(argv) == 130
    assert os.listdir(tmp_path) == []  # nothing half-written, no leftover
    assert main(argv) == 0
    assert {"index.html", "top.npz", "top.csv", "top.png",
            "keras_zfnet_report.json"} <= set(os.listdir(out))


def test_a_killed_browse_never_blocks_its_rerun(tiny_model_path,
                                                image_folder, tmp_path,
                                                monkeypatch):
    from keras_zfnet.plotting.browser import site

    out = tmp_path / "units"
    argv = ["browse", tiny_model_path, image_folder, "--k", "2", "--output",
            str(out), "--verbose", "0"]
    assert main(argv) == 0
    first = sorted(os.listdir(out))
    _interrupt_once(monkeypatch, site, "_copy_assets")
    assert main(argv) == 130
    assert sorted(os.listdir(out)) == first  # the previous site is intact
    assert sorted(os.listdir(tmp_path)) == ["units"]
    assert main(argv) == 0
    assert sorted(os.listdir(out)) == first
    assert site.is_site(str(out))


def test_an_npz_labels_file_says_where_its_labels_go(tmp_path):
    import numpy as np

    from keras_zfnet.cli import inputs

    path = tmp_path / "labels.npz"
    np.savez(path, labels=np.arange(3))
    with pytest.raises(ValueError, match="in the IMAGES .npz as a `labels`"):
        inputs.read_labels(str(path), 3)
