"""What `make demo` runs: synthetic data, a short training of the tiny camera+LiDAR model, the metric, pictures.

    python tools/make_demo.py [--work-dir work_dirs/demo] [--minutes 8] [--fresh]

1. generates a small synthetic nuScenes set (the ten v1.0-mini scene names: 8 train, 2 val) with info files;
2. trains `bevfusion_lidar-cam_synthetic_tiny.py` for about `--minutes` on this machine (its schedule rescaled
   to the iterations that fit, after timing a few), with tools/train.py;
3. evaluates the checkpoint on the val scenes with tools/test.py (nuscenes-devkit's DetectionEval);
4. renders one val scene with tools/demo.py to PNGs and an MP4.

Each step is skipped when its output exists, so a second run reuses the data and the checkpoint; `--fresh`
(`make demo FRESH=1`) starts over.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bevfusion.benchmarks.bench_learn import configured, rescale_schedule, seconds_per_iter

REPO = Path(__file__).resolve().parents[1]

CONFIG = "fusion"
SCENES = 10
SAMPLES_PER_SCENE = 20


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def _run(command: list[str]) -> None:
    """Run a tool with its output on this terminal; stop the demo with its exit code if it fails."""
    result = subprocess.run([sys.executable, *command], cwd=REPO)
    if result.returncode:
        raise SystemExit(f"make demo: `{' '.join(command)}` failed with exit code {result.returncode}")


def make_data(root: Path, workers: int) -> None:
    if (root / "nuscenes_infos_val.pkl").exists():
        print(f"reusing {root}")
        return
    _run(
        [
            "tools/create_synthetic_nuscenes.py",
            *("--out", str(root), "--scenes", str(SCENES), "--samples-per-scene", str(SAMPLES_PER_SCENE)),
            *("--seed", "0", "--workers", str(workers)),
        ]
    )
    _run(["tools/create_data.py", "nuscenes", "--root-path", str(root), "--version", "v1.0-mini", "--overwrite"])


def train(work: Path, root: Path, minutes: float) -> Path:
    run_dir = work / "train"
    done = run_dir / "done.json"
    if done.exists():
        checkpoint = Path(json.loads(done.read_text())["checkpoint"])
        print(f"reusing {checkpoint}")
        return checkpoint
    calibration = work / "calibration"
    config = configured(CONFIG, root)
    rescale_schedule(config, 12)
    config.default_hooks.logger.interval = config.log_processor.window_size = 6
    calibration.mkdir(parents=True, exist_ok=True)
    config.dump(str(calibration / "config.py"))
    print("timing a few iterations to fit the training into the budget ...", flush=True)
    log = calibration / "train.log"
    with open(log, "w") as handle:
        command = [sys.executable, "tools/train.py", str(calibration / "config.py"), "--work-dir", str(calibration)]
        if subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"make demo: the timing run failed; see {log}")
    max_iters = max(20, int(minutes * 60 / seconds_per_iter(log)))
    config = configured(CONFIG, root)
    rescale_schedule(config, max_iters)
    config.default_hooks.logger.interval = max(1, max_iters // 40)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.dump(str(run_dir / "config.py"))
    print(f"training {max_iters} iterations (about {minutes:g} minutes here)", flush=True)
    _run(["tools/train.py", str(run_dir / "config.py"), "--work-dir", str(run_dir)])
    checkpoint = run_dir / f"iter_{max_iters}.pth"
    done.write_text(json.dumps({"checkpoint": str(checkpoint), "iterations": max_iters}))
    return checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", default="work_dirs/demo")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument("--fresh", action="store_true", help="delete the work dir first")
    args = parser.parse_args(argv)
    work = (REPO / args.work_dir).resolve()
    if args.fresh and work.exists():
        shutil.rmtree(work)
    root = work / "data"
    _step("1/4 synthetic nuScenes set")
    make_data(root, args.workers)
    _step("2/4 training the tiny camera+LiDAR model")
    checkpoint = train(work, root, args.minutes)
    config = str(work / "train" / "config.py")
    _step("3/4 official nuScenes metric on the val scenes")
    _run(["tools/test.py", config, str(checkpoint), "--work-dir", str(work / "test")])
    _step("4/4 rendering one val scene")
    render = work / "render"
    _run(["tools/demo.py", config, str(checkpoint), "--data-root", str(root), "--scene", "0", "--out-dir", str(render)])
    print("\nmake demo: done")
    print(f"  checkpoint  {checkpoint}")
    print(f"  metrics     {work / 'test'}")
    print(f"  pictures    {render}/")
    print(f"  video       {next(render.glob('*.mp4'), render)}")


if __name__ == "__main__":
    main()
