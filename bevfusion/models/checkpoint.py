"""Load weights files safely (`weights_only=True`) and refuse ones that do not fit the model.

A checkpoint of another architecture must not load silently half-way: every mismatch
(missing key, unexpected key, shape) is listed in one error, unless the caller names the
prefixes it expects to be missing (a fusion model initialised from a LiDAR-only one) or
unexpected (the classifier of a pretrained backbone).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

SHOWN_KEYS = 8


class CheckpointMismatchError(ValueError):
    """A weights file whose keys or shapes do not fit the model."""


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a local weights file: a plain state dict or an mmengine checkpoint (`state_dict`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CheckpointMismatchError(f"{path}: cannot be read as a PyTorch weights file ({error})") from error
    state = content.get("state_dict", content) if isinstance(content, Mapping) else None
    if not isinstance(state, Mapping) or not all(torch.is_tensor(value) for value in state.values()):
        raise CheckpointMismatchError(f"{path}: holds no state dict of tensors")
    return dict(state)


def _listing(title: str, keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS]) + (f", ... ({len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else "")
    return f"{len(keys)} {title}: {shown}"


def check_state_dict(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    allow_missing: Sequence[str] = (),
    allow_unexpected: Sequence[str] = (),
) -> None:
    """Raise `CheckpointMismatchError` listing every key of `state` that does not fit `module`."""
    own = module.state_dict()
    missing = [key for key in own if key not in state and not key.startswith(tuple(allow_missing))]
    unexpected = [key for key in state if key not in own and not key.startswith(tuple(allow_unexpected))]
    shapes = [
        f"{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}"
        for key in state
        if key in own and state[key].shape != own[key].shape
    ]
    matched = [key for key in state if key in own]
    problems = [
        _listing(title, keys)
        for title, keys in (
            ("keys missing from the checkpoint", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches (checkpoint vs model)", shapes),
        )
        if keys
    ]
    if not matched:
        problems.insert(0, "no key matches the model")
    if problems:
        raise CheckpointMismatchError(
            f"{source} does not fit {type(module).__name__} (a checkpoint of another model?): " + "; ".join(problems)
        )


def load_state_dict_file(
    module: nn.Module,
    path: str,
    allow_missing: Sequence[str] = (),
    allow_unexpected: Sequence[str] = (),
) -> None:
    """Load `path` into `module` after `check_state_dict`; only matching keys are copied."""
    state = read_state_dict(path)
    check_state_dict(module, state, path, allow_missing, allow_unexpected)
    own = module.state_dict()
    module.load_state_dict({key: value for key, value in state.items() if key in own}, strict=False)
