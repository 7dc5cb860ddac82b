"""TransFusion task utils: Gaussian targets, the box coder's grid and round trip, the Hungarian assigner."""

import math

import pytest
import torch

from bevfusion.models.task_utils import (
    HungarianAssigner3D,
    TransFusionBBoxCoder,
    draw_gaussian,
    gaussian_kernel,
    gaussian_radius,
)
from bevfusion.registry import TASK_UTILS, register_all_modules
from bevfusion.structures.boxes import wrap_angle

GRID = dict(point_cloud_range=[-54, -54, -5, 54, 54, 3], voxel_size=[0.075, 0.075, 0.2], out_size_factor=8)
ASSIGNER = dict(
    type="HungarianAssigner3D",
    cls_cost=dict(type="FocalLossCost", gamma=2.0, alpha=0.25, weight=0.15),
    reg_cost=dict(type="BBoxBEVL1Cost", weight=0.25),
    iou_cost=dict(type="IoU3DCost", weight=0.25),
    point_cloud_range=GRID["point_cloud_range"],
)


def random_boxes(count: int, generator: torch.Generator, spread: float = 50.0) -> torch.Tensor:
    """Boxes `(count, 9)`: centres in +-spread, sizes 0.3..12 m, yaw over the full circle, velocities +-10 m/s."""
    centre = (torch.rand(count, 3, generator=generator) * 2 - 1) * torch.tensor([spread, spread, 3.0])
    size = 0.3 + torch.rand(count, 3, generator=generator) * 11.7
    yaw = (torch.rand(count, 1, generator=generator) * 2 - 1) * math.pi
    velocity = (torch.rand(count, 2, generator=generator) * 2 - 1) * 10
    return torch.cat([centre, size, yaw, velocity], dim=1)


def test_gaussian_radius_matches_centernet_formula_by_hand():
    # 10 x 10 cells, overlap 0.1: a3 = 0.4, b3 = -4, c3 = -90, so r3 = (-4 + sqrt(16 + 144)) / 2 = 4.32;
    # r1 = (20 + sqrt(400 - 4 * 81.8)) / 2 = 14.3 and r2 = (40 + sqrt(1600 - 1440)) / 2 = 26.3 are larger.
    radius = gaussian_radius(torch.tensor([10.0]), torch.tensor([10.0]), 0.1)
    assert radius.item() == pytest.approx((-4 + math.sqrt(160)) / 2, rel=1e-6)
    sizes = torch.tensor([1.0, 3.0, 9.0])
    radii = gaussian_radius(sizes, sizes * 2, 0.1)
    assert (radii[1:] > radii[:-1]).all()
    assert torch.allclose(gaussian_radius(sizes, sizes * 2, 0.1), gaussian_radius(sizes * 2, sizes, 0.1))
    with pytest.raises(ValueError, match="min_overlap"):
        gaussian_radius(sizes, sizes, 1.0)


def test_gaussian_kernel_and_drawing_clip_at_the_border_and_take_the_maximum():
    kernel = gaussian_kernel(2)
    assert kernel.shape == (5, 5) and kernel[2, 2] == 1 and torch.equal(kernel, kernel.T)
    assert kernel[2, 3].item() == pytest.approx(math.exp(-1 / (2 * (5 / 6) ** 2)), rel=1e-6)
    heatmap = torch.zeros(6, 4)
    draw_gaussian(heatmap, 0, 3, 2)  # corner: only the in-map quarter is drawn
    assert heatmap[0, 3] == 1 and torch.allclose(heatmap[:3, 1:], kernel[2:, :3])
    assert heatmap[3:].abs().sum() == 0 and heatmap[:, 0].abs().sum() == 0
    draw_gaussian(heatmap, 1, 3, 2)
    assert heatmap[0, 3] == 1 and heatmap[1, 3] == 1  # max-combined, not summed
    before = heatmap.clone()
    draw_gaussian(heatmap, 6, 0, 2)  # centre outside the map
    assert torch.equal(heatmap, before)


