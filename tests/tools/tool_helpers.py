"""Run tools/train.py and tools/test.py as real processes on configs derived from the tiny ones."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from mmengine.config import Config

from bevfusion.registry import register_all_modules

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "bevfusion"
TRAIN, TEST, DEMO = (str(REPO / "tools" / name) for name in ("train.py", "test.py", "demo.py"))
LIDAR_TINY = CONFIGS / "bevfusion_lidar_synthetic_tiny.py"
FUSION_TINY = CONFIGS / "bevfusion_lidar-cam_synthetic_tiny.py"
# Deterministic steps of the LiDAR train pipeline (the others draw random numbers).
DETERMINISTIC_STEPS = {
    "LoadPointsFromFile",
    "PointsRangeFilter",
    "ObjectRangeFilter",
    "ObjectNameFilter",
    "Pack3DDetInputs",
}


def tiny_config(
    source: Path, world: str, out: Path, iterations: int = 5, edit: Callable[[Config], None] | None = None
) -> Path:
    """`source` pointed at the synthetic `world`, in-process data loading, a log line per iteration.

    It trains `iterations` iterations, then validates and saves the last checkpoint.

    The result is dumped as a plain config file (what mmengine writes to every work dir), so the
    tools read a real file. `edit(cfg)` makes further changes before the dump.
    """
    register_all_modules()
    cfg = Config.fromfile(str(source))
    root = world.rstrip("/") + "/"
    train_set = cfg.train_dataloader.dataset.dataset
    train_set.data_root = root
    for step in train_set.pipeline:
        if step["type"] == "ObjectSample":
            step["data_root"] = root
    cfg.val_dataloader.dataset.data_root = root
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.data_root = root
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iterations, val_interval=iterations)
    cfg.default_hooks.logger.interval = 1
    if edit is not None:
        edit(cfg)
    cfg.dump(str(out))
    return out


def deterministic_training(cfg: Config) -> None:
    """No validation, no data augmentation (GT sampling, flips, rotations, point shuffling, sweep choice)."""
    train_set = cfg.train_dataloader.dataset.dataset
    pipeline = []
    for step in train_set.pipeline:
        if step["type"] == "LoadPointsFromMultiSweeps":
            pipeline.append({**step, "test_mode": True})  # the newest sweeps, not a random choice
        elif step["type"] in DETERMINISTIC_STEPS:
            pipeline.append(step)
    train_set.pipeline = pipeline
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.save_best = None
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None


def four_training_samples(world: str, out: Path, boxes: int) -> str:
    """An info file of four samples with `boxes` boxes each: both mini_val frames, with two disjoint box sets each.

    Distinct samples with the same box count, so with the same loss normalisers (the head divides by
    the batch's box count).
    """
    with open(Path(world) / "nuscenes_infos_val.pkl", "rb") as handle:
        infos = pickle.load(handle)
    samples = []
    for part in range(2):
        for info in infos["data_list"]:
            usable = [
                item
                for item in info["instances"]
                if item["bbox_3d_isvalid"] and item["bbox_label_3d"] >= 0 and max(map(abs, item["bbox_3d"][:2])) < 50
            ]
            assert len(usable) >= 2 * boxes
            samples.append({**info, "instances": usable[part * boxes : (part + 1) * boxes]})
    with open(out, "wb") as handle:
        pickle.dump({**infos, "data_list": samples}, handle)
    return str(out)


def run_tool(
    tool: str, *args: str, env: dict | None = None, processes: int = 1, timeout: float = 900
) -> subprocess.CompletedProcess:
    """`python TOOL ARGS` (or `torchrun --nproc_per_node PROCESSES TOOL ARGS`) from the repository root.

    As a user runs it; stdout and stderr are captured.
    """
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    return subprocess.run(
        [sys.executable, *launcher, tool, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def training_log(work_dir: Path, key: str) -> list[float]:
    """`key` (e.g. `loss`) of every logged training iteration: LocalVisBackend's scalars.json of the newest run."""
    runs = sorted(path for path in work_dir.iterdir() if path.is_dir() and (path / "vis_data").is_dir())
    lines = (runs[-1] / "vis_data" / "scalars.json").read_text().splitlines()
    return [record[key] for record in map(json.loads, lines) if key in record]


def final_weights(work_dir: Path) -> dict[str, torch.Tensor]:
    """The state dict of the checkpoint `last_checkpoint` names."""
    path = (work_dir / "last_checkpoint").read_text().strip()
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_one_error_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    """The process failed with exactly one line on stderr, `error: ...`, containing every `expected` text."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stdout[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]
