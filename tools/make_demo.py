"""What `make demo` runs: synthetic data, a short training of the tiny camera+LiDAR model, the metric, pictures.

    python tools/make_demo.py [--work-dir work_dirs/demo] [--minutes 8] [--fresh]

1. generates a small synthetic nuScenes set (the ten v1.0-mini scene names: 8 train, 2 val) with info files;
2. trains the tiny camera+LiDAR model for about `--minutes` on this machine as the paper trains it: the
   LiDAR-only config first, then `bevfusion_lidar-cam_synthetic_tiny.py` from its checkpoint, inside one
   schedule rescaled to the iterations that fit after timing a few (`bevfusion.engine.budget`), with
   tools/train.py;
3. evaluates the checkpoint on the val scenes with tools/test.py (nuscenes-devkit's DetectionEval);
4. renders one val scene with tools/demo.py to PNGs and an MP4.

Each step is skipped when its output exists, so a second run reuses the data and the checkpoint; `--fresh`
(`make demo FRESH=1`) starts over.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bevfusion.engine.budget import FUSION_LIDAR_SHARE, calibrate, run_tool, train_fusion_within
from bevfusion.fileio import atomic_write

REPO = Path(__file__).resolve().parents[1]

STAGES = ("lidar", "fusion")  # the tiny configs trained in turn, the second from the first's checkpoint
SCENES = 10
SAMPLES_PER_SCENE = 20


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def make_data(root: Path, workers: int) -> None:
    if (root / "nuscenes_infos_val.pkl").exists():
        print(f"reusing {root}")
        return
    generator = ["tools/create_synthetic_nuscenes.py", "--out", str(root), "--scenes", str(SCENES)]
    run_tool([*generator, "--samples-per-scene", str(SAMPLES_PER_SCENE), "--seed", "0", "--workers", str(workers)])
    run_tool(["tools/create_data.py", "nuscenes", "--root-path", str(root), "--version", "v1.0-mini", "--overwrite"])


def train(work: Path, root: Path, minutes: float) -> Path:
    """The tiny fusion model, trained as the paper does within about `minutes` (or an earlier run's checkpoint).

    The LiDAR-only model takes the first `FUSION_LIDAR_SHARE` of the schedule, the camera+LiDAR model the rest.
    """
    done = work / "train" / "done.json"
    if done.exists():
        record = json.loads(done.read_text())
        checkpoint = Path(record["checkpoint"])
        trained_for = record.get("minutes")  # absent in a record written before the budget was kept
        budget = "" if trained_for is None else f", trained for about {trained_for} minutes"
        print(f"reusing {checkpoint}{budget}", flush=True)
        if trained_for != minutes:
            print(f"  (asked for {minutes:g}: `make demo FRESH=1 MINUTES={minutes:g}` trains again)", flush=True)
        return checkpoint
    timings = {}
    for stage, name in enumerate(STAGES):
        print(f"[{stage + 1}/{len(STAGES)}] {name}: timing a few iterations to fit it into the budget", flush=True)
        timing = timings[name] = calibrate(name, root, work / "calibration" / name)
        print(
            f"[{stage + 1}/{len(STAGES)}] {name}: {timing.seconds_per_iter:.2f} s per iteration, "
            f"{timing.startup_seconds:.0f} s to start and end a run",
            flush=True,
        )
    checkpoint, iterations, _ = train_fusion_within(
        minutes, FUSION_LIDAR_SHARE, timings, root, work / "train", quiet=False
    )
    print(f"trained {iterations[0]} LiDAR-only then {iterations[1]} camera+LiDAR iterations", flush=True)
    with atomic_write(done, "w", encoding="utf-8") as handle:
        json.dump({"checkpoint": str(checkpoint), "minutes": minutes}, handle)
    return checkpoint


def main(argv: list[str] | None = None) -> None:
    try:
        run(argv)
    except RuntimeError as error:
        raise SystemExit(f"make demo: {error}") from None


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", default="work_dirs/demo")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument("--fresh", action="store_true", help="delete the work dir first")
    args = parser.parse_args(argv)
    if not args.minutes > 0:
        parser.error(f"--minutes must be positive, got {args.minutes:g}")
    work = (REPO / args.work_dir).resolve()
    if args.fresh and work.exists():
        shutil.rmtree(work)
    root = work / "data"
    _step("1/4 synthetic nuScenes set")
    make_data(root, args.workers)
    _step("2/4 training the tiny camera+LiDAR model")
    checkpoint = train(work, root, args.minutes)
    config = str(checkpoint.parent / "config.py")
    _step("3/4 official nuScenes metric on the val scenes")
    run_tool(["tools/test.py", config, str(checkpoint), "--work-dir", str(work / "test")])
    _step("4/4 rendering one val scene")
    render = work / "render"
    run_tool(
        ["tools/demo.py", config, str(checkpoint), "--data-root", str(root), "--scene", "0", "--out-dir", str(render)]
    )
    print("\nmake demo: done")
    print(f"  checkpoint  {checkpoint}")
    print(f"  metrics     {work / 'test'}")
    print(f"  pictures    {render}/")
    print(f"  video       {next(render.glob('*.mp4'), render)}")


if __name__ == "__main__":
    main()
