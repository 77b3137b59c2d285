import keras
import numpy as np
import pytest

from keras_zfnet.utils import progress


def test_plain_text_outside_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)
    bar = progress.bar(4)  # capsys' stdout is not a terminal
    assert isinstance(bar, progress.Progbar) and bar.plain
    for _ in range(4):
        bar.add(1, [("loss", 0.25)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\b" not in out
    lines = out.splitlines()
    assert lines[-1].startswith("4/4 " + "=" * bar.width)
    assert "loss: 0.2500" in lines[-1]
    assert lines[0].startswith("1/4 " + "=" * (bar.width // 4) + ".")
    # The same updates with Keras' own bar carry colour codes: the test
    # above would see them.
    keras_bar = progress.Progbar(4, plain=False)
    keras_bar.update(4)
    assert "\x1b[" in capsys.readouterr().out


def test_fit_logs_plain_text(tmp_path, capsys):
    from keras_zfnet import training

    x = np.zeros((8, 4, 4, 1), "float32")
    y = np.zeros(8, "int64")
    tf = pytest.importorskip("tensorflow")

    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    build = lambda: keras.Sequential([  # noqa: E731
        keras.Input((4, 4, 1)), keras.layers.Flatten(),
        keras.layers.Dense(2, activation="softmax")])
    training.train(build, ds, ds, str(tmp_path / "run"), 1, verbose=1)
    out = capsys.readouterr().out
    assert "2/2 " in out and "\x1b" not in out


def test_bar_rejects_a_bad_verbose():
    with pytest.raises(ValueError, match="Received: verbose=5"):
        progress.bar(3, verbose=5)
