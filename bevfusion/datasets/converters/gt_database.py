"""The ground-truth database for GT sampling (`ObjectSample`): one point crop per object.

For every sample of an info file, the key frame and its sweeps are loaded exactly as the
training pipeline loads them (same `data_prefix`, so flat layouts work), and the points
inside each labelled box are saved as a float32 `.bin`, relative to the box's gravity
centre. The database info file maps class name -> list of `{name, path, sample_idx, gt_idx,
box3d_lidar (9: gravity centre + velocity), num_points_in_gt, difficulty, group_id,
box3d_lidar_layout: 'bevfusion'}`; `path` is relative to the data root. The layout key lets
`ObjectSample` tell this layout from mmdetection3d's, whose z is at the box bottom.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import torch
from tqdm import tqdm

from .atomic import dump_pickle_atomic


def create_gt_database(
    root_path: str,
    info_file: str,
    out_dir: str | None = None,
    sweeps_num: int = 9,
    overwrite: bool = False,
    data_prefix: dict[str, str] | None = None,
) -> str:
    """Write `nuscenes_gt_database/` and `nuscenes_dbinfos_train.pkl` under `out_dir`; returns the pkl path.

    `info_file` (any layout `NuScenesDataset` reads) and `data_prefix` resolve against
    `root_path` as in `NuScenesDataset`. The crops are written to a temporary folder that
    replaces the final one only when the whole database is done, and the info pickle is
    written last, atomically.
    """
    from bevfusion.datasets.nuscenes import NuScenesDataset
    from bevfusion.datasets.transforms import LoadPointsFromFile, LoadPointsFromMultiSweeps
    from bevfusion.datasets.transforms.object_database import LAYOUT_KEY

    out_dir = out_dir or root_path
    db_info_path = os.path.join(out_dir, "nuscenes_dbinfos_train.pkl")
    db_dir_name = "nuscenes_gt_database"
    if os.path.exists(db_info_path) and not overwrite:
        print(f"[skip] {db_info_path} exists (pass --overwrite to rebuild it)")
        return db_info_path
    dataset = NuScenesDataset(
        ann_file=info_file,
        data_root=root_path,
        data_prefix=data_prefix,
        pipeline=[
            LoadPointsFromFile(load_dim=5, use_dim=5),
            LoadPointsFromMultiSweeps(sweeps_num=sweeps_num, test_mode=True),
        ],
        test_mode=True,
        serialize_data=False,
    )
    classes = dataset.metainfo["classes"]
    staging = os.path.join(out_dir, f".{db_dir_name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    relative_dir = os.path.relpath(os.path.join(out_dir, db_dir_name), root_path)
    db_infos: dict[str, list[dict]] = {name: [] for name in classes}
    group_id = 0
    for index in tqdm(range(len(dataset)), desc="GT database"):
        results = dataset[index]
        boxes, labels, points = results["gt_bboxes_3d"], results["gt_labels_3d"], results["points"]
        inside = boxes.points_in_boxes(torch.from_numpy(points[:, :3])).numpy()
        for gt_idx, label in enumerate(labels):
            name = classes[label]
            crop = points[inside[:, gt_idx]].copy()
            crop[:, :3] -= boxes.tensor[gt_idx, :3].numpy()
            file_name = f"{results['sample_idx']}_{name}_{gt_idx}.bin"
            crop.astype(np.float32).tofile(os.path.join(staging, file_name))
            db_infos[name].append(
                {
                    "name": name,
                    "path": os.path.join(relative_dir, file_name),
                    "sample_idx": results["sample_idx"],
                    "gt_idx": gt_idx,
                    "box3d_lidar": boxes.tensor[gt_idx].tolist(),
                    "num_points_in_gt": int(len(crop)),
                    "difficulty": 0,
                    "group_id": group_id,
                    LAYOUT_KEY: "bevfusion",
                }
            )
            group_id += 1
    final_dir = os.path.join(out_dir, db_dir_name)
    shutil.rmtree(final_dir, ignore_errors=True)
    os.replace(staging, final_dir)
    dump_pickle_atomic(db_infos, db_info_path)
    print(f"wrote {db_info_path} ({sum(len(v) for v in db_infos.values())} objects)")
    return db_info_path
