"""`keras_zfnet.utils.atomic`: a killed write never blocks its rerun and the
target never exists half-written."""

import json
import os

import pytest

from keras_zfnet.utils.atomic import atomic_folder
from keras_zfnet.utils.atomic import check_output_dir

MARKER = "marker.json"


def _write(folder, files):
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def test_an_exception_mid_write_leaves_nothing_and_the_rerun_completes(
        tmp_path):
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(str(target), marker=MARKER) as temp:
            _write(temp, {"a.txt": "a"})
            assert not target.exists()  # never half-written
            raise KeyboardInterrupt
    assert not target.exists()
    assert os.listdir(tmp_path) == []  # the temporary folder is gone
    with atomic_folder(str(target), marker=MARKER) as temp:
        _write(temp, {"a.txt": "a", "b.txt": "b"})
    assert sorted(os.listdir(target)) == ["a.txt", "b.txt", MARKER]
    assert json.loads((target / MARKER).read_text())["files"] == [
        "a.txt", "b.txt", MARKER]


def test_a_leftover_of_a_killed_process_is_ignored_then_removed(tmp_path):
    leftover = tmp_path / ".out.kz-partial-999999999-x"  # pid not running
    leftover.mkdir()
    (leftover / "a.txt").write_text("half")
    target = tmp_path / "out"
    with atomic_folder(str(target), marker=MARKER) as temp:
        _write(temp, {"a.txt": "whole"})
    assert (target / "a.txt").read_text() == "whole"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_previous_output_is_replaced_and_other_files_stay(tmp_path):
    target = tmp_path / "out"
    with atomic_folder(str(target), marker=MARKER) as temp:
        _write(temp, {"old.png": "1", "index.html": "v1"})
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        with atomic_folder(str(target), marker=MARKER) as temp:
            _write(temp, {"index.html": "v2"})
            raise RuntimeError("killed")
    assert (target / "index.html").read_text() == "v1"  # untouched
    with atomic_folder(str(target), marker=MARKER) as temp:
        _write(temp, {"index.html": "v2"})
    assert sorted(os.listdir(target)) == ["index.html", MARKER, "notes.txt"]
    assert (target / "index.html").read_text() == "v2"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_foreign_folder_needs_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="refusing to overwrite.*"
                                         "overwrite=True.*output_dir="):
        check_output_dir(str(tmp_path), marker=MARKER)
    with pytest.raises(ValueError, match="pass --overwrite.*--output="):
        check_output_dir(str(tmp_path), marker=MARKER, name="--output")
    with atomic_folder(str(tmp_path), overwrite=True, marker=MARKER) as temp:
        _write(temp, {"index.html": "x"})
    assert sorted(os.listdir(tmp_path)) == ["index.html", MARKER,
                                            "notes.txt"]
    check_output_dir(str(tmp_path), marker=MARKER)  # now ours


def test_a_file_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match="a file of that name exists"):
        check_output_dir(str(path))
