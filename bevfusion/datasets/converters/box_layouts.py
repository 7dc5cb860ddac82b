"""The two 7-value box rows found in mmdetection3d-era files, and how to tell them apart.

- `lwh`: `x, y, z, l, w, h, yaw`, ours and mmdetection3d's since 1.0 (also the
  1.0.0rc* `{'infos': ...}` files: their converter swapped to this order but kept the old layout);
- `second`: `x, y, z, w, l, h, -yaw - pi/2`, mmdetection3d < 1.0 and MIT HAN Lab's bevfusion.

Neither info files nor GT databases say which they hold. Vehicles are longer than wide, so
the order of the two horizontal sizes over a file's vehicles tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bevfusion.structures import LiDARBoxes

BOX_LAYOUTS = ("lwh", "second")
VEHICLES = ("car", "truck", "bus", "trailer", "construction_vehicle")


def detect_box_layout(names: Sequence[str], rows: np.ndarray, source: str, hint: str) -> str:
    """`lwh` or `second` for `rows` `(N, >=7)` named `names`, judged by their vehicles.

    Vehicles whose two sizes differ by more than 10% vote; nine votes in ten must agree.
    Rows without vehicles cannot be judged: that is an error naming `source`, unless there
    are no rows at all (then the layout does not matter). `hint` ends the error: how to name the layout.
    """
    if len(names) == 0:
        return "second"
    rows = np.asarray(rows, dtype=np.float64).reshape(len(names), -1)
    vehicle = np.isin(np.asarray(names, dtype=object), VEHICLES)
    first, second = rows[vehicle, 3], rows[vehicle, 4]
    voting = np.abs(first - second) > 0.1 * np.maximum(first, second)
    longer_first = int((first > second)[voting].sum())
    votes = int(voting.sum())
    if votes and longer_first >= 0.9 * votes:
        return "lwh"
    if votes and longer_first <= 0.1 * votes:
        return "second"
    raise ValueError(
        f"{source}: cannot tell the box layout ({longer_first} of {votes} vehicle boxes list the longer size first); "
        + hint
    )


def boxes_from_rows(rows: np.ndarray, velocity: np.ndarray | None, layout: str) -> LiDARBoxes:
    """Boxes from `(N, 7)` rows in `layout` and `(N, 2)` velocities (NaN kept, default 0); z is taken as given."""
    if layout not in BOX_LAYOUTS:
        raise ValueError(f"unknown box layout {layout!r}; expected one of {BOX_LAYOUTS}")
    if layout == "second":
        return LiDARBoxes.from_second_format(rows, velocity)
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    motion = np.zeros((len(rows), 2)) if velocity is None else np.asarray(velocity, dtype=np.float64).reshape(-1, 2)
    return LiDARBoxes(np.concatenate([rows, motion], 1))
