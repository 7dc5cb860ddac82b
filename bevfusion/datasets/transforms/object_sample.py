"""GT sampling: paste objects from the ground-truth database into a scene, without collisions.

The database (`tools/create_data.py` writes it; mmdetection3d's and MIT HAN Lab's load too,
see `object_database`) holds, per class, object crops in the LiDAR frame of the sample they
came from. An object is pasted at the same LiDAR-frame pose it had there, so this transform
must run before any global LiDAR augmentation. Only points are pasted, not image content.

Pasted points older than the scene's oldest sweep are dropped. A database cut with more sweeps
than the pipeline loads (ours and mmdetection3d's keep 9 or 10) would otherwise give every pasted
moving object a longer motion trail than the real ones, for the same velocity: the synthetic
tiny configs load 4 sweeps (0.2 s) and pasted objects carried 0.45 s of trail.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from bevfusion.ops.box3d import bev_iou
from bevfusion.registry import TRANSFORMS
from bevfusion.structures import LiDARBoxes

from .loading import load_points_file
from .object_database import load_object_database
from .randomness import transform_rng


def _reach(boxes: torch.Tensor) -> torch.Tensor:
    """Half the BEV diagonal of `(N, 7+)` boxes: no footprint point is farther from the centre."""
    return boxes[:, 3:5].norm(dim=1) / 2


def _collides(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> np.ndarray:
    """`(N, M)` bool: BEV footprints overlap with positive area (native rotated BEV IoU).

    Only pairs whose bounding circles meet go through the exact (costlier) IoU.
    """
    result = np.zeros((len(boxes_a), len(boxes_b)), dtype=bool)
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return result
    gap = torch.cdist(boxes_a[:, :2], boxes_b[:, :2])
    maybe = (gap <= _reach(boxes_a)[:, None] + _reach(boxes_b)[None]).numpy()
    rows, cols = maybe.any(1), maybe.any(0)
    if rows.any():
        exact = (bev_iou(boxes_a[torch.from_numpy(rows)], boxes_b[torch.from_numpy(cols)]) > 0).numpy()
        result[np.ix_(rows, cols)] = exact & maybe[np.ix_(rows, cols)]
    return result


def _inside_any(points: np.ndarray, boxes: LiDARBoxes) -> np.ndarray:
    """`(P,)` bool: the point lies in any of `boxes`.

    A square BEV bound per box picks the few points worth the exact points-in-boxes test.
    """
    xs, ys = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    near = np.zeros(len(points), dtype=bool)
    for (x, y), reach in zip(boxes.center[:, :2].tolist(), _reach(boxes.tensor).tolist()):
        near |= (np.abs(xs - x) <= reach) & (np.abs(ys - y) <= reach)
    inside = np.zeros(len(points), dtype=bool)
    if near.any():
        inside[near] = boxes.points_in_boxes(torch.from_numpy(points[near, :3])).any(1).numpy()
    return inside


@TRANSFORMS.register_module()
class ObjectSample:
    """Paste database objects until each class in `sample_groups` has that many boxes.

    Candidates with fewer than `min_points[class]` points are never drawn. A candidate is
    rejected if its BEV footprint overlaps an existing or already pasted box (rotated BEV IoU > 0). Scene points
    inside a pasted box are removed, so the pasted object is not buried in other points.
    `database_layout` names the database's box convention (`auto`: as the file tells; see
    `object_database.DATABASE_LAYOUTS`). `db_info_path` and the crops' paths are relative to `data_root`.
    `time_dim` is the column (of `use_dim`) holding each point's time lag behind the key frame (None: no such
    column); pasted points lagging more than the scene's oldest point by over `time_margin` seconds (half
    nuScenes' 20 Hz sweep period by default) are dropped.
    """

    def __init__(
        self,
        db_info_path: str,
        data_root: str,
        classes: Sequence[str],
        sample_groups: dict[str, int],
        min_points: dict[str, int] | None = None,
        load_dim: int = 5,
        use_dim: Sequence[int] = (0, 1, 2, 3, 4),
        seed: int | None = None,
        database_layout: str = "auto",
        time_dim: int | None = 4,
        time_margin: float = 0.025,
    ) -> None:
        database = load_object_database(os.path.join(data_root, db_info_path), database_layout)
        self.data_root = data_root
        self.classes = list(classes)
        unknown = set(sample_groups) - set(self.classes)
        if unknown:
            raise ValueError(f"ObjectSample: sample_groups names unknown classes {sorted(unknown)}")
        self.sample_groups = dict(sample_groups)
        min_points = min_points or {}
        self.pools = {
            name: [item for item in database.get(name, []) if item["num_points_in_gt"] >= min_points.get(name, 0)]
            for name in self.sample_groups
        }
        self.load_dim = load_dim
        self.use_dim = list(use_dim)
        if time_dim is not None and not 0 <= time_dim < len(self.use_dim):
            raise ValueError(f"ObjectSample: time_dim {time_dim} is not a column of use_dim {self.use_dim}")
        self.time_dim = time_dim
        self.time_margin = float(time_margin)
        self.rng = transform_rng(seed)
        self._order = {name: np.zeros(0, dtype=np.int64) for name in self.pools}

    def _draw(self, name: str, count: int) -> list[dict]:
        """`count` distinct candidates (fewer if the pool is small), cycling through shuffled passes."""
        pool = self.pools[name]
        count = min(count, len(pool))
        if len(self._order[name]) < count:
            self._order[name] = np.concatenate([self._order[name], self.rng.permutation(len(pool))])
        chosen, self._order[name] = self._order[name][:count], self._order[name][count:]
        return [pool[i] for i in chosen]

    def _choose(self, boxes: LiDARBoxes, labels: np.ndarray) -> list[tuple[int, dict]]:
        occupied = boxes.tensor[:, :7].float()
        accepted = []
        for name, wanted in self.sample_groups.items():
            label = self.classes.index(name)
            candidates = self._draw(name, wanted - int((labels == label).sum()))
            if not candidates:
                continue
            rows = torch.tensor([c["box3d_lidar"][:7] for c in candidates], dtype=torch.float32)
            clashes = _collides(rows, occupied)
            among = _collides(rows, rows)
            kept = []
            for i in range(len(candidates)):
                if not clashes[i].any() and not among[i, kept].any():
                    kept.append(i)
            occupied = torch.cat([occupied, rows[kept]])
            accepted.extend((label, candidates[i]) for i in kept)
        return accepted

    def _object_points(self, item: dict) -> np.ndarray:
        points = load_points_file(os.path.join(self.data_root, item["path"]), self.load_dim)[:, self.use_dim]
        points[:, :3] += np.asarray(item["crop_origin"], dtype=np.float32)
        return points

    def __call__(self, results: dict) -> dict:
        if not np.allclose(results.get("lidar_aug", np.eye(4)), np.eye(4)):
            raise ValueError("ObjectSample must run before global LiDAR augmentation (lidar_aug is not identity)")
        boxes, labels = results["gt_bboxes_3d"], results["gt_labels_3d"]
        accepted = self._choose(boxes, labels)
        if not accepted:
            return results
        new_boxes = LiDARBoxes(np.array([item["box3d_lidar"] for _, item in accepted], dtype=np.float32))
        points = results["points"]
        inside = _inside_any(points, new_boxes)
        pasted = np.concatenate([self._object_points(item) for _, item in accepted])
        if self.time_dim is not None:
            oldest = points[:, self.time_dim].max(initial=0.0)
            pasted = pasted[pasted[:, self.time_dim] <= oldest + self.time_margin]
        results["points"] = np.concatenate([pasted, points[~inside]])
        results["gt_bboxes_3d"] = LiDARBoxes(torch.cat([boxes.tensor, new_boxes.tensor]))
        results["gt_labels_3d"] = np.concatenate([labels, np.array([label for label, _ in accepted], dtype=np.int64)])
        return results
