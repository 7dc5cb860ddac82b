"""Checkpoint files: written atomically, read with `weights_only=True`, holding only types that allows.

- `AtomicLocalBackend` (mmengine file backend `atomic_local`): every write goes to a temporary file in
  the target folder, is flushed to disk, then renamed over the target, so a crash mid-write leaves the
  previous file intact and never a truncated one.
- `load_checkpoint_file` reads a checkpoint with `weights_only=True` (never falling back to full
  unpickling); a missing, truncated or foreign file raises an error naming the file and the problem.
  It replaces mmengine's loader for local paths, so every checkpoint mmengine loads goes through it.
- mmengine keeps its logged scalars in `HistoryBuffer` objects holding numpy arrays, which
  `weights_only` refuses: `to_weights_only` stores them as tensors, `restore_message_hub` rebuilds them.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from bevfusion.fileio import atomic_write
from bevfusion.models.checkpoint import CheckpointMismatchError

ATOMIC_BACKEND = "atomic_local"


def write_atomic(data: bytes, path: str | Path) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    with atomic_write(path) as handle:
        handle.write(data)


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (temporary file, then rename)."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        write_atomic(obj, filepath)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = "utf-8") -> None:
        write_atomic(obj.encode(encoding), filepath)


def _read_problem(error: Exception) -> str:
    """One line saying why torch could not read a file."""
    text = str(error)
    if "Unsupported global" in text:
        unsupported = next(line for line in text.splitlines() if "Unsupported global" in line)
        return f"it holds objects that weights_only=True refuses to unpickle ({unsupported.strip()})"
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return f"it is not a complete PyTorch checkpoint ({first_line})"


def load_checkpoint_file(filename: str, map_location: str | Callable | None = None) -> dict:
    """A local checkpoint, read with `weights_only=True`; errors name the file and the problem."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"checkpoint not found: {filename}")
    try:
        checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        raise CheckpointMismatchError(f"{filename}: cannot be loaded: {_read_problem(error)}") from error
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(f"{filename}: holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


CheckpointLoader.register_scheme(prefixes="", loader=load_checkpoint_file, force=True)


def _history_as_tensors(buffer: HistoryBuffer) -> dict:
    log_history, count_history = buffer.data
    return {
        "log_history": torch.from_numpy(np.asarray(log_history).copy()),
        "count_history": torch.from_numpy(np.asarray(count_history).copy()),
        "max_length": buffer.max_length,
    }


def to_weights_only(value, where: str = "checkpoint"):
    """`value` with numpy arrays as tensors, numpy scalars as Python numbers and `HistoryBuffer`s as dicts.

    Raises `TypeError` naming the entry for anything else `weights_only=True` loading would refuse.
    """
    if isinstance(value, HistoryBuffer):
        return _history_as_tensors(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((key, to_weights_only(item, f"{where}[{key!r}]")) for key, item in value.items())
    if isinstance(value, list | tuple):
        return type(value)(to_weights_only(item, f"{where}[{index}]") for index, item in enumerate(value))
    if value is None or isinstance(value, str | bytes | int | float | bool | torch.Tensor | torch.dtype):
        return value
    raise TypeError(f"{where} holds a {type(value).__qualname__}, which a weights_only checkpoint cannot store")


def restore_message_hub(state: dict) -> dict:
    """The saved message-hub state with its logged scalars back as `HistoryBuffer`s (the inverse of the above)."""
    scalars = {}
    for key, saved in state["log_scalars"].items():
        scalars[key] = HistoryBuffer(
            saved["log_history"].numpy(), saved["count_history"].numpy(), max_length=saved["max_length"]
        )
    return {**state, "log_scalars": scalars}
