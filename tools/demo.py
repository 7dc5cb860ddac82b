"""Render detections of a trained model: six cameras and a BEV panel per sample, PNGs and one MP4 per scene.

    python tools/demo.py CONFIG CHECKPOINT --data-root data/synthetic --scene 0
    python tools/demo.py CONFIG CHECKPOINT --data-root data/nuscenes --ann-file nuscenes_infos_val.pkl --samples 0 5 9
    python tools/demo.py CONFIG CHECKPOINT --data-root demo --ann-file infos.pkl --data-prefix pts=lidar CAM_FRONT=cams

The samples come from an info file (ours, mmdetection3d's v2 or 0.x, MIT HAN Lab's) through the config's
test pipeline; `--data-prefix` maps the point and camera folders for flat layouts, as `NuScenesDataset`'s
`data_prefix`. A scene is the samples sharing a `scene_token`, or, in files without one, a run of key frames
less than `--scene-gap` seconds apart. Ground truth, when the info file has it, is drawn dashed.
"""

from __future__ import annotations

import argparse
import os
import sys
from itertools import groupby

import torch
from mmengine.dataset import pseudo_collate
from tqdm import tqdm

from bevfusion.apis import init_model
from bevfusion.registry import DATASETS
from bevfusion.visualization import FrameStyle, SceneVideoWriter, render_data_sample, save_image

HOW_TO_GET_A_CHECKPOINT = (
    "train one first: `make demo` trains the tiny camera+LiDAR config on the synthetic set "
    "(work_dirs/demo/train/), or `python tools/train.py CONFIG`; then pass its .pth file"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the model config")
    parser.add_argument("checkpoint", nargs="?", help="the trained weights (.pth)")
    parser.add_argument("--data-root", default=None, help="dataset root (default: the config's)")
    parser.add_argument("--ann-file", default=None, help="info file, relative to the data root (default: the config's)")
    parser.add_argument("--data-prefix", nargs="+", default=[], metavar="KEY=FOLDER", help="pts=..., CAM_FRONT=...")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--scene", type=int, default=0, help="render the N-th scene of the info file (default 0)")
    which.add_argument("--samples", type=int, nargs="+", help="render these sample indices instead of a scene")
    parser.add_argument("--scene-gap", type=float, default=1.0, help="seconds between key frames that split scenes")
    parser.add_argument("--out-dir", default="work_dirs/demo/render", help="PNGs and the MP4 go here")
    # Scores are sigmoid(class) x query heatmap score; the 8-minute `make demo` model tops out near 0.3,
    # so the default of 0.1 keeps its detections visible (raise it for a fully trained model).
    parser.add_argument("--score-thr", type=float, default=0.1, help="lowest score drawn")
    parser.add_argument("--no-gt", action="store_true", help="do not draw the ground truth")
    parser.add_argument("--fps", type=float, default=2.0, help="video frame rate (nuScenes key frames: 2 Hz)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args(argv)


def _prefixes(items: list[str]) -> dict[str, str]:
    prefixes = {}
    for item in items:
        key, sep, folder = item.partition("=")
        if not sep or not key or not folder:
            raise SystemExit(f"--data-prefix: expected KEY=FOLDER (e.g. pts=lidar), got {item!r}")
        prefixes[key] = folder
    return prefixes


def build_dataset(config, args: argparse.Namespace):
    """The config's test dataset, pointed at `--data-root`, `--ann-file` and `--data-prefix`."""
    dataset_cfg = dict(config.test_dataloader.dataset)
    if args.data_root is not None:
        dataset_cfg["data_root"] = os.path.join(args.data_root, "")
    if args.ann_file is not None:
        dataset_cfg["ann_file"] = args.ann_file
    if args.data_prefix:
        dataset_cfg["data_prefix"] = {**dataset_cfg.get("data_prefix", {}), **_prefixes(args.data_prefix)}
    return DATASETS.build(dataset_cfg)


def scenes(dataset, gap_seconds: float) -> list[list[int]]:
    """Sample indices per scene, in time order: by `scene_token`, else split where key frames are `gap` apart."""
    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    order = sorted(range(len(infos)), key=lambda index: infos[index].get("timestamp", index))
    if all("scene_token" in info for info in infos):
        return [list(group) for _, group in groupby(order, key=lambda index: infos[index]["scene_token"])]
    result, previous = [], None
    for index in order:
        timestamp = float(infos[index].get("timestamp", 0.0))
        if previous is None or timestamp - previous > gap_seconds:
            result.append([])
        result[-1].append(index)
        previous = timestamp
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.checkpoint is None:
        raise SystemExit(f"tools/demo.py: no checkpoint given; {HOW_TO_GET_A_CHECKPOINT}")
    if not os.path.isfile(args.checkpoint):
        raise SystemExit(f"tools/demo.py: checkpoint not found: {args.checkpoint}; {HOW_TO_GET_A_CHECKPOINT}")
    model = init_model(args.config, args.checkpoint, device=args.device)
    dataset = build_dataset(model.cfg, args)
    if args.samples is not None:
        indices, name = args.samples, "samples"
    else:
        found = scenes(dataset, args.scene_gap)
        if not 0 <= args.scene < len(found):
            raise SystemExit(f"tools/demo.py: --scene {args.scene}, but the info file holds {len(found)} scene(s)")
        indices, name = found[args.scene], f"scene_{args.scene}"
    class_names = tuple(model.heads["object"].class_names)
    style = FrameStyle(score_threshold=args.score_thr)
    os.makedirs(args.out_dir, exist_ok=True)
    video_path = os.path.join(args.out_dir, f"{name}.mp4")
    with SceneVideoWriter(video_path, fps=args.fps) as video:
        for index in tqdm(indices, desc="render", unit="sample"):
            packed = dataset[index]
            with torch.no_grad():
                result = model.test_step(pseudo_collate([packed]))[0]
            frame = render_data_sample(packed["inputs"], result, class_names, style, show_ground_truth=not args.no_gt)
            save_image(os.path.join(args.out_dir, f"{name}_{index:04d}.png"), frame)
            video.write(frame)
    print(f"wrote {len(indices)} PNGs to {args.out_dir}/ and the video {video_path}")


if __name__ == "__main__":
    sys.exit(main())
