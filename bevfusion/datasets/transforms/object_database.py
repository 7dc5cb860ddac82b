"""GT databases of this project, mmdetection3d (>= 1.0 and < 1.0) and MIT HAN Lab's bevfusion, read into ours.

Every layout maps a class name to items with `path` (a float32 point crop, relative to the
data root), `num_points_in_gt` and `box3d_lidar` (9 values with velocity, or 7). They differ
in the box row and in the point the crop is stored relative to:

| layout          | written by                 | box3d_lidar                        | crop relative to |
|-----------------|----------------------------|------------------------------------|------------------|
| `bevfusion`     | this project               | x y z_gravity l w h yaw vx vy      | z_gravity        |
| `mmdet3d`       | mmdetection3d >= 1.0       | x y z_bottom l w h yaw vx vy       | z_bottom         |
| `mmdet3d-v0`    | mmdetection3d < 1.0        | x y z_bottom w l h -yaw-pi/2 vx vy | z_bottom         |
| `mit-bevfusion` | MIT HAN Lab's bevfusion    | x y z_gravity w l h -yaw-pi/2 vx vy| z_gravity        |

MIT HAN Lab's dataset reads the gravity-centre z of its info files as the bottom
(`origin=(0.5, 0.5, 0)`), so its crops hold only the points from z_gravity up to
z_gravity + h: the upper half of each object.

Our writer records its layout in every item (`LAYOUT_KEY`). Files without it are told
apart by mmdetection3d's item key `image_idx` (both of its writers and MIT HAN Lab's use
it; ours writes `sample_idx`) and by the size order of their vehicles (`box_layouts`).
Pre-1.0 rows cannot say whether z is at the bottom (mmdetection3d) or the gravity
centre (MIT HAN Lab): those files need the layout named.
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from bevfusion.datasets.converters.box_layouts import boxes_from_rows, detect_box_layout

LAYOUT_KEY = "box3d_lidar_layout"
# layout -> (box row layout, z at the bottom)
DATABASE_LAYOUTS = {
    "bevfusion": ("lwh", False),
    "mmdet3d": ("lwh", True),
    "mmdet3d-v0": ("second", True),
    "mit-bevfusion": ("second", False),
}


def _rows(path: str, name: str, items: list[dict]) -> np.ndarray:
    rows = [np.asarray(item["box3d_lidar"], dtype=np.float64).reshape(-1) for item in items]
    widths = {len(row) for row in rows}
    if widths - {7, 9}:
        raise ValueError(f"{path}: class {name!r}: box3d_lidar has {sorted(widths)} values, expected 7 or 9")
    rows = [np.concatenate([row, np.zeros(9 - len(row))]) for row in rows]
    return np.array(rows, dtype=np.float64).reshape(-1, 9)


def detect_database_layout(database: dict[str, list[dict]], path: str) -> str:
    """The layout of a loaded database (see the module docstring for the rules)."""
    items = [item for entries in database.values() for item in entries]
    marked = {item[LAYOUT_KEY] for item in items if LAYOUT_KEY in item}
    if marked:
        if len(marked) > 1 or not marked <= set(DATABASE_LAYOUTS):
            raise ValueError(
                f"{path}: items name the layouts {sorted(marked)}; expected one of {list(DATABASE_LAYOUTS)}"
            )
        return marked.pop()
    if not any("image_idx" in item for item in items):
        return "bevfusion"
    names = [name for name, entries in database.items() for _ in entries]
    rows = np.concatenate([_rows(path, name, entries) for name, entries in database.items()])
    hint = "name it with ObjectSample(database_layout=...): 'mmdet3d', 'mmdet3d-v0' or 'mit-bevfusion'"
    if detect_box_layout(names, rows, path, hint) == "lwh":
        return "mmdet3d"
    raise ValueError(
        f"{path}: pre-1.0 box rows (w l h, -yaw-pi/2), written by mmdetection3d < 1.0 (z at the box bottom) or by "
        "MIT HAN Lab's bevfusion (z at the gravity centre), which the file cannot tell apart: "
        "name the layout, ObjectSample(database_layout='mmdet3d-v0' or 'mit-bevfusion')"
    )


def load_object_database(path: str, layout: str = "auto") -> dict[str, list[dict]]:
    """The database at `path`, every item put in our convention.

    Each item keeps its keys, with `box3d_lidar` replaced by our 9 values (gravity centre)
    and `crop_origin` added: the LiDAR-frame point the stored crop is relative to.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"GT database info file not found: {path}")
    with open(path, "rb") as handle:
        database = pickle.load(handle)
    if not isinstance(database, dict) or not all(isinstance(items, list) for items in database.values()):
        raise ValueError(f"{path}: not a GT database (expected a dict of class name -> list of items)")
    if layout == "auto":
        layout = detect_database_layout(database, path)
    if layout not in DATABASE_LAYOUTS:
        raise ValueError(f"unknown GT database layout {layout!r}; expected 'auto' or one of {list(DATABASE_LAYOUTS)}")
    box_layout, z_at_bottom = DATABASE_LAYOUTS[layout]
    converted = {}
    for name, items in database.items():
        rows = _rows(path, name, items)
        boxes = boxes_from_rows(rows[:, :7], rows[:, 7:9], box_layout).tensor
        if z_at_bottom:
            boxes[:, 2] += boxes[:, 5] / 2
        converted[name] = [
            {**item, "box3d_lidar": box, "crop_origin": row[:3].tolist()}
            for item, box, row in zip(items, boxes.tolist(), rows)
        ]
    return converted
