"""Box ops: rotated IoU against shapely, NMS against plain greedy loops, points-in-boxes against the reference."""

import math

import pytest
import torch

from bevfusion.ops.box3d import bev_iou, circle_nms, iou_3d, nms_bev, points_in_boxes, points_in_boxes_reference
from bevfusion.ops.box3d.reference import box_iou_reference, circle_nms_reference, nms_bev_reference

shapely = pytest.importorskip("shapely")
from shapely import affinity, geometry  # noqa: E402


def random_boxes(seed: int, count: int, spread: float = 6.0, origin: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    centre = origin + spread * (torch.rand(count, 3, generator=generator) - 0.5)
    size = 0.3 + 4.0 * torch.rand(count, 3, generator=generator)
    yaw = (torch.rand(count, 1, generator=generator) - 0.5) * 4 * math.pi
    return torch.cat([centre, size, yaw], dim=1)


def special_boxes() -> torch.Tensor:
    """Pairs (rows 2k, 2k + 1) that stress the clipping: equal, touching, nested, 45 deg, near-parallel, far."""
    pairs = [
        ([1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3], [1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3]),  # identical
        ([0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0], [2.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0]),  # touching along an edge
        ([0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0], [2.0, 2.0, 0.0, 2.0, 2.0, 1.0, 0.0]),  # touching at a corner
        ([0.0, 0.0, 0.0, 6.0, 4.0, 2.0, 0.7], [0.5, 0.2, 0.1, 2.0, 1.0, 1.0, -0.4]),  # nested
        ([0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0, 2.0, 1.0, math.pi / 4]),  # 45 deg
        ([0.0, 0.0, 0.0, 4.0, 1.0, 1.0, 0.2], [0.3, 0.0, 0.0, 4.0, 1.0, 1.0, 0.2 + 1e-7]),  # near-parallel
        ([0.0, 0.0, 0.0, 4.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 4.0, 1.0, 1.0, 1e-7]),  # near-parallel, touching
        ([0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0, 4.0, 1.0, math.pi / 2]),  # same box, turned
        ([0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0], [1.0, 0.5, 0.0, 4.0, 2.0, 1.0, math.pi]),  # flipped heading
        ([480.3, -512.7, 1.0, 4.5, 1.9, 1.6, 1.1], [480.9, -512.2, 1.2, 4.3, 2.0, 1.5, 1.3]),  # far from origin
        ([0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0], [10.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0]),  # disjoint
    ]
    return torch.tensor([box for pair in pairs for box in pair])


def shapely_polygon(box: list[float]):
    x, y, _, length, width, _, yaw = box
    rectangle = geometry.box(-length / 2, -width / 2, length / 2, width / 2)
    return affinity.translate(affinity.rotate(rectangle, yaw, origin=(0, 0), use_radians=True), x, y)


def shapely_iou(box_a: list[float], box_b: list[float], bev: bool) -> float:
    polygon_a, polygon_b = shapely_polygon(box_a), shapely_polygon(box_b)
    intersection = polygon_a.intersection(polygon_b).area
    size_a, size_b = box_a[3] * box_a[4], box_b[3] * box_b[4]
    if not bev:
        top = min(box_a[2] + box_a[5] / 2, box_b[2] + box_b[5] / 2)
        bottom = max(box_a[2] - box_a[5] / 2, box_b[2] - box_b[5] / 2)
        intersection *= max(top - bottom, 0.0)
        size_a, size_b = size_a * box_a[5], size_b * box_b[5]
    return intersection / (size_a + size_b - intersection)


def shapely_matrix(boxes_a: torch.Tensor, boxes_b: torch.Tensor, bev: bool) -> torch.Tensor:
    rows_a, rows_b = boxes_a.double().tolist(), boxes_b.double().tolist()
    return torch.tensor([[shapely_iou(a, b, bev) for b in rows_b] for a in rows_a], dtype=torch.float64)


@pytest.mark.parametrize("bev", [True, False])
def test_iou_matches_shapely_on_random_boxes(bev):
    boxes_a, boxes_b = random_boxes(0, 40), random_boxes(1, 30)
    expected = shapely_matrix(boxes_a, boxes_b, bev)
    assert (expected > 0.05).sum() > 20  # the boxes really overlap
    iou = bev_iou(boxes_a, boxes_b) if bev else iou_3d(boxes_a, boxes_b)
    assert iou.shape == (40, 30) and iou.dtype == torch.float32
    torch.testing.assert_close(iou.double(), expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(box_iou_reference(boxes_a, boxes_b, bev=bev), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("bev", [True, False])
def test_iou_matches_shapely_on_special_pairs(bev):
    boxes = special_boxes()
    boxes_a, boxes_b = boxes[0::2], boxes[1::2]
    expected = torch.tensor([shapely_iou(a, b, bev) for a, b in zip(boxes_a.tolist(), boxes_b.tolist())])
    iou = bev_iou(boxes_a, boxes_b, aligned=True) if bev else iou_3d(boxes_a, boxes_b, aligned=True)
    torch.testing.assert_close(iou.double(), expected.double(), rtol=0, atol=1e-5)
    reference = box_iou_reference(boxes_a, boxes_b, aligned=True, bev=bev)
    torch.testing.assert_close(reference, expected.double(), rtol=0, atol=1e-6)
    assert iou[0] == pytest.approx(1.0, abs=1e-6) and iou[1] == 0 and iou[2] == 0
    if bev:
        assert iou[7] == pytest.approx(1.0, abs=1e-6)


def test_aligned_is_the_pairwise_diagonal_and_iou_is_symmetric():
    boxes_a, boxes_b = random_boxes(2, 50), random_boxes(3, 50)
    pairwise = bev_iou(boxes_a, boxes_b)
    assert torch.equal(bev_iou(boxes_a, boxes_b, aligned=True), pairwise.diagonal())
    torch.testing.assert_close(bev_iou(boxes_b, boxes_a), pairwise.T, rtol=0, atol=1e-6)
    assert torch.all(iou_3d(boxes_a, boxes_b) <= pairwise + 1e-6)


def test_iou_is_invariant_to_rigid_motion():
    boxes_a, boxes_b = random_boxes(4, 30), random_boxes(5, 30)
    angle, shift = 0.8, torch.tensor([37.0, -12.0, 3.0])

    def moved(boxes: torch.Tensor) -> torch.Tensor:
        cos, sin = math.cos(angle), math.sin(angle)
        out = boxes.clone()
        out[:, 0] = cos * boxes[:, 0] - sin * boxes[:, 1]
        out[:, 1] = sin * boxes[:, 0] + cos * boxes[:, 1]
        out[:, :3] += shift
        out[:, 6] += angle
        return out

    torch.testing.assert_close(iou_3d(moved(boxes_a), moved(boxes_b)), iou_3d(boxes_a, boxes_b), rtol=0, atol=1e-5)


def test_native_iou_matches_reference():
    boxes_a, boxes_b = random_boxes(6, 120, spread=10), random_boxes(7, 90, spread=10)
    for bev in (True, False):
        native = bev_iou(boxes_a, boxes_b) if bev else iou_3d(boxes_a, boxes_b)
        torch.testing.assert_close(native.double(), box_iou_reference(boxes_a, boxes_b, bev=bev), rtol=0, atol=1e-6)


def test_degenerate_boxes_give_zero_not_nan():
    flat = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    assert bev_iou(flat, flat).item() == 0.0
    assert iou_3d(flat, flat).item() == 0.0


@pytest.mark.parametrize(
    ("seed", "threshold", "pre_max_size", "post_max_size"),
    [(0, 0.1, None, None), (1, 0.3, 150, 40), (2, 0.0, None, 10)],
)
def test_nms_bev_matches_plain_greedy(seed, threshold, pre_max_size, post_max_size):
    boxes = random_boxes(seed, 300, spread=30)
    scores = torch.rand(300, generator=torch.Generator().manual_seed(seed))
    kept = nms_bev(boxes, scores, threshold, pre_max_size, post_max_size)
    expected = nms_bev_reference(boxes, scores, threshold, pre_max_size, post_max_size)
    assert 1 < len(expected) < 300
    assert kept.dtype == torch.int64 and kept.tolist() == expected.tolist()
    assert torch.all(scores[kept][1:] <= scores[kept][:-1])


def test_nms_bev_ties_keep_the_lower_index():
    boxes = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0]] * 3 + [[9.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0]])
    scores = torch.tensor([0.5, 0.9, 0.9, 0.1])
    assert nms_bev(boxes, scores, 0.5).tolist() == [1, 3]
    assert nms_bev(boxes[:0], scores[:0], 0.5).tolist() == []


