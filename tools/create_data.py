"""Prepare nuScenes for training: info files and the GT database; update 0.x info files to v2.

    python tools/create_data.py nuscenes --root-path data/nuscenes --version v1.0-trainval
    python tools/create_data.py update old/nuscenes_infos_train.pkl data/nuscenes/nuscenes_infos_train.pkl

`nuscenes` writes `nuscenes_infos_train.pkl` and `nuscenes_infos_val.pkl` (or `_test` for
v1.0-test) in mmdetection3d's v2 layout (`--info-format 0.x` / `0.x-mit`: the layout of
mmdetection3d < 1.0 / MIT HAN Lab's bevfusion) and, from the train infos,
`nuscenes_gt_database/` + `nuscenes_dbinfos_train.pkl` into `--out-dir` (default: the root
path). Finished outputs are kept unless `--overwrite`.

`update` rewrites an info file of mmdetection3d < 1.0 or MIT HAN Lab's bevfusion in the v2
layout, without the nuScenes tables (`NuScenesDataset` also reads such files directly).
"""

from __future__ import annotations

import argparse
import os
import pickle

from bevfusion.datasets.converters.atomic import dump_pickle_atomic
from bevfusion.datasets.converters.box_layouts import BOX_LAYOUTS
from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.legacy_infos import is_legacy_layout, legacy_to_v2
from bevfusion.datasets.converters.nuscenes_infos import CLASSES, INFO_FORMATS, VERSION_SPLITS, create_nuscenes_infos


def _prefix(text: str) -> tuple[str, str]:
    key, sep, folder = text.partition("=")
    if not sep or not key or not folder:
        raise argparse.ArgumentTypeError(f"expected KEY=FOLDER (e.g. pts=lidar), got {text!r}")
    return key, folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    nuscenes = commands.add_parser("nuscenes", help="nuScenes tables -> info files and GT database")
    nuscenes.add_argument("--root-path", default="data/nuscenes", help="the nuScenes dataroot")
    nuscenes.add_argument("--version", default="v1.0-trainval", choices=sorted(VERSION_SPLITS))
    nuscenes.add_argument("--out-dir", default=None, help="where outputs go (default: the root path)")
    nuscenes.add_argument("--max-sweeps", type=int, default=10, help="LiDAR sweeps recorded per key frame")
    nuscenes.add_argument("--db-sweeps", type=int, default=9, help="sweeps merged into each GT database crop")
    nuscenes.add_argument("--info-format", default="v2", choices=INFO_FORMATS, help="layout of the info files")
    nuscenes.add_argument(
        "--data-prefix",
        type=_prefix,
        nargs="+",
        default=[],
        metavar="KEY=FOLDER",
        help="point and image folders for the GT database, relative to the root path, as NuScenesDataset's "
        "data_prefix (pts, sweeps, CAM_*), e.g. pts=lidar sweeps=lidar for a flat layout",
    )
    nuscenes.add_argument("--skip-gt-database", action="store_true")
    nuscenes.add_argument("--overwrite", action="store_true", help="rebuild outputs that already exist")
    update = commands.add_parser("update", help="0.x info file (mmdetection3d < 1.0, MIT HAN Lab) -> v2")
    update.add_argument("input", help="the 0.x info file")
    update.add_argument("output", help="where the v2 info file goes")
    update.add_argument(
        "--legacy-box-format",
        default="auto",
        choices=("auto", *BOX_LAYOUTS),
        help="gt_boxes layout: second (mmdetection3d < 1.0, MIT HAN Lab), lwh (mmdetection3d 1.0.0rc*), "
        "auto (told from the vehicles' sizes)",
    )
    update.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser.parse_args(argv)


def prepare_nuscenes(args: argparse.Namespace) -> None:
    if not os.path.isdir(os.path.join(args.root_path, args.version)):
        raise SystemExit(f"error: no nuScenes tables at {os.path.join(args.root_path, args.version)}")
    out_dir = args.out_dir or args.root_path
    paths = create_nuscenes_infos(
        args.root_path, args.version, out_dir, args.max_sweeps, args.overwrite, args.info_format
    )
    if "train" in paths and not args.skip_gt_database:
        # Absolute, because NuScenesDataset joins a relative info path to the root path.
        info_file = os.path.abspath(paths["train"])
        create_gt_database(args.root_path, info_file, out_dir, args.db_sweeps, args.overwrite, dict(args.data_prefix))


def update_infos(args: argparse.Namespace) -> None:
    if os.path.exists(args.output) and not args.overwrite:
        raise SystemExit(f"error: {args.output} exists (pass --overwrite to replace it)")
    if not os.path.isfile(args.input):
        raise SystemExit(f"error: no info file at {args.input}")
    with open(args.input, "rb") as handle:
        annotations = pickle.load(handle)
    if not is_legacy_layout(annotations):
        raise SystemExit(f"error: {args.input} is not a 0.x info file (a dict with 'infos' and 'metadata')")
    infos = legacy_to_v2(annotations, args.input, CLASSES, args.legacy_box_format)
    dump_pickle_atomic(infos, args.output)
    print(f"wrote {args.output} ({len(infos['data_list'])} samples, v2 layout)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "nuscenes":
        prepare_nuscenes(args)
    else:
        update_infos(args)


if __name__ == "__main__":
    main()
