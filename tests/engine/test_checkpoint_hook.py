"""AtomicCheckpointHook: crash-safe writes, outdated checkpoints removed only after their successor, best by metric."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from toy_training import ScheduledMetric, loader, toy_runner

from bevfusion.engine import load_checkpoint_file
from bevfusion.models.checkpoint import CheckpointMismatchError

TOY_SCRIPT = str(Path(__file__).with_name("toy_training.py"))


def _crash_while_saving(work_dir: Path, hook_type: str) -> subprocess.CompletedProcess:
    """A real training process that a file-size limit kills halfway through writing `epoch_2.pth`."""
    pytest.importorskip("resource")
    return subprocess.run(
        [sys.executable, TOY_SCRIPT, "crash", str(work_dir), hook_type], capture_output=True, text=True, timeout=300
    )


def test_a_crash_while_writing_a_checkpoint_leaves_the_previous_one_usable(tmp_path):
    result = _crash_while_saving(tmp_path, "AtomicCheckpointHook")
    assert result.returncode == -signal.SIGXFSZ, result.stderr[-2000:]
    assert not (tmp_path / "epoch_2.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_1.pth")
    checkpoint = load_checkpoint_file(str(tmp_path / "epoch_1.pth"))
    assert checkpoint["meta"]["epoch"] == 1
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".tmp_")]
    assert len(leftovers) == 1 and leftovers[0].endswith(".pth")  # the half-written temporary file

    runner = toy_runner(str(tmp_path), resume=True)  # and training continues from it
    runner.train()
    assert load_checkpoint_file(str(tmp_path / "epoch_2.pth"))["meta"]["epoch"] == 2


def test_the_same_crash_destroys_mmengines_checkpoints(tmp_path):
    """What the hook fixes: mmengine's hook deletes epoch_1.pth first, then dies with epoch_2.pth half written."""
    result = _crash_while_saving(tmp_path, "CheckpointHook")
    assert result.returncode == -signal.SIGXFSZ, result.stderr[-2000:]
    assert not (tmp_path / "epoch_1.pth").exists()
    with pytest.raises(CheckpointMismatchError, match="epoch_2.pth: cannot be loaded: it is not a complete"):
        load_checkpoint_file(str(tmp_path / "epoch_2.pth"))


@pytest.mark.parametrize(
    ("scores", "best_epoch"), [([0.1, 0.2, 0.3], 3), ([0.1, 0.5, 0.3], 2)], ids=["improving", "peak"]
)
def test_only_the_best_checkpoint_by_the_metric_is_kept(tmp_path, scores, best_epoch):
    hook = dict(type="AtomicCheckpointHook", interval=1, max_keep_ckpts=1, save_best="score", rule="greater")
    runner = toy_runner(
        str(tmp_path),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        val_dataloader=loader(shuffle=False),
        val_cfg=dict(),
        val_evaluator=[ScheduledMetric(scores)],
        default_hooks=dict(checkpoint=hook),
    )
    runner.train()
    best = sorted(path.name for path in tmp_path.glob("best_*.pth"))
    assert best == [f"best_score_epoch_{best_epoch}.pth"]
    assert sorted(path.name for path in tmp_path.glob("epoch_*.pth")) == ["epoch_3.pth"]
    saved = load_checkpoint_file(str(tmp_path / best[0]))
    assert saved["meta"]["epoch"] == best_epoch
    assert runner.message_hub.get_info("best_score") == max(scores)


def test_checkpoints_load_with_weights_only_and_resume_the_logged_history(tmp_path):
    first = toy_runner(str(tmp_path), train_cfg=dict(by_epoch=True, max_epochs=1))
    first.train()
    raw = torch.load(tmp_path / "epoch_1.pth", map_location="cpu", weights_only=True)  # plain torch, no allowlist
    assert set(raw) >= {"meta", "state_dict", "message_hub", "optimizer"}
    losses = first.message_hub.get_scalar("train/loss").data[0]
    assert len(losses) == 4  # 8 samples at batch 2

    second = toy_runner(str(tmp_path), resume=True)
    second.train()
    history = second.message_hub.get_scalar("train/loss").data[0]
    assert len(history) == 8 and history[:4].tolist() == losses.tolist()
    assert second.iter == 8 and second.epoch == 2
