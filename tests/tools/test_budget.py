"""`bevfusion.engine.budget`: schedules fitted to a wall-clock budget, and the LiDAR-then-fusion recipe that
`make demo` and the learning benchmark train with."""

import time
from pathlib import Path

import pytest
import torch
import torchvision
from mmengine.config import Config

from bevfusion.benchmarks.bench_learn import check_camera_pretrained
from bevfusion.engine.budget import (
    Timing,
    calibrate,
    continue_schedule,
    lr_after,
    rescale_schedule,
    tiny_config,
    train_fusion_within,
)
from bevfusion.models.checkpoint import CheckpointMismatchError


def test_lr_after_follows_the_tiny_one_cycle_schedule(tmp_path):
    config = tiny_config("lidar", tmp_path)
    rescale_schedule(config, 100)
    base = config.optim_wrapper.optimizer.lr
    start, rising, peak, falling, last = (lr_after(config, step) for step in (0, 20, 40, 70, 99))
    assert start == pytest.approx(base) and peak == pytest.approx(10 * base, rel=0.02) and last < 0.01 * base
    assert start < rising < peak > falling > last


def test_continue_schedule_anneals_from_the_given_lr_to_the_given_end(tmp_path):
    config = tiny_config("fusion", tmp_path)
    continue_schedule(config, 30, 1.5e-3, 2e-8)
    lrs = [lr_after(config, step) for step in range(31)]
    assert lrs[0] == pytest.approx(1.5e-3) and 2e-8 < lrs[-1] < 1e-2 * 1.5e-3
    assert all(later < earlier for earlier, later in zip(lrs[:30], lrs[1:30]))
    assert config.train_cfg.max_iters == config.default_hooks.checkpoint.interval == 30


def test_timing_leaves_a_runs_fixed_cost_out_of_the_budget():
    """30 minutes at 1.5 s per iteration are 1200 iterations, 1180 when starting and ending a run takes 30 s."""
    assert Timing(1.5).iterations_within(1800) == 1200
    assert Timing(1.5, startup_seconds=30.0).iterations_within(1800) == 1180
    assert Timing(1.5, startup_seconds=30.0).iterations_within(20) == 1  # less than the start-up: one iteration


@pytest.mark.slow
def test_calibration_splits_a_short_run_into_its_steady_rate_and_its_fixed_cost(tiny_world, tmp_path):
    """The fixed cost and the timed windows' rate over all iterations add up to at most the run's wall time."""
    start = time.perf_counter()
    timing = calibrate("lidar", Path(tiny_world), tmp_path, windows=(3, 2))
    wall = time.perf_counter() - start
    assert 0 < timing.seconds_per_iter and 1.0 < timing.startup_seconds  # a Python process alone takes a second
    assert 6 * timing.seconds_per_iter + timing.startup_seconds <= wall


@pytest.mark.slow
def test_fusion_recipe_starts_from_the_lidar_checkpoint_at_the_lr_the_lidar_stage_reached(tiny_world, tmp_path):
    """One minute at 7.5 s per LiDAR iteration is an 8-iteration schedule; the LiDAR stage trains its first half,
    the fusion stage the iterations of 15 s that fit into the time the LiDAR stage actually left. A pretrained
    camera backbone survives the LiDAR checkpoint's loading: its frozen stem ends the stage as the file has it."""
    pretrained = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(pretrained, tmp_path / "resnet18.pth")
    timings = {"lidar": Timing(7.5), "fusion": Timing(15.0)}
    checkpoint, iterations, seconds = train_fusion_within(
        1.0, 0.5, timings, Path(tiny_world), tmp_path, camera_pretrained=str(tmp_path / "resnet18.pth")
    )
    assert iterations == [4, max(1, int((60 - seconds[0]) / 15.0))] and seconds[1] > 0
    assert checkpoint == tmp_path / "1_fusion" / f"iter_{iterations[1]}.pth" and checkpoint.is_file()
    assert (tmp_path / "0_lidar" / "iter_4.pth").is_file()
    lidar = tiny_config("lidar", Path(tiny_world))
    rescale_schedule(lidar, 8)
    fusion = Config.fromfile(str(tmp_path / "1_fusion" / "config.py"))
    assert fusion.load_from == str(tmp_path / "0_lidar" / "iter_4.pth")
    assert fusion.optim_wrapper.optimizer.lr == pytest.approx(lr_after(lidar, 4))
    assert fusion.param_scheduler[0]["eta_min"] == lidar.param_scheduler[-1]["eta_min"]
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    assert any(key.startswith("encoders.camera.") for key in state) and any(key.startswith("fuser.") for key in state)
    for key in ("conv1.weight", "layer1.0.conv2.weight"):
        torch.testing.assert_close(state[f"encoders.camera.backbone.{key}"], pretrained[key])


def test_learning_benchmark_checks_the_camera_weights_file_before_any_work(tmp_path):
    """`--camera-pretrained` is loaded into the tiny camera backbone up front: a ResNet-50 file or a missing one
    stops the benchmark naming the file, before hours of data generation and training."""
    resnet18, resnet50 = tmp_path / "resnet18.pth", tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), resnet18)
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), resnet50)
    check_camera_pretrained(str(resnet18))
    with pytest.raises(CheckpointMismatchError, match="resnet50.pth does not fit ResNet"):
        check_camera_pretrained(str(resnet50))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        check_camera_pretrained(str(tmp_path / "missing.pth"))
