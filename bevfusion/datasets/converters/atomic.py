"""Atomic writes: a reader never sees a half-written output file."""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any


def dump_pickle_atomic(obj: Any, path: str) -> None:
    """Pickle `obj` to a temp file next to `path`, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("wb", dir=directory, prefix=".tmp_", suffix=".pkl", delete=False)
    try:
        with handle:
            pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
