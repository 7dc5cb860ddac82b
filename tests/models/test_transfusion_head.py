"""The TransFusion head: training step, BEV layout end to end, query selection by class name, decoding."""

import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from bevfusion.models.heads import TransFusionHead
from bevfusion.registry import MODELS, register_all_modules
from bevfusion.structures.boxes import LiDARBoxes
from bevfusion.structures.data_sample import Det3DDataSample

CLASSES = ["sedan", "pedestrian", "cyclist"]
# 0.6 m cells: x spans 40 cells, y spans 32, so a swapped x/y layout cannot pass unnoticed.
RANGE = [-12.0, -9.6, -5.0, 12.0, 9.6, 3.0]
CELL = 0.6


def small_config(**overrides) -> dict:
    config = dict(
        type="TransFusionHead",
        in_channels=16,
        hidden_channel=32,
        num_classes=3,
        class_names=CLASSES,
        num_proposals=20,
        auxiliary=True,
        num_decoder_layers=2,
        num_heads=4,
        ffn_channel=64,
        dropout=0.1,
        nms_kernel_size=3,
        nms_kernel_size_per_class=dict(pedestrian=1),
        common_heads=dict(center=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        point_cloud_range=RANGE,
        voxel_size=[0.075, 0.075, 0.2],
        out_size_factor=8,
        bbox_coder=dict(type="TransFusionBBoxCoder", post_center_range=[-15, -12, -10, 15, 12, 10], code_size=10),
        train_cfg=dict(
            gaussian_overlap=0.1,
            min_radius=2,
            pos_weight=-1,
            code_weights=[1.0] * 8 + [0.2, 0.2],
            assigner=dict(
                type="HungarianAssigner3D",
                cls_cost=dict(type="FocalLossCost", gamma=2.0, alpha=0.25, weight=0.15),
                reg_cost=dict(type="BBoxBEVL1Cost", weight=0.25),
                iou_cost=dict(type="IoU3DCost", weight=0.25),
            ),
        ),
        test_cfg=dict(nms=None),
        loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, reduction="mean", loss_weight=1.0),
        loss_heatmap=dict(type="GaussianFocalLoss", reduction="mean", loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", reduction="mean", loss_weight=0.25),
    )
    config.update(overrides)
    return config


def build_head(**overrides) -> TransFusionHead:
    register_all_modules()
    return MODELS.build(small_config(**overrides))


def sample_with(boxes: torch.Tensor, labels: torch.Tensor) -> Det3DDataSample:
    sample = Det3DDataSample()
    sample.gt_instances_3d = InstanceData(bboxes_3d=LiDARBoxes(boxes), labels_3d=labels.long())
    return sample


def gt_boxes(count: int, generator: torch.Generator) -> torch.Tensor:
    centre = (torch.rand(count, 3, generator=generator) * 2 - 1) * torch.tensor([10.0, 8.0, 1.0])
    size = 0.5 + torch.rand(count, 3, generator=generator) * 4
    yaw = (torch.rand(count, 1, generator=generator) * 2 - 1) * torch.pi
    return torch.cat([centre, size, yaw, torch.randn(count, 2, generator=generator)], dim=1)


def test_training_step_is_finite_and_reaches_every_parameter():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    head = build_head().train()
    bev = torch.randn(2, 16, 40, 32)
    samples = [
        sample_with(gt_boxes(4, generator), torch.tensor([0, 1, 2, 1])),
        sample_with(torch.zeros(0, 9), torch.zeros(0)),  # a sample without GT: negatives only
    ]
    outputs = head(bev)
    assert len(outputs) == 2 and outputs[0]["center"].shape == (2, 2, 20) and outputs[1]["heatmap"].shape == (2, 3, 20)
    assert outputs[0]["dense_heatmap"].shape == (2, 3, 40, 32)
    losses = head.loss(bev, samples)
    assert set(losses) == {
        "loss_heatmap",
        "layer_0_loss_cls",
        "layer_0_loss_bbox",
        "layer_-1_loss_cls",
        "layer_-1_loss_bbox",
        "matched_ious",
    }
    for name, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), name
    assert losses["layer_-1_loss_bbox"] > 0 and 0 <= losses["matched_ious"] <= 1
    sum(value for name, value in losses.items() if "loss" in name).backward()
    for name, parameter in head.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_batch_without_any_gt_gives_finite_losses():
    head = build_head(auxiliary=False).train()
    empty = sample_with(torch.zeros(0, 9), torch.zeros(0))
    losses = head.loss(torch.randn(2, 16, 40, 32), [empty, empty])
    assert set(losses) == {"loss_heatmap", "layer_-1_loss_cls", "layer_-1_loss_bbox", "matched_ious"}
    assert all(torch.isfinite(value) for value in losses.values())
    assert losses["layer_-1_loss_bbox"] == 0 and losses["layer_-1_loss_cls"] > 0 and losses["loss_heatmap"] > 0
    sum(value for name, value in losses.items() if "loss" in name).backward()
    assert torch.isfinite(head.shared_conv.weight.grad).all()


