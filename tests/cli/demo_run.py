"""One `keras-zfnet demo --quick` run per test process, shared by the demo
and browser tests (they carry the same xdist group so they share it)."""

import functools
import tempfile

from keras_zfnet.cli import main


@functools.lru_cache(maxsize=None)
def quick_demo_folder():
    folder = tempfile.mkdtemp(prefix="kz_demo_")
    status = main(["demo", "--quick", "--images", "500", "--output", folder,
                   "--verbose", "0"])
    assert status == 0
    return folder
