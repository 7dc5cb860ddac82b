"""`Det3DDataSample`: what travels with one sample besides the tensors the model eats.

Fields:
- `gt_instances_3d`: `InstanceData` with `bboxes_3d` (`LiDARBoxes`) and `labels_3d` (int64);
- `pred_instances_3d`: the same layout plus `scores_3d`, filled by the model at test time;
- `calib`: the sample's `CalibrationBundle` (cameras and augmentations).
Meta information (token, sample_idx, file paths, ego2global, ...) is kept as metainfo.
"""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData

from .calibration import CalibrationBundle


class Det3DDataSample(BaseDataElement):
    """Annotations, predictions and calibration of one 3D detection sample."""

    @property
    def gt_instances_3d(self) -> InstanceData:
        return self._gt_instances_3d

    @gt_instances_3d.setter
    def gt_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instances_3d", dtype=InstanceData)

    @gt_instances_3d.deleter
    def gt_instances_3d(self) -> None:
        del self._gt_instances_3d

    @property
    def pred_instances_3d(self) -> InstanceData:
        return self._pred_instances_3d

    @pred_instances_3d.setter
    def pred_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_pred_instances_3d", dtype=InstanceData)

    @pred_instances_3d.deleter
    def pred_instances_3d(self) -> None:
        del self._pred_instances_3d

    @property
    def calib(self) -> CalibrationBundle:
        return self._calib

    @calib.setter
    def calib(self, value: CalibrationBundle) -> None:
        self.set_field(value, "_calib", dtype=CalibrationBundle)

    @calib.deleter
    def calib(self) -> None:
        del self._calib
