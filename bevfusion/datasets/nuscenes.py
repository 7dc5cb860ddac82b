"""`NuScenesDataset`: an info file (ours, mmdetection3d's v2, or the 0.x layout) -> per-sample dicts.

Info files of mmdetection3d < 1.0 and MIT HAN Lab's bevfusion (`{'infos', 'metadata'}`) are
converted to v2 once, at load (`converters.legacy_infos`), so everything below sees v2.

Each sample dict holds absolute file paths (`lidar_points.lidar_path`, every sweep's
`lidar_points.lidar_path`, every camera's `img_path`), the calibration matrices of the
info file, and the ground truth as `gt_bboxes_3d` (`LiDARBoxes`, gravity centre, with
velocity) and `gt_labels_3d` (int64 indices into `metainfo['classes']`).
"""

from __future__ import annotations

import os

import numpy as np
from mmengine.dataset import BaseDataset

from bevfusion.registry import DATASETS
from bevfusion.structures import LiDARBoxes

from .converters.legacy_infos import read_info_file
from .converters.nuscenes_infos import CAMERA_TYPES, CLASSES

DEFAULT_DATA_PREFIX = {
    "pts": "samples/LIDAR_TOP",
    "sweeps": "sweeps/LIDAR_TOP",
    **{camera: f"samples/{camera}" for camera in CAMERA_TYPES},
}


@DATASETS.register_module()
class NuScenesDataset(BaseDataset):
    """nuScenes 3D detection samples from an info file (v2, or the 0.x layout converted at load).

    Args:
        ann_file: the info `.pkl` (relative paths are joined to `data_root`).
        data_root: the nuScenes dataroot.
        data_prefix: folders (relative to `data_root`) of key-frame points (`pts`),
            sweeps (`sweeps`) and each camera (`CAM_*`). Only the file name of a path in
            the info file is kept and joined to its folder here, so flat or moved layouts load.
        metainfo: `{'classes': [...]}` picks and orders the classes; instances of other
            classes are dropped, labels index this list.
        use_valid_flag: keep only instances with `bbox_3d_isvalid` (LiDAR or radar points
            inside); otherwise keep those with `num_lidar_pts > 0`.
        filter_empty_gt: in training, drop samples left without any box.
        legacy_box_format: the `gt_boxes` layout of a 0.x info file: `second`
            (mmdetection3d < 1.0, MIT HAN Lab), `lwh` (mmdetection3d 1.0.0rc*), or `auto`
            (told from the vehicles' sizes). Ignored for v2 files.
    """

    METAINFO = {"classes": CLASSES}

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: dict | None = None,
        pipeline: list = (),
        metainfo: dict | None = None,
        test_mode: bool = False,
        use_valid_flag: bool = True,
        filter_empty_gt: bool = True,
        legacy_box_format: str = "auto",
        **kwargs,
    ) -> None:
        self.use_valid_flag = use_valid_flag
        self.filter_empty_gt = filter_empty_gt
        self.legacy_box_format = legacy_box_format
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix={**DEFAULT_DATA_PREFIX, **(data_prefix or {})},
            pipeline=list(pipeline),
            metainfo=metainfo,
            test_mode=test_mode,
            **kwargs,
        )

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        annotations = read_info_file(self.ann_file, self._metainfo["classes"], self.legacy_box_format)
        file_meta = annotations["metainfo"]
        for key, value in file_meta.items():
            self._metainfo.setdefault(key, value)
        classes = list(self._metainfo["classes"])
        categories = file_meta.get("categories", {name: label for label, name in enumerate(CLASSES)})
        self._label_map = {
            label: (classes.index(name) if name in classes else -1) for name, label in categories.items()
        }
        self._label_map[-1] = -1
        return [self.parse_data_info(info) for info in annotations["data_list"]]

    def _sweep_path(self, path: str) -> str:
        """Keep the file name; it lives under `pts` if it was in `samples/<sensor>/` (an earlier key frame).

        Only the folder above the sensor folder counts, so a data root that itself sits
        under some `samples` folder does not turn sweeps into key frames.
        """
        folders = path.replace("\\", "/").split("/")[:-1]
        prefix = self.data_prefix["pts"] if folders[-2:-1] == ["samples"] else self.data_prefix["sweeps"]
        return os.path.join(prefix, os.path.basename(path))

    def parse_data_info(self, info: dict) -> dict:
        data = dict(info)
        data["lidar_points"] = {
            **info["lidar_points"],
            "lidar_path": os.path.join(self.data_prefix["pts"], os.path.basename(info["lidar_points"]["lidar_path"])),
        }
        data["lidar_sweeps"] = [
            {
                **sweep,
                "lidar_points": {
                    **sweep["lidar_points"],
                    "lidar_path": self._sweep_path(sweep["lidar_points"]["lidar_path"]),
                },
            }
            for sweep in info.get("lidar_sweeps", [])
        ]
        data["images"] = {
            camera: {
                **image,
                "img_path": os.path.join(
                    self.data_prefix.get(camera, os.path.join(self.data_root, "samples", camera)),
                    os.path.basename(image["img_path"]),
                ),
            }
            for camera, image in info.get("images", {}).items()
        }
        data["ann_info"] = self._parse_instances(info.get("instances", []))
        data.pop("instances", None)
        data.pop("cam_instances", None)
        return data

    def _parse_instances(self, instances: list[dict]) -> dict:
        labels = np.array(
            [self._label_map.get(item.get("bbox_label_3d", item.get("bbox_label", -1)), -1) for item in instances],
            dtype=np.int64,
        )
        if self.use_valid_flag:
            keep = np.array([bool(item.get("bbox_3d_isvalid", True)) for item in instances], dtype=bool)
        else:
            keep = np.array([item.get("num_lidar_pts", 1) > 0 for item in instances], dtype=bool)
        keep &= labels >= 0
        boxes = LiDARBoxes.from_info([item for item, kept in zip(instances, keep) if kept]).tensor.numpy()
        return {"gt_bboxes_3d": boxes, "gt_labels_3d": labels[keep]}

    def filter_data(self) -> list[dict]:
        if self.test_mode or not self.filter_empty_gt:
            return self.data_list
        return [info for info in self.data_list if len(info["ann_info"]["gt_labels_3d"])]

    # ------------------------------------------------------------------ access
    def get_data_info(self, idx: int) -> dict:
        data = super().get_data_info(idx)
        ann = data.pop("ann_info")
        data["gt_bboxes_3d"] = LiDARBoxes(ann["gt_bboxes_3d"])
        data["gt_labels_3d"] = ann["gt_labels_3d"]
        return data

    def get_cat_ids(self, idx: int) -> list[int]:
        """The distinct class labels present in sample `idx` (used by class-balanced sampling)."""
        return sorted(set(super().get_data_info(idx)["ann_info"]["gt_labels_3d"].tolist()))
