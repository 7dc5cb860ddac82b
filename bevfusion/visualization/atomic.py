"""Output files appear whole or not at all: written under a temporary name next to the target, then renamed."""

from __future__ import annotations

import os
import tempfile


def temporary_sibling(path: str) -> str:
    """Create an empty temporary file beside `path`, with `path`'s suffix (OpenCV picks formats by it) and the
    permissions a plain new file would get (mkstemp's are owner-only)."""
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
