"""The analysis subcommands on a tiny saved model and a folder of PNGs,
checked against brute-force computations."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_zfnet.cli import main
from tests.cli.conftest import write_pngs


def _load(path):
    return keras.saving.load_model(path)


def test_project_writes_the_documented_array(tiny_model_path, image_folder,
                                             tiny_pixels, tmp_path):
    out = tmp_path / "p"
    assert main(["project", tiny_model_path, image_folder, "--layer",
                 "conv2", "--channels", "0", "3", "--output", str(out),
                 "--verbose", "0"]) == 0
    with np.load(out / "projections.npz") as data:
        projections = data["projections"]
        assert list(data["channels"]) == [0, 3]
    assert projections.shape == (5, 2, 12, 12, 1)
    # Same as the library on the pixels written to the PNGs (so the
    # folder was read in order, as 0..255 grey values).
    import keras_zfnet as kz

    x = tiny_pixels[..., None].astype("float32")
    expected = kz.Deconvnet(_load(tiny_model_path)).project(x, "conv2",
                                                            [0, 3])
    np.testing.assert_allclose(projections, expected, rtol=1e-5, atol=1e-6)
    page = (out / "index.html").read_text()
    assert "conv2" in page and (out / "projections.png").stat().st_size > 500


def test_top_values_are_the_brute_force_maxima(tiny_model_path, image_folder,
                                               tiny_pixels, tmp_path):
    out = tmp_path / "t"
    assert main(["top", tiny_model_path, image_folder, "--layer", "conv2",
                 "--k", "2", "--output", str(out), "--verbose", "0"]) == 0
    model = _load(tiny_model_path)
    features = keras.Model(model.inputs, model.get_layer("conv2").output)
    maps = features.predict(tiny_pixels[..., None].astype("float32"),
                            verbose=0)  # (5, 3, 3, 6)
    per_image = maps.max(axis=(1, 2))  # (5, 6)
    with np.load(out / "top.npz") as data:
        values, indices = data["values"], data["indices"]
    np.testing.assert_allclose(values[:, 0], per_image.max(0), rtol=1e-5)
    for c in range(6):
        if per_image[:, c].max() > 0:
            assert indices[c, 0] == per_image[:, c].argmax()
    rows = json.loads((out / "top.json").read_text())
    assert {"channel", "rank", "image", "value"} <= set(rows[0])
    assert rows[0]["image"].startswith("img_")


def test_occlusion_matches_a_hand_occluded_image(tiny_model_path,
                                                 image_folder, tiny_pixels,
                                                 tmp_path):
    out = tmp_path / "o"
    labels = tmp_path / "labels.txt"
    labels.write_text("0\n1\n2\n0\n1\n")
    assert main(["occlusion", tiny_model_path, image_folder, "--patch", "4",
                 "--stride", "4", "--labels", str(labels), "--layer",
                 "conv1", "--output", str(out), "--verbose", "0"]) == 0
    with np.load(out / "occlusion.npz") as data:
        probability = data["probability"]
    assert probability.shape == (5, 3, 3)
    model = _load(tiny_model_path)
    image = tiny_pixels[1, :, :, None].astype("float32").copy()
    image[4:8, 8:12] = image.mean()  # position (1, 2): the image's mean
    expected = model.predict(image[None], verbose=0)[0, 1]
    np.testing.assert_allclose(probability[1, 1, 2], expected, rtol=1e-4)
    summary = json.loads((out / "occlusion.json").read_text())
    assert [s["label"] for s in summary] == [0, 1, 2, 0, 1]
    assert len(list(out.glob("occlusion_*.png"))) == 5


def test_diagnose_flags_a_planted_dead_filter(tiny_model_path, tmp_path):
    model = _load(tiny_model_path)
    conv1 = model.get_layer("conv1")
    kernel, bias = conv1.get_weights()
    kernel[..., 2] = 0.0
    conv1.set_weights([kernel, bias])
    path = str(tmp_path / "dead.keras")
    model.save(path)
    out = tmp_path / "d"
    assert main(["diagnose", path, "--output", str(out),
                 "--verbose", "0"]) == 0
    result = json.loads((out / "diagnosis.json").read_text())
    dead = [f for f in result["findings"] if f["kind"] == "dead_filters"]
    assert dead and 2 in dead[0]["channels"]
    assert (out / "findings.csv").read_text().startswith("kind,")


def test_transfer_separates_two_easy_classes(tiny_model_path, tmp_path):
    pytest.importorskip("keras_zfnet.analysis.layer_analysis")
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    write_pngs(data / "dark", rng.integers(0, 40, (8, 12, 12)))
    write_pngs(data / "bright", rng.integers(200, 256, (8, 12, 12)))
    out = tmp_path / "tr"
    assert main(["transfer", tiny_model_path, str(data), "--layers",
                 "conv1", "conv2", "--per-class", "3", "--splits", "2",
                 "--output", str(out), "--verbose", "0"]) == 0
    rows = json.loads((out / "transfer.json").read_text())
    assert len(rows) == 2 * (2 + 1)  # classifiers x (layers + pixel control)
    for row in rows:
        assert row["per_class"] == 3 and 0.0 <= row["mean"] <= 1.0
    # Brightness is linearly separable from conv1's (ReLU of a linear map
    # of the pixels) features of these images.
    assert max(r["mean"] for r in rows if r["layer"] == "conv1") == 1.0


@pytest.mark.parametrize("case", ["missing model", "not keras", "bad image",
                                  "unknown layer", "wrong size",
                                  "bad channel", "missing images",
                                  "bad labels"])
def test_errors_are_one_line_with_status_2(case, tiny_model_path,
                                           image_folder, tmp_path, capsys):
    out = tmp_path / "out"
    model, images = tiny_model_path, image_folder
    extra = ["--layer", "conv2", "--channels", "0"]
    needle = None
    if case == "missing model":
        model, needle = str(tmp_path / "nope.keras"), "MODEL"
    elif case == "not keras":
        model = str(tmp_path / "m.h5")
        open(model, "w").write("x")
        needle = "MODEL"
    elif case == "bad image":
        images = str(tmp_path / "broken")
        os.makedirs(images)
        open(os.path.join(images, "a.png"), "wb").write(b"not a png")
        needle = "a.png"
    elif case == "unknown layer":
        extra, needle = ["--layer", "conv9", "--channels", "0"], "conv9"
    elif case == "wrong size":
        images = write_pngs(tmp_path / "big", np.zeros((1, 20, 20)))
        needle = "12x12"
    elif case == "bad channel":
        extra, needle = ["--layer", "conv2", "--channels", "6"], "--channels"
    elif case == "missing images":
        images, needle = str(tmp_path / "none"), "IMAGES"
    elif case == "bad labels":
        labels = tmp_path / "l.txt"
        labels.write_text("0\n1\n")
        argv = ["occlusion", model, images, "--patch", "4", "--stride", "4",
                "--labels", str(labels), "--output", str(out)]
        needle = "--labels"
    if case != "bad labels":
        argv = ["project", model, images, *extra, "--output", str(out)]
    assert main(argv + ["--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("keras-zfnet: error:") and needle in err
    assert "Traceback" not in err


def test_help_does_not_import_tensorflow():
    code = ("import sys; sys.argv[0] = 'keras-zfnet'\n"
            "from keras_zfnet.cli import build_parser\n"
            "build_parser().format_help()\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'matplotlib')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_subcommand_help_ends_with_an_example(capsys):
    for name in ("project", "top", "occlusion", "diagnose", "transfer"):
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out.rstrip()
        assert "Example:" in text
        assert text.splitlines()[-1].strip().startswith(f"keras-zfnet {name}")


def test_the_command_prints_no_tensorflow_start_up_lines(tiny_model_path,
                                                         tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "keras-zfnet")
    if not os.path.exists(script):
        pytest.skip("the keras-zfnet console script is not installed")
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([script, "diagnose", tiny_model_path, "--output",
                           str(tmp_path / "d"), "--verbose", "0"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_option_runs_the_command_on_that_backend(backend):
    pytest.importorskip(backend)
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-m", "keras_zfnet.cli", "--backend", backend,
         "info"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"backend {backend})" in done.stdout.splitlines()[0]
