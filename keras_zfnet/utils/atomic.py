"""Folders written all at once: a killed run never leaves a half-written
output that blocks its own rerun.

`atomic_folder` hands out a temporary folder beside the target (same parent
directory, so that renames stay on one file system); when the body finishes,
the temporary folder's entries are renamed into place and a marker file
records what keras_zfnet wrote. A run killed in the middle leaves only a
hidden `.NAME.kz-partial-*` folder, which the next run ignores and removes.
"""

import contextlib
import json
import os
import shutil
import tempfile

PARTIAL = ".kz-partial-"
ASIDE = ".kz-old-"


def _is_ours(path, marker):
    return marker is not None and os.path.isfile(os.path.join(path, marker))


def check_output_dir(path, overwrite=False, marker=None, name="output_dir",
                     what="a folder written by keras_zfnet"):
    """Checks, before any work, that a folder may be written at `path`.

    A missing or empty folder is fine, and so is a folder holding `marker`
    (one written by keras_zfnet before); any other existing folder needs
    `overwrite=True` (then only the entries written are replaced; other
    files stay). The parent folder is created and must be writable.

    Args:
        path: the output folder.
        overwrite: allow writing into a non-empty folder without `marker`.
        marker: the file name that identifies a folder keras_zfnet wrote,
            or None (then any folder is accepted).
        name: the argument's name in messages (`output_dir`, `--output`).
        what: what `marker` identifies, for the message.

    Returns:
        `path` (as a string).

    Raises:
        ValueError: naming the argument, the value and the reason.
    """
    path = os.fspath(path)
    option = name if name.startswith("-") else f"`{name}`"
    flag = "--overwrite" if name.startswith("-") else "overwrite=True"
    shown = path if name.startswith("-") else repr(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{option} must be a folder; a file of that name "
                         f"exists. Received: {name}={shown}")
    if (marker is not None and not overwrite and os.path.isdir(path)
            and _entries(path) and not _is_ours(path, marker)):
        raise ValueError(
            f"{option} exists and is not {what}; refusing to overwrite it "
            f"(pass {flag}, or another folder). Received: {name}={shown}")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(
            f"{option} must be a folder whose parent folder is writable "
            f"({reason}). Received: {name}={shown}") from None
    return path


def _entries(path):
    return [e for e in os.listdir(path)
            if not (e.startswith(".") and (PARTIAL in e or ASIDE in e))]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except (OSError, OverflowError):
        return False
    return True


def _remove_leftovers(parent, base):
    """Removes temporary folders of `base` left by killed runs."""
    for entry in os.listdir(parent):
        for tag in (PARTIAL, ASIDE):
            prefix = f".{base}{tag}"
            if not entry.startswith(prefix):
                continue
            pid = entry[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def _write_marker(folder, marker):
    """Adds the list of written entries to `marker` (kept if present)."""
    path = os.path.join(folder, marker)
    payload = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
    payload.setdefault("format", "keras_zfnet.folder/1")
    payload["files"] = sorted(set(os.listdir(folder)) | {marker})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)


def _owned(path, marker):
    """Entries that a previous keras_zfnet run wrote in `path`."""
    try:
        with open(os.path.join(path, marker), encoding="utf-8") as f:
            files = json.load(f).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [f for f in files if isinstance(f, str) and os.sep not in f
            and f not in (".", "..")]


def _publish(temp, target, marker):
    """Moves the entries of `temp` into `target` (renames only)."""
    if not os.path.isdir(target) or not os.listdir(target):
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(temp, target)  # atomic: the target appears complete
        return
    parent, base = os.path.split(os.path.abspath(target))
    new = os.listdir(temp)
    old = _owned(target, marker) if marker else []
    aside = tempfile.mkdtemp(prefix=f".{base}{ASIDE}{os.getpid()}-",
                             dir=parent)
    for entry in sorted(set(new) | set(old)):
        if os.path.lexists(os.path.join(target, entry)):
            os.rename(os.path.join(target, entry), os.path.join(aside, entry))
    for entry in new:
        os.rename(os.path.join(temp, entry), os.path.join(target, entry))
    os.rmdir(temp)
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(target, overwrite=False, marker=None, name="output_dir",
                  what="a folder written by keras_zfnet"):
    """Writes a folder in a temporary folder and moves it into place.

    The body writes into the yielded temporary folder (beside `target`).
    On success its entries replace those of `target` (a missing or empty
    target is replaced by one rename, so it never exists half-written;
    otherwise the entries a previous run listed in `marker`, and the new
    ones, are replaced; other files stay). On any exception, or when the
    process is killed, `target` is left as it was; the temporary folder is
    removed (or, after a kill, by the next run).

    Args:
        target: the folder to write.
        overwrite: write into a non-empty folder that has no `marker`.
        marker: file name identifying folders keras_zfnet wrote; written
            into the folder (with the list of written entries), or None.
        name: the argument's name for messages.
        what: what `marker` identifies, for messages.

    Yields:
        The temporary folder to write into.

    Example:

    >>> with atomic_folder("report", marker="keras_zfnet_report.json") as d:
    ...     write_files(d)
    """
    target = check_output_dir(target, overwrite, marker, name, what)
    parent, base = os.path.split(os.path.abspath(target))
    temp = tempfile.mkdtemp(prefix=f".{base}{PARTIAL}{os.getpid()}-",
                            dir=parent)
    try:
        yield temp
        if marker is not None:
            _write_marker(temp, marker)
        _publish(temp, target, marker)
    finally:
        if os.path.isdir(temp):
            shutil.rmtree(temp, ignore_errors=True)
    _remove_leftovers(parent, base)