def test_gt_box_lights_the_heatmap_cell_of_the_grid_formula():
    head = build_head()
    x, y = 3.1, -4.3
    i, j = int((x - RANGE[0]) // CELL), int((y - RANGE[1]) // CELL)
    assert (i, j) == (25, 8)
    box = torch.tensor([[x, y, 0.0, 4.2, 1.8, 1.5, 0.7, 0.0, 0.0]])
    target = head.targets.heatmap(box, torch.tensor([2]))
    assert target.shape == (3, 40, 32)
    assert target[2, i, j] == 1 and (target == 1).sum() == 1
    assert target[:2].abs().sum() == 0 and target[2, i - 1, j] < 1 and target[2, i, j + 1] < 1


class FixedLogits(nn.Module):
    """Stands in for the learned heatmap head: the same class logits for every sample."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(features), -1, -1, -1)


def test_layout_end_to_end_gt_heatmap_selects_the_query_that_decodes_at_the_gt():
    """GT box -> heatmap target -> top query at its cell -> decoded box at that cell's centre."""
    head = build_head().eval()
    for heads in head.prediction_heads:  # zero centre offset: boxes decode at the query positions
        nn.init.zeros_(heads.center[-1].weight)
        nn.init.zeros_(heads.center[-1].bias)
    box = torch.tensor([[3.1, -4.3, 0.0, 4.2, 1.8, 1.5, 0.7, 0.0, 0.0]])
    target = head.targets.heatmap(box, torch.tensor([2]))
    head.heatmap_head = FixedLogits(torch.logit(target.clamp(1e-3, 1 - 1e-3))[None])
    with torch.no_grad():
        outputs = head(torch.randn(1, 16, 40, 32))
        prediction = head.predict(torch.randn(1, 16, 40, 32), [Det3DDataSample()])[0]
    first = outputs[-1]
    assert first["query_labels"][0, 0] == 2 and first["query_index"][0, 0] == 25 * 32 + 8
    assert first["center"][0, :, 0].tolist() == pytest.approx([25.5, 8.5])
    best = prediction.scores_3d.argmax()
    centre = prediction.bboxes_3d.tensor[best, :2]
    expected = torch.tensor([RANGE[0] + 25.5 * CELL, RANGE[1] + 8.5 * CELL])
    assert prediction.labels_3d[best] == 2 and torch.allclose(centre, expected, atol=1e-4)
    assert (centre - box[0, :2]).abs().max() <= CELL / 2


def test_local_max_kernel_is_read_by_class_name():
    head = build_head(class_names=["pedestrian", "sedan", "cyclist"], nms_kernel_size_per_class=dict(pedestrian=1))
    assert head.kernel_groups == [(1, [0]), (3, [1, 2])]
    heatmap = torch.zeros(1, 3, 40, 32)
    heatmap[0, :, 10, 10], heatmap[0, :, 10, 11] = 0.9, 0.8  # two neighbouring peaks in every class
    peaks = head.local_maxima(heatmap)
    assert peaks[0, 0, 10, 11] == pytest.approx(0.8)  # kernel 1: every cell is its own maximum
    assert peaks[0, 1, 10, 11] == 0 and peaks[0, 2, 10, 11] == 0  # kernel 3: suppressed by the 0.9
    assert (peaks[0] > 0).sum(dim=(1, 2)).tolist() == [2, 1, 1]
    corner = torch.zeros(1, 3, 40, 32)
    corner[0, 1, 0, 0] = 0.7
    assert head.local_maxima(corner)[0, 1, 0, 0] == pytest.approx(0.7)  # border cells can be maxima


def test_predict_gives_lidar_boxes_in_range_with_valid_scores_and_labels():
    torch.manual_seed(1)
    head = build_head(num_proposals=60).eval()
    bev = torch.randn(2, 16, 40, 32)
    results = head.predict(bev, [Det3DDataSample(), Det3DDataSample()])
    assert len(results) == 2
    for result in results:
        assert isinstance(result.bboxes_3d, LiDARBoxes) and result.bboxes_3d.tensor.shape == (len(result), 9)
        assert result.scores_3d.dtype == torch.float32 and result.labels_3d.dtype == torch.int64
        assert ((result.scores_3d >= 0) & (result.scores_3d <= 1)).all()
        assert ((result.labels_3d >= 0) & (result.labels_3d < 3)).all()
    narrow = build_head(
        num_proposals=60,
        bbox_coder=dict(type="TransFusionBBoxCoder", post_center_range=[-4, -3, -10, 4, 3, 10], code_size=10),
    ).eval()
    narrow.load_state_dict(head.state_dict())
    narrowed = narrow.predict(bev, [Det3DDataSample(), Det3DDataSample()])
    for wide, result in zip(results, narrowed):
        centres = result.bboxes_3d.tensor[:, :2]
        assert ((centres[:, 0].abs() <= 4) & (centres[:, 1].abs() <= 3)).all()
        assert 0 < len(result) < len(wide)


def test_circle_nms_keeps_only_boxes_farther_apart_than_the_class_radius():
    torch.manual_seed(2)
    bev = torch.randn(1, 16, 40, 32)
    plain = build_head(num_proposals=60).eval()
    radius = 4.0  # squared BEV distance, as CenterPoint's min_radius
    nms = dict(type="circle", min_radius=dict(sedan=radius, cyclist=radius), post_max_size=5)
    suppressed = build_head(num_proposals=60, test_cfg=dict(nms=nms)).eval()
    suppressed.load_state_dict(plain.state_dict())
    before = plain.predict(bev, [Det3DDataSample()])[0]
    after = suppressed.predict(bev, [Det3DDataSample()])[0]
    assert len(after) < len(before)
    assert (after.labels_3d == 1).sum() == (before.labels_3d == 1).sum()  # pedestrian has no radius
    for label in (0, 2):
        centres = after.bboxes_3d.tensor[after.labels_3d == label, :2]
        assert len(centres) <= 5
        distance = torch.cdist(centres, centres).square() + torch.eye(len(centres)) * 1e9
        assert (distance > radius).all()


def test_bad_configs_and_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="nms_kernel_size_per_class names class 'traffic_cone'"):
        build_head(nms_kernel_size_per_class=dict(traffic_cone=1))
    with pytest.raises(ValueError, match="min_radius'\\] names class 'car'"):
        build_head(test_cfg=dict(nms=dict(type="circle", min_radius=dict(car=4.0))))
    with pytest.raises(ValueError, match="code_size is 10"):
        build_head(common_heads=dict(center=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2)))
    with pytest.raises(ValueError, match="3 class_names"):
        build_head(num_classes=4)
    with pytest.raises(ValueError, match="must not set \\['voxel_size'\\]"):
        build_head(bbox_coder=dict(type="TransFusionBBoxCoder", voxel_size=[0.1, 0.1, 0.2]))
    head = build_head()
    with pytest.raises(ValueError, match=r"BEV map must be \(B, C, \(40, 32\)\)"):
        head(torch.randn(1, 16, 32, 40))
    with pytest.raises(ValueError, match="labels_3d must lie in"):
        head.loss(torch.randn(1, 16, 40, 32), [sample_with(torch.ones(1, 9), torch.tensor([3]))])
    with pytest.raises(ValueError, match=r"batch_data_samples\[0\] has no gt_instances_3d"):
        head.loss(torch.randn(1, 16, 40, 32), [Det3DDataSample()])
    with pytest.raises(ValueError, match="1 data samples for a batch of 2"):
        head.predict(torch.randn(2, 16, 40, 32), [Det3DDataSample()])
    with pytest.raises(ValueError, match="without train_cfg"):
        build_head(train_cfg=None).loss(torch.randn(1, 16, 40, 32), [Det3DDataSample()])
