import gzip
import os

import numpy as np
import pytest

from keras_zfnet.datasets import fashion_mnist

REQUIRED = os.environ.get("KERAS_ZFNET_REQUIRE_FASHION_MNIST") == "1"


def _write_idx(path, array, compress=True):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + array.tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No environment variable, an empty Keras home, no Debian folder."""
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "none"))
    return tmp_path


def test_read_idx_round_trip_and_errors(tmp_path):
    array = np.arange(24).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    _write_idx(tmp_path / "b", array, compress=False)
    np.testing.assert_array_equal(fashion_mnist.read_idx(str(tmp_path / "a.gz")),
                                  array)
    np.testing.assert_array_equal(fashion_mnist.read_idx(str(tmp_path / "b")),
                                  array)
    raw = (tmp_path / "b").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"short is corrupt.*truncated"):
        fashion_mnist.read_idx(str(tmp_path / "short"))
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"junk.gz is corrupt.*apt-get"):
        fashion_mnist.read_idx(str(tmp_path / "junk.gz"))
    # A well-formed file with other content fails the hash check.
    _write_idx(tmp_path / "labels.gz", np.zeros(60000))
    with pytest.raises(ValueError, match="SHA-256"):
        fashion_mnist.read_idx(str(tmp_path / "labels.gz"),
                               "train-labels-idx1-ubyte")


def test_search_order(isolated, monkeypatch):
    first, second = isolated / "first", isolated / "second"
    for folder in (first, second):
        folder.mkdir()
        for stem in fashion_mnist.FILES:
            (folder / (stem + ".gz")).write_bytes(b"")
    assert fashion_mnist.find_local() is None
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(second))
    assert fashion_mnist.find_local() == str(second)
    assert fashion_mnist.find_local(path=first) == str(first)
    monkeypatch.delenv(fashion_mnist.ENV_VAR)
    cache = isolated / "keras_home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for stem in fashion_mnist.FILES:
        (cache / stem).write_bytes(b"")
    assert fashion_mnist.find_local() == str(cache)


def test_missing_without_download_says_how_to_fix(isolated):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.load_data(download=False)


def test_a_failed_download_is_reported(isolated, monkeypatch):
    def offline():
        raise OSError("no network")

    monkeypatch.setattr(fashion_mnist, "_download", offline)
    with pytest.raises(FileNotFoundError, match="no network"):
        fashion_mnist.load_data()


def test_shipped_sample(capsys):
    x, y = fashion_mnist.load_sample()
    assert x.shape == (1000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (1000,) and set(np.unique(y)) == set(range(10))
    assert "sample" in capsys.readouterr().err
    local = fashion_mnist.find_local()
    if local is not None:  # the sample is the head of the official test set
        _, (x_test, y_test) = fashion_mnist.load_data(verbose=0)
        np.testing.assert_array_equal(x, x_test[:1000])
        np.testing.assert_array_equal(y, y_test[:1000])


@pytest.mark.skipif(
    fashion_mnist.find_local() is None and not REQUIRED,
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_data(capsys):
    (x, y), (x_test, y_test) = fashion_mnist.load_data(download=False)
    assert x.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert "from" in capsys.readouterr().err


def test_an_explicit_path_that_is_missing_is_an_error(isolated, monkeypatch):
    # Another complete copy exists (environment variable): it must not be
    # loaded in place of the explicit path.
    other = isolated / "other"
    other.mkdir()
    for stem in fashion_mnist.FILES:
        (other / (stem + ".gz")).write_bytes(b"")
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(other))
    monkeypatch.setattr(fashion_mnist, "_download",
                        lambda: pytest.fail("must not download"))
    missing = isolated / "no_such_folder"
    with pytest.raises(FileNotFoundError,
                       match=r"`path`.*Received: path='.*no_such_folder'"):
        fashion_mnist.load_data(path=missing)
    partial = isolated / "partial"
    partial.mkdir()
    (partial / "train-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError,
                       match=r"missing train-images-idx3-ubyte.*"
                             r"Received: path='.*partial'"):
        fashion_mnist.load_data(path=str(partial), verbose=0)
