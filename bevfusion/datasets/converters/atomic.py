"""Info files and GT databases are pickled atomically (`bevfusion.fileio`): a reader never sees half a file."""

from __future__ import annotations

import pickle
from typing import Any

from bevfusion.fileio import atomic_write


def dump_pickle_atomic(obj: Any, path: str) -> None:
    """Pickle `obj` to `path` through a temporary file and a rename."""
    with atomic_write(path) as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
