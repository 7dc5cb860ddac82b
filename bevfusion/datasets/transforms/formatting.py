"""Pack a transformed sample into model inputs and a `Det3DDataSample`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import InstanceData

from bevfusion.registry import TRANSFORMS
from bevfusion.structures import CalibrationBundle, Det3DDataSample, LiDARBoxes

DEFAULT_META_KEYS = ("sample_idx", "token", "timestamp", "ego2global", "camera_types", "img_shape")


@TRANSFORMS.register_module()
class Pack3DDetInputs:
    """`{'inputs': {'points', 'img'}, 'data_samples': Det3DDataSample}`.

    `points` become a float32 tensor `(P, C)`; `img` a uint8 tensor `(N_cam, 3, H, W)`
    (normalisation happens in the data preprocessor, after batching). The data sample
    carries `gt_instances_3d`, the typed `calib` bundle and the `meta_keys` found in the
    results, plus `lidar_path` and `lidar2ego` for evaluation in the global frame.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _calibration(results: dict) -> CalibrationBundle:
        empty = np.zeros((0, 4, 4))
        return CalibrationBundle(
            torch.from_numpy(np.asarray(results.get("cam2img", empty), dtype=np.float64)),
            torch.from_numpy(np.asarray(results.get("lidar2cam", empty), dtype=np.float64)),
            torch.from_numpy(np.asarray(results.get("img_aug", empty), dtype=np.float64)),
            torch.from_numpy(np.asarray(results.get("lidar_aug", np.eye(4)), dtype=np.float64)),
        )

    @staticmethod
    def _images(results: dict) -> torch.Tensor:
        shapes = {image.shape for image in results["img"]}
        if len(shapes) != 1:
            raise ValueError(
                f"sample {results.get('token')}: camera images differ in size {sorted(shapes)}; "
                "add ImageAug3D with a final_dim to the pipeline"
            )
        return torch.from_numpy(np.stack(results["img"])).permute(0, 3, 1, 2).contiguous()

    def __call__(self, results: dict) -> dict:
        inputs = {"points": torch.from_numpy(np.ascontiguousarray(results["points"], dtype=np.float32))}
        if "img" in results:
            inputs["img"] = self._images(results)
        metainfo = {key: results[key] for key in self.meta_keys if key in results}
        if "lidar_points" in results:
            metainfo["lidar_path"] = results["lidar_points"]["lidar_path"]
            metainfo["lidar2ego"] = results["lidar_points"]["lidar2ego"]
        sample = Det3DDataSample(metainfo=metainfo)
        gt = InstanceData()
        gt.bboxes_3d = results.get("gt_bboxes_3d", LiDARBoxes(torch.zeros(0, 9)))
        gt.labels_3d = torch.as_tensor(np.asarray(results.get("gt_labels_3d", []), dtype=np.int64))
        sample.gt_instances_3d = gt
        sample.calib = self._calibration(results)
        return {"inputs": inputs, "data_samples": sample}