def test_coder_grid_puts_cell_centres_at_half_cells():
    coder = TransFusionBBoxCoder(**GRID, code_size=10)
    assert coder.grid_size == (180, 180) and coder.cell_size == pytest.approx((0.6, 0.6))
    box = torch.tensor([[-54 + 107.5 * 0.6, -54 + 55.5 * 0.6, 0.5, 4.0, 2.0, 1.5, 0.3, 1.0, -2.0]])
    code = coder.encode(box)
    assert code[0, :2].tolist() == pytest.approx([107.5, 55.5], abs=1e-4)
    assert code[0, 2].item() == pytest.approx(0.5)  # gravity-centre z is coded as is
    assert code[0, 3:6].tolist() == pytest.approx([math.log(4.0), math.log(2.0), math.log(1.5)], rel=1e-6)
    assert code[0, 6:].tolist() == pytest.approx([math.sin(0.3), math.cos(0.3), 1.0, -2.0], rel=1e-6)


@pytest.mark.parametrize("code_size, velocity_frame", [(10, "lidar"), (8, "lidar"), (10, "box")])
def test_decode_inverts_encode_for_random_boxes(code_size, velocity_frame):
    generator = torch.Generator().manual_seed(3)
    boxes = random_boxes(500, generator, spread=70.0)  # also outside the grid
    coder = TransFusionBBoxCoder(**GRID, code_size=code_size, velocity_frame=velocity_frame)
    codes = coder.encode(boxes)
    assert codes.shape == (500, code_size)
    decoded = coder.decode(codes)
    assert decoded.shape == (500, 9)
    assert torch.allclose(decoded[:, :6], boxes[:, :6], atol=1e-4, rtol=0)
    assert wrap_angle(decoded[:, 6] - boxes[:, 6]).abs().max() < 1e-4
    expected_velocity = boxes[:, 7:] if code_size == 10 else torch.zeros_like(boxes[:, 7:])
    assert torch.allclose(decoded[:, 7:], expected_velocity, atol=1e-4, rtol=0)
    # Batched codes decode the same way.
    assert torch.allclose(coder.decode(codes.reshape(5, 100, code_size)).reshape(500, 9), decoded)


def test_box_frame_velocity_codes_speed_along_and_across_the_heading():
    coder = TransFusionBBoxCoder(**GRID, velocity_frame="box")
    headings = torch.tensor([0.0, 0.7, -2.5, math.pi / 2])
    boxes = torch.zeros(4, 9)
    boxes[:, 3:6] = 1.0
    boxes[:, 6] = headings
    boxes[:, 7], boxes[:, 8] = 5.0 * torch.cos(headings), 5.0 * torch.sin(headings)  # driving forward at 5 m/s
    boxes[3, 7:] = torch.tensor([-2.0, 0.0])  # heading +y, sliding toward -x: to its left is -x
    codes = coder.encode(boxes)
    expected = torch.tensor([[5.0, 0.0], [5.0, 0.0], [5.0, 0.0], [0.0, 2.0]])
    torch.testing.assert_close(codes[:, 8:], expected, atol=1e-5, rtol=0)
    reversed_heading = codes.clone()
    reversed_heading[:, 6:8] = -codes[:, 6:8]  # a flipped heading turns the decoded velocity with it
    torch.testing.assert_close(coder.decode(reversed_heading)[:, 7:], -boxes[:, 7:], atol=1e-5, rtol=0)
    lidar_codes = TransFusionBBoxCoder(**GRID).encode(boxes)
    torch.testing.assert_close(lidar_codes[:, 8:], boxes[:, 7:])


