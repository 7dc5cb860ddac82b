"""Box edges projected into a camera: known corners, a box behind the camera, one across the camera plane,
one across the image border, and the full bundle (image and LiDAR augmentation) against its own `project`."""

import math

import numpy as np
import torch

from bevfusion.structures import CalibrationBundle, LiDARBoxes, image_affine_to_matrix, rotation_z_matrix
from bevfusion.visualization import NEAR_PLANE, CameraProjection, box_segments
from bevfusion.visualization.box_projection import BOX_EDGES
from bevfusion.visualization.box_set import BoxSet
from bevfusion.visualization.camera_views import draw_boxes_on_camera

WIDTH, HEIGHT, FOCAL, CU, CV = 200, 100, 100.0, 100.0, 50.0
# A camera at the LiDAR origin looking along +x: camera x = -y (right), y = -z (down), z = x (forward).
LIDAR2CAM = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
CAM2IMG = np.array([[FOCAL, 0, CU], [0, FOCAL, CV], [0, 0, 1]])


def _pinhole(points: np.ndarray) -> np.ndarray:
    """The reference projection of this rig, written out: u = f (-y) / x + cu, v = f (-z) / x + cv."""
    points = np.atleast_2d(points)
    return np.stack([FOCAL * -points[:, 1] / points[:, 0] + CU, FOCAL * -points[:, 2] / points[:, 0] + CV], -1)


def _projection(calib: CalibrationBundle | None = None, size=(HEIGHT, WIDTH)) -> CameraProjection:
    calib = calib or CalibrationBundle.from_cameras(CAM2IMG[None], LIDAR2CAM[None])
    return CameraProjection.from_bundle(calib, 0, size)


def _corners(*box) -> np.ndarray:
    return LiDARBoxes(torch.tensor([[*box, 0.0, 0.0]], dtype=torch.float64)).corners[0].numpy()


def _on_line(point, start, end, tolerance=1.0) -> bool:
    """`point` lies within `tolerance` pixels of the infinite line through `start` and `end`."""
    direction = np.asarray(end, float) - np.asarray(start, float)
    offset = np.asarray(point, float) - np.asarray(start, float)
    return abs(direction[0] * offset[1] - direction[1] * offset[0]) / np.hypot(*direction) <= tolerance


def test_a_box_in_view_draws_all_twelve_edges_between_its_projected_corners():
    corners = _corners(10.0, 0.5, -0.3, 2.0, 1.5, 1.2, 0.3)
    expected = np.rint(_pinhole(corners)).astype(int)
    segments = box_segments(corners, _projection())
    assert [index for index, _, _ in segments] == list(range(12))
    for index, start, end in segments:
        first, second = BOX_EDGES[index]
        assert start == tuple(expected[first]) and end == tuple(expected[second])


def test_a_box_behind_the_camera_is_not_drawn_although_its_mirror_image_falls_inside():
    corners = _corners(-10.0, 0.5, -0.3, 2.0, 1.5, 1.2, 0.3)
    mirrored = _pinhole(corners)  # what a projection without the depth test would draw
    assert ((mirrored >= 0) & (mirrored < [WIDTH, HEIGHT])).all()
    assert box_segments(corners, _projection()) == []
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    boxes = BoxSet(np.array([[-10.0, 0.5, -0.3, 2.0, 1.5, 1.2, 0.3, 0, 0]]), corners[None], np.array([0]), None, False)
    draw_boxes_on_camera(image, _projection(), [boxes], ["car"])
    assert not image.any()


def test_a_box_across_the_camera_plane_is_cut_at_the_near_plane():
    # 4 m long along x, centred on the camera: the front face at x = 2 is visible, the back face at x = -2 is not.
    corners = _corners(0.0, 0.0, 0.0, 4.0, 0.1, 0.08, 0.0)
    segments = {index: (start, end) for index, start, end in box_segments(corners, _projection())}
    front_face = {0, 4, 8, 9}  # edges 0-1, 4-5, 0-4, 1-5 (corners 0, 1, 4, 5 are at +l/2)
    along_x = {1, 3, 5, 7}  # edges 1-2, 3-0, 5-6, 7-4 run from the front face to the back face
    assert set(segments) == front_face | along_x
    expected = np.rint(_pinhole(corners[[0, 1, 4, 5]])).astype(int)
    for index in front_face:
        first, second = BOX_EDGES[index]
        assert segments[index] == (
            tuple(expected[[0, 1, 4, 5].index(first)]),
            tuple(expected[[0, 1, 4, 5].index(second)]),
        )
    for index in along_x:
        first, second = BOX_EDGES[index]
        front, back = (first, second) if corners[first, 0] > 0 else (second, first)
        near_point = corners[back].copy()
        near_point[0] = NEAR_PLANE  # the edge runs along x, so it meets the plane at the back corner's y, z
        cut = tuple(np.rint(_pinhole(near_point)[0]).astype(int))
        assert 0 <= cut[0] < WIDTH and 0 <= cut[1] < HEIGHT
        drawn = segments[index] if front == first else segments[index][::-1]
        assert drawn == (tuple(np.rint(_pinhole(corners[front])[0]).astype(int)), cut)


