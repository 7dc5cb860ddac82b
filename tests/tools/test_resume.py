"""Resume: a training process killed with SIGKILL mid-epoch and resumed ends where an uninterrupted run does."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tool_helpers import (
    LIDAR_TINY,
    REPO,
    TRAIN,
    deterministic_training,
    final_weights,
    four_training_samples,
    run_tool,
    tiny_config,
    training_log,
)

ITERATIONS, EVERY = 5, 2  # checkpoints at iterations 2, 4 and 5; an epoch is 4 iterations (4 samples, batch 1)
KILL_AFTER = "Iter(train) [3/5]"  # logged once iteration 3 is done: iter_2.pth (inside epoch 1) exists


def _kill_during_iteration_4(config: Path, work_dir: Path) -> None:
    """Start tools/train.py, SIGKILL it as soon as its log shows iteration 3 done."""
    log = work_dir.with_suffix(".log")
    with open(log, "w") as stream:
        process = subprocess.Popen(
            [sys.executable, TRAIN, str(config), "--work-dir", str(work_dir)],
            cwd=REPO,
            stdout=stream,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            while KILL_AFTER not in log.read_text():
                assert process.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_run_killed_mid_epoch_and_resumed_ends_with_the_uninterrupted_weights(tiny_world, tmp_path):
    """SIGKILL during iteration 4, `--resume` from iter_2.pth (mid-epoch 1), on to iteration 5: same weights.

    The run is deterministic where it can be: seed 0; data loading in the main process; no data
    augmentation (our transforms draw from their own generators, seeded from the OS unless given a
    seed, and no restarted process can continue those streams); the sampler's order follows from
    the seed and the epoch (mmengine replays the data loader to iteration 2 on resume); dropout is on
    (0.1) and draws from the global torch generator, which IterationSeedHook reseeds from (seed,
    iteration) before every iteration. CPU kernels give the same floats for the same inputs.
    """
    samples = four_training_samples(tiny_world, tmp_path / "four_samples.pkl", boxes=12)

    def edit(cfg):
        deterministic_training(cfg)
        cfg.train_dataloader.dataset = {**cfg.train_dataloader.dataset.dataset, "ann_file": samples}
        cfg.train_dataloader.batch_size = 1
        cfg.model.heads.object.dropout = 0.1
        cfg.default_hooks.checkpoint.interval = EVERY

    config = tiny_config(LIDAR_TINY, tiny_world, tmp_path / "resume.py", ITERATIONS, edit)
    whole, killed = tmp_path / "whole", tmp_path / "killed"

    uninterrupted = run_tool(TRAIN, str(config), "--work-dir", str(whole))
    assert uninterrupted.returncode == 0, uninterrupted.stdout[-3000:] + uninterrupted.stderr[-3000:]

    _kill_during_iteration_4(config, killed)
    assert (killed / "last_checkpoint").read_text() == str(killed / "iter_2.pth")
    assert not (killed / f"iter_{ITERATIONS}.pth").exists()

    resumed = run_tool(TRAIN, str(config), "--work-dir", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "iter: 2" in resumed.stdout and "Advance dataloader 2 steps" in resumed.stdout
    assert len(training_log(killed, "loss")) == ITERATIONS - 2  # the resumed run trained iterations 3 to 5

    expected, got = final_weights(whole), final_weights(killed)
    assert (killed / "last_checkpoint").read_text() == str(killed / f"iter_{ITERATIONS}.pth")
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)
    assert training_log(killed, "loss") == pytest.approx(training_log(whole, "loss")[2:], rel=1e-5)
