"""Pre-1.0 ("SECOND") box rows: the conversion the boxes class owns, and telling the row layouts apart."""

import math

import numpy as np
import pytest
import torch

from bevfusion.datasets.converters.box_layouts import boxes_from_rows, detect_box_layout
from bevfusion.structures import LiDARBoxes


def _random_second_rows(count, seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-40, 40, (count, 3))
    sizes = rng.uniform(0.3, 8.0, (count, 3))
    return np.concatenate([centres, sizes, rng.uniform(-3 * math.pi / 2, math.pi / 2, (count, 1))], 1)


def _mmdet3d_v0_corners(rows):
    """Corners of pre-1.0 rows `x y z w l h yaw_old` (z at the gravity centre), built as mmdetection3d 0.x does.

    Its `LiDARInstance3DBoxes.corners` scales unit corners by `(x_size, y_size, z_size)` =
    `(w, l, h)` and rotates them with `rotation_3d_in_axis(axis=2)`: `points @ [[c, -s, 0], [s, c, 0], [0, 0, 1]]`.
    """
    unit = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)])
    corners = []
    for x, y, z, w, length, h, yaw in rows:
        cos, sin = math.cos(yaw), math.sin(yaw)
        rot_mat_t = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        corners.append((unit * [w, length, h]) @ rot_mat_t + [x, y, z])
    return np.stack(corners)


@pytest.mark.parametrize("seed", range(3))
def test_second_rows_give_the_same_solid_boxes(seed):
    rows = _random_second_rows(50, seed)
    ours = LiDARBoxes.from_second_format(rows).corners.double().numpy()
    theirs = _mmdet3d_v0_corners(rows)
    # The corner order differs between the conventions: compare each box's corner set.
    gaps = np.linalg.norm(ours[:, :, None] - theirs[:, None], axis=-1).min(-1)
    assert gaps.max() < 1e-4


def test_second_yaw_anchors_from_the_mmdet3d_v0_docstring():
    """'x front (yaw=-0.5*pi)', '(yaw=-pi) left y', 'the yaw is 0 at the negative direction of y axis'."""
    rows = np.array([[0, 0, 0, 2.0, 5.0, 1.5, yaw_old] for yaw_old in (-math.pi / 2, -math.pi, 0.0)])
    boxes = LiDARBoxes.from_second_format(rows)
    heading = torch.stack([torch.cos(boxes.yaw), torch.sin(boxes.yaw)], 1).double()
    torch.testing.assert_close(heading, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=torch.float64))
    torch.testing.assert_close(boxes.dims, torch.tensor([[5.0, 2.0, 1.5]] * 3))


def test_second_round_trip_keeps_velocity_and_nan():
    rows = _random_second_rows(20, 4)
    velocity = np.random.default_rng(5).normal(size=(20, 2))
    velocity[3] = np.nan
    boxes = LiDARBoxes.from_second_format(rows, velocity)
    np.testing.assert_allclose(boxes.velocity.double().numpy(), velocity, atol=1e-6)
    back = boxes.to_second_format()
    np.testing.assert_allclose(back[:, :6], rows[:, :6], atol=1e-5)
    yaw_gap = (back[:, 6] - rows[:, 6] + math.pi) % (2 * math.pi) - math.pi
    assert np.abs(yaw_gap).max() < 1e-6


def _rows_in(layout, sizes):
    """Rows with the given (length, width) per box, written in `layout`."""
    boxes = LiDARBoxes(torch.tensor([[0, 0, 0, length, width, 1.5, 0.3, 0, 0] for length, width in sizes]))
    return boxes.to_second_format() if layout == "second" else boxes.tensor[:, :7].double().numpy()


@pytest.mark.parametrize("layout", ["lwh", "second"])
def test_vehicles_tell_the_row_layout(layout):
    names = ["car", "car", "truck", "pedestrian", "barrier", "bus"]
    sizes = [(4.6, 1.9), (4.4, 1.8), (7.0, 2.5), (0.7, 0.6), (0.5, 2.4), (11.0, 2.9)]
    assert detect_box_layout(names, _rows_in(layout, sizes), "f.pkl", "say so") == layout
    boxes = boxes_from_rows(_rows_in(layout, sizes), None, layout)
    torch.testing.assert_close(boxes.dims[:, :2], torch.tensor(sizes))


def test_undecidable_rows_name_the_source_and_the_remedy():
    rows = _rows_in("lwh", [(0.7, 0.6), (0.5, 2.4)])
    with pytest.raises(ValueError, match=r"f\.pkl: cannot tell the box layout \(0 of 0 vehicle.*say so"):
        detect_box_layout(["pedestrian", "barrier"], rows, "f.pkl", "say so")
    mixed = _rows_in("lwh", [(4.6, 1.9), (1.9, 4.6)])
    with pytest.raises(ValueError, match=r"1 of 2 vehicle boxes"):
        detect_box_layout(["car", "car"], mixed, "f.pkl", "say so")
    assert detect_box_layout([], np.zeros((0, 7)), "f.pkl", "say so") in ("lwh", "second")