@pytest.mark.parametrize(("seed", "threshold", "post_max_size"), [(0, 4.0, None), (1, 0.85, 50), (2, 12.0, 5)])
def test_circle_nms_matches_plain_greedy(seed, threshold, post_max_size):
    boxes = random_boxes(seed, 400, spread=40)
    scores = torch.rand(400, generator=torch.Generator().manual_seed(seed + 10))
    kept = circle_nms(boxes, scores, threshold, post_max_size=post_max_size)
    expected = circle_nms_reference(boxes, scores, threshold, post_max_size=post_max_size)
    assert 1 < len(expected) < 400
    assert kept.tolist() == expected.tolist()
    assert torch.equal(circle_nms(boxes[:, :2], scores, threshold, post_max_size=post_max_size), kept)


def test_points_in_boxes_matches_reference():
    boxes = random_boxes(8, 20, spread=8)
    points = 10 * (torch.rand(3000, 4, generator=torch.Generator().manual_seed(8)) - 0.5)
    mask = points_in_boxes(points, boxes)
    assert mask.shape == (3000, 20) and mask.any()
    assert torch.equal(mask, points_in_boxes_reference(points, boxes))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bev_iou(torch.zeros(3, 6), torch.zeros(2, 7)), "boxes_a"),
        (lambda: iou_3d(torch.zeros(3, 7), torch.zeros(2, 7), aligned=True), "aligned"),
        (lambda: nms_bev(torch.zeros(3, 7), torch.zeros(2), 0.5), "scores"),
        (lambda: circle_nms(torch.zeros(3, 1), torch.zeros(3), 1.0), "centers"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.cuda
def test_cuda_iou_matches_cpu():
    boxes_a, boxes_b = random_boxes(9, 200, spread=20), random_boxes(10, 150, spread=20)
    for function in (bev_iou, iou_3d):
        torch.testing.assert_close(
            function(boxes_a.cuda(), boxes_b.cuda()).cpu(), function(boxes_a, boxes_b), rtol=0, atol=1e-5
        )
        aligned = function(boxes_a[:150].cuda(), boxes_b.cuda(), aligned=True).cpu()
        torch.testing.assert_close(aligned, function(boxes_a[:150], boxes_b, aligned=True), rtol=0, atol=1e-5)


@pytest.mark.cuda
def test_cuda_nms_matches_cpu():
    boxes = random_boxes(11, 700, spread=60)
    scores = torch.rand(700, generator=torch.Generator().manual_seed(11))
    assert (
        nms_bev(boxes.cuda(), scores.cuda(), 0.2, 500, 83).cpu().tolist()
        == nms_bev(boxes, scores, 0.2, 500, 83).tolist()
    )
    assert (
        circle_nms(boxes.cuda(), scores.cuda(), 4.0, 83).cpu().tolist() == circle_nms(boxes, scores, 4.0, 83).tolist()
    )
