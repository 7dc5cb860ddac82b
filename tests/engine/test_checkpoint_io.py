"""Checkpoint files: atomic writes, `weights_only=True` reads with errors naming the file, no unpickling fallback."""

import os

import pytest
import torch
from mmengine.runner.checkpoint import _load_checkpoint

from bevfusion.engine import AtomicLocalBackend, load_checkpoint_file, write_atomic
from bevfusion.engine.checkpoint_io import restore_message_hub, to_weights_only
from bevfusion.models.checkpoint import CheckpointMismatchError


class Trap:
    """Unpickling it would create `path`: proof that a loader executed pickled code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_atomic_writes_replace_the_file_and_leave_no_temporary(tmp_path):
    target = tmp_path / "sub" / "epoch_1.pth"
    AtomicLocalBackend().put(b"first", target)
    AtomicLocalBackend().put_text("second", target)
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["epoch_1.pth"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "epoch_1.pth"
    write_atomic(b"old", target)
    with pytest.raises(TypeError):
        write_atomic("not bytes", target)  # fails inside the write
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["epoch_1.pth"]


def test_a_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "epoch_3.pth"
    torch.save({"state_dict": {"weight": torch.randn(64, 64)}}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointMismatchError, match=r"epoch_3\.pth: cannot be loaded: it is not a complete PyTorch"):
        load_checkpoint_file(str(path))


def test_a_checkpoint_with_pickled_code_is_refused_without_running_it(tmp_path):
    path, marker = tmp_path / "foreign.pth", tmp_path / "executed"
    torch.save({"state_dict": {}, "meta": Trap(str(marker))}, path)
    with pytest.raises(CheckpointMismatchError, match=r"foreign\.pth: cannot be loaded: .*weights_only=True refuses"):
        load_checkpoint_file(str(path))
    with pytest.raises(CheckpointMismatchError):  # mmengine's own loading path goes through the same loader
        _load_checkpoint(str(path))
    assert not marker.exists()


def test_a_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nowhere.pth"):
        load_checkpoint_file(str(tmp_path / "nowhere.pth"))


def test_message_hub_state_round_trips_through_weights_only_types(tmp_path):
    import numpy as np
    from mmengine.logging import HistoryBuffer

    state = {
        "log_scalars": {"train/loss": HistoryBuffer([3.0, 2.5], [1, 1], max_length=7)},
        "runtime_info": {"best_score": np.float64(0.25), "keep_ckpt_ids": [np.int64(3)], "table": np.arange(3)},
        "resumed_keys": {"train/loss": True},
    }
    safe = to_weights_only(state)
    torch.save(safe, tmp_path / "hub.pth")
    loaded = restore_message_hub(torch.load(tmp_path / "hub.pth", weights_only=True))
    buffer = loaded["log_scalars"]["train/loss"]
    assert buffer.data[0].tolist() == [3.0, 2.5] and buffer.data[1].tolist() == [1, 1] and buffer.max_length == 7
    assert loaded["runtime_info"]["best_score"] == 0.25 and loaded["runtime_info"]["keep_ckpt_ids"] == [3]
    assert loaded["runtime_info"]["table"].tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match=r"checkpoint\['meta'\]\['hook'\] holds a Trap"):
        to_weights_only({"meta": {"hook": Trap("x")}})
