"""Prepare nuScenes for training: info files (mmdetection3d v2 format) and the GT database.

    python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval

Writes `nuscenes_infos_train.pkl` and `nuscenes_infos_val.pkl` (or `_test` for v1.0-test)
and, from the train infos, `nuscenes_gt_database/` + `nuscenes_dbinfos_train.pkl` into
`--out-dir` (default: the root path). Finished outputs are kept unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import os

from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.nuscenes_infos import VERSION_SPLITS, create_nuscenes_infos


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["nuscenes"])
    parser.add_argument("--root-path", default="data/nuscenes", help="the nuScenes dataroot")
    parser.add_argument("--version", default="v1.0-trainval", choices=sorted(VERSION_SPLITS))
    parser.add_argument("--out-dir", default=None, help="where outputs go (default: the root path)")
    parser.add_argument("--max-sweeps", type=int, default=10, help="LiDAR sweeps recorded per key frame")
    parser.add_argument("--db-sweeps", type=int, default=9, help="sweeps merged into each GT database crop")
    parser.add_argument("--skip-gt-database", action="store_true")
    parser.add_argument("--overwrite", action="store_true", help="rebuild outputs that already exist")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not os.path.isdir(os.path.join(args.root_path, args.version)):
        raise SystemExit(f"error: no nuScenes tables at {os.path.join(args.root_path, args.version)}")
    out_dir = args.out_dir or args.root_path
    paths = create_nuscenes_infos(args.root_path, args.version, out_dir, args.max_sweeps, args.overwrite)
    if "train" in paths and not args.skip_gt_database:
        create_gt_database(args.root_path, paths["train"], out_dir, args.db_sweeps, args.overwrite)


if __name__ == "__main__":
    main()