def test_coder_filter_and_errors():
    coder = TransFusionBBoxCoder(**GRID, post_center_range=[-10, -10, -5, 10, 10, 5], score_threshold=0.3)
    boxes = torch.zeros(4, 9)
    boxes[:, 0] = torch.tensor([0.0, 10.0, 10.5, 0.0])
    scores = torch.tensor([0.5, 0.3, 0.9, 0.1])
    assert coder.keep_mask(boxes, scores).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="sizes l, w, h must be positive"):
        coder.encode(torch.tensor([[0, 0, 0, 1.0, 0.0, 1.0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="code_size must be one of"):
        TransFusionBBoxCoder(**GRID, code_size=9)
    with pytest.raises(ValueError, match="point_cloud_range needs 6"):
        TransFusionBBoxCoder([0, 0, 1, 1], [0.1, 0.1, 0.1], 8)
    with pytest.raises(ValueError, match="velocity_frame must be one of"):
        TransFusionBBoxCoder(**GRID, velocity_frame="global")


def _perfect_logits(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.where(torch.nn.functional.one_hot(labels, num_classes).bool(), 8.0, -8.0)


def test_perfect_predictions_are_assigned_back_to_their_gt():
    register_all_modules()
    assigner = TASK_UTILS.build(ASSIGNER)
    assert isinstance(assigner, HungarianAssigner3D)
    generator = torch.Generator().manual_seed(0)
    gt_boxes = random_boxes(8, generator, spread=45.0)
    gt_labels = torch.randint(0, 5, (8,), generator=generator)
    order = torch.randperm(8, generator=generator)
    clutter = random_boxes(12, generator, spread=45.0)
    pred_boxes = torch.cat([gt_boxes[order], clutter])
    pred_logits = torch.cat([_perfect_logits(gt_labels[order], 5), torch.full((12, 5), -3.0)])

    result = assigner.assign(pred_boxes, pred_logits, gt_boxes, gt_labels)
    assert result.gt_index[:8].tolist() == order.tolist()
    assert (result.gt_index[8:] == -1).all() and result.positive.sum() == 8
    assert torch.allclose(result.ious[:8], torch.ones(8), atol=1e-4) and (result.ious[8:] == 0).all()

    cost, _ = assigner.cost(pred_boxes[:8], pred_logits[:8], gt_boxes, gt_labels)
    rows = torch.arange(8)
    best = cost[rows, order].sum()
    for _ in range(200):
        other = torch.randperm(8, generator=generator)
        assert cost[rows, other].sum() >= best - 1e-6


def test_assigner_without_gt_or_with_more_gt_than_proposals():
    register_all_modules()
    assigner = TASK_UTILS.build(ASSIGNER)
    generator = torch.Generator().manual_seed(1)
    preds = random_boxes(5, generator)
    empty = assigner.assign(preds, torch.zeros(5, 3), torch.zeros(0, 9), torch.zeros(0, dtype=torch.long))
    assert (empty.gt_index == -1).all() and (empty.ious == 0).all()
    crowded = assigner.assign(preds, torch.zeros(5, 3), random_boxes(9, generator), torch.zeros(9, dtype=torch.long))
    assert crowded.positive.all() and len(set(crowded.gt_index.tolist())) == 5


def test_focal_cost_prefers_the_predicted_class_and_l1_cost_is_normalised():
    register_all_modules()
    cls_cost = TASK_UTILS.build(dict(type="FocalLossCost", weight=0.15))
    cost = cls_cost(torch.tensor([[4.0, -4.0]]), torch.tensor([0, 1]))
    assert cost[0, 0] < 0 < cost[0, 1]
    reg_cost = TASK_UTILS.build(dict(type="BBoxBEVL1Cost", weight=1.0, point_cloud_range=[-50, -25, -5, 50, 25, 3]))
    pred, gt = torch.zeros(1, 9), torch.zeros(1, 9)
    gt[0, :2] = torch.tensor([10.0, 5.0])  # 10 % of the x extent plus 10 % of the y extent
    assert reg_cost(pred, gt).item() == pytest.approx(0.2, rel=1e-6)