def test_a_box_across_the_image_border_is_clipped_to_it_along_its_edges():
    corners = _corners(10.0, -9.0, 0.0, 2.0, 2.0, 2.0, 0.0)
    full = _pinhole(corners)
    assert full[:, 0].min() < WIDTH - 1 < full[:, 0].max()  # straddles the right border
    segments = box_segments(corners, _projection())
    inside = full[:, 0] <= WIDTH - 1
    drawn_edges = {index for index, _, _ in segments}
    assert drawn_edges == {i for i, (a, b) in enumerate(BOX_EDGES) if inside[a] or inside[b]}
    on_border = 0
    for index, start, end in segments:
        first, second = BOX_EDGES[index]
        for point in (start, end):
            assert 0 <= point[0] < WIDTH and 0 <= point[1] < HEIGHT
            assert _on_line(point, full[first], full[second])
        if inside[first] != inside[second]:  # crosses the border: the outside end lands on it
            outside_end = end if inside[first] else start
            assert outside_end[0] == WIDTH - 1
            crossing = full[first] + (WIDTH - 1 - full[first, 0]) / (full[second, 0] - full[first, 0]) * (
                full[second] - full[first]
            )
            assert abs(outside_end[1] - crossing[1]) <= 1.0
            on_border += 1
    assert on_border >= 2


def test_projection_through_augmented_bundle_matches_its_lidar2img():
    """With a resize + crop (`img_aug`) and a rotation + shift of the LiDAR frame (`lidar_aug`), the corners land
    where `CalibrationBundle.project` puts them."""
    affine = torch.tensor([[0.5, 0.0, -0.25 - 10.0], [0.0, 0.5, -0.25 - 5.0]], dtype=torch.float64)
    lidar_aug = rotation_z_matrix(0.4)
    lidar_aug[:3, 3] = torch.tensor([1.0, -2.0, 0.3], dtype=torch.float64)
    calib = CalibrationBundle.from_cameras(
        CAM2IMG[None] * [[2.0], [2.0], [1.0]], LIDAR2CAM[None], image_affine_to_matrix(affine)[None], lidar_aug
    )
    # A box in front of the camera in the key frame, moved into the augmented frame as the boxes would be.
    box = LiDARBoxes(torch.tensor([[12.0, 1.0, -0.5, 3.0, 1.5, 1.5, 0.2, 0, 0]], dtype=torch.float64))
    corners = box.transform(lidar_aug).corners[0].numpy()
    pixels, depth = calib.project(torch.from_numpy(corners))
    assert (depth > 0).all()
    expected = pixels[0].numpy()
    assert ((expected >= 0) & (expected < [WIDTH - 1, HEIGHT - 1])).all()
    for index, start, end in box_segments(corners, _projection(calib)):
        first, second = BOX_EDGES[index]
        np.testing.assert_allclose([start, end], expected[[first, second]], atol=0.5 + 1e-6)


def test_random_boxes_around_the_camera_only_give_segments_inside_the_image():
    rng = np.random.default_rng(0)
    projection = _projection()
    drawn = 0
    for _ in range(200):
        box = (*rng.uniform([-5, -15, -3], [25, 15, 3]), *rng.uniform(0.5, 6.0, 3), rng.uniform(-math.pi, math.pi))
        for _, start, end in box_segments(_corners(*box), projection):
            drawn += 1
            assert 0 <= min(start[0], end[0]) and max(start[0], end[0]) < WIDTH
            assert 0 <= min(start[1], end[1]) and max(start[1], end[1]) < HEIGHT
    assert drawn > 100
