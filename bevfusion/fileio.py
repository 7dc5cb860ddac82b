"""Atomic file output: a reader (or a crash) never sees a half-written info file, checkpoint, JSON or picture.

Everything the project writes goes to a temporary file next to its target, is flushed to disk and
renamed onto the target. The temporary file keeps the target's suffix (OpenCV picks formats by it)
and gets the permissions a plain new file would (mkstemp's are owner-only).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


def temporary_sibling(path: str | os.PathLike) -> str:
    """An empty temporary file beside `path`, with its suffix and default permissions; the caller renames it."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=os.path.splitext(path)[1])
    os.close(descriptor)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    return temporary


def discard(temporary: str) -> None:
    """Remove a temporary file that will not be published."""
    if os.path.exists(temporary):
        os.unlink(temporary)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """`with atomic_write(path) as handle:` writes `path` whole when the block succeeds, not at all otherwise."""
    temporary = temporary_sibling(path)
    try:
        with open(temporary, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        discard(temporary)
        raise
