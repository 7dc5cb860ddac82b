"""The TransFusion detection head (Bai et al., 2022) as BEVFusion uses it: BEV map -> 3D boxes.

1. Query initialisation: a shared 3x3 conv, a dense class heatmap, per-class local maxima (max-pool kernel
   chosen by class *name*), the top `num_proposals` (class, cell) pairs; a query is the shared feature at
   its cell plus a one-hot class embedding, positioned at the cell centre `(i + 0.5, j + 0.5)` in cells.
2. Decoder layers refine the queries against the BEV; after each, FFNs predict the box code
   (see `TransFusionBBoxCoder`) and class logits, and the predicted centre becomes the next query position.
3. Training: Hungarian assignment per layer, focal class loss, L1 box loss, Gaussian focal heatmap loss.
4. Decoding: score = sigmoid(logit of the query's class) x the query's heatmap peak, boxes in the LiDAR frame.

Maps are `(B, C, nx, ny)`, x first; cell `(i, j)` has its centre at `x_min + (i + 0.5) dx`, `y_min + (j + 0.5) dy`
with `dx = voxel_x * out_size_factor`. Module names follow MIT HAN Lab's `TransFusionHead`.

Differences from MIT HAN Lab's head: local-max kernels come from `nms_kernel_size_per_class` by class name,
not hard-coded indices (their issues #163, #331), and border cells may be local maxima; circle NMS radii come
from `test_cfg['nms']['min_radius']` by class name; the coder receives the head's grid. Each layer's losses
are normalised by that layer's positives (theirs: all layers' together; the same for one layer). As in both
references, the shared conv is a plain 3x3 conv with bias (no BN/ReLU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import nn

from bevfusion.models import losses as _registers_losses  # noqa: F401  (the default loss configs)
from bevfusion.models import task_utils as _registers_task_utils  # noqa: F401  (coder, assigner, costs)
from bevfusion.ops.box3d import circle_nms
from bevfusion.registry import MODELS, TASK_UTILS
from bevfusion.structures.boxes import LiDARBoxes

from .transfusion_decoder import ConvBlock, PredictionHeads, TransformerDecoderLayer
from .transfusion_targets import TransFusionTargets

# The regression heads in code order, with their channel counts; `vel` is optional.
CODE_HEADS = {"center": 2, "height": 1, "dim": 3, "rot": 2, "vel": 2}
HEATMAP_PRIOR_BIAS = -2.19  # sigmoid(-2.19) ~ 0.1, the focal-loss prior of CenterNet and TransFusion
GRID_KEYS = ("point_cloud_range", "voxel_size", "out_size_factor")


def _layer_prefixes(num_layers: int) -> list[str]:
    """Loss-key prefixes: `layer_0`, `layer_1`, ... and `layer_-1` for the last layer (the reference's names)."""
    return [f"layer_{index}" for index in range(num_layers - 1)] + ["layer_-1"]


@MODELS.register_module()
class TransFusionHead(nn.Module):
    """TransFusion head over a `(B, in_channels, nx, ny)` BEV map; see the module docstring.

    `forward` returns one dict per decoder layer with `center` `(B, 2, P)` (absolute, cell units), `height`,
    `dim` (log sizes), `rot` (sin, cos), `vel` (if configured), `heatmap` (class logits `(B, K, P)`), and the
    query data shared by all layers: `dense_heatmap` (logits `(B, K, nx, ny)`), `query_heatmap_score`
    `(B, K, P)` (the local-max heatmap at each query's cell), `query_labels` `(B, P)` and `query_index`
    `(B, P)` (flat cell index `i * ny + j`).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        class_names: Sequence[str],
        point_cloud_range: Sequence[float],
        voxel_size: Sequence[float],
        out_size_factor: int,
        bbox_coder: dict,
        common_heads: dict,
        hidden_channel: int = 128,
        num_proposals: int = 200,
        auxiliary: bool = True,
        num_decoder_layers: int = 1,
        num_heads: int = 8,
        ffn_channel: int = 256,
        dropout: float = 0.1,
        bn_momentum: float = 0.1,
        activation: str = "relu",
        nms_kernel_size: int = 3,
        nms_kernel_size_per_class: dict[str, int] | None = None,
        num_heatmap_convs: int = 2,
        head_channels: int = 64,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        loss_cls: dict | None = None,
        loss_heatmap: dict | None = None,
        loss_bbox: dict | None = None,
    ) -> None:
        super().__init__()
        self.class_names = list(class_names)
        if len(self.class_names) != num_classes:
            raise ValueError(f"TransFusionHead: num_classes={num_classes} but {len(self.class_names)} class_names")
        self.num_classes, self.num_proposals, self.auxiliary = num_classes, num_proposals, auxiliary
        self.code_heads = self._check_common_heads(common_heads)

        clashing = sorted(set(bbox_coder) & set(GRID_KEYS))
        if clashing:
            raise ValueError(f"TransFusionHead: bbox_coder must not set {clashing}; the head passes its own grid")
        grid = dict(point_cloud_range=list(point_cloud_range), voxel_size=list(voxel_size))
        self.bbox_coder = TASK_UTILS.build(bbox_coder, default_args=dict(grid, out_size_factor=out_size_factor))
        code_size = sum(CODE_HEADS[name] for name in self.code_heads)
        if code_size != self.bbox_coder.code_size:
            raise ValueError(
                f"TransFusionHead: common_heads {self.code_heads} give a {code_size}-value code but "
                f"bbox_coder.code_size is {self.bbox_coder.code_size}"
            )
        self.grid_size = self.bbox_coder.grid_size
        if num_proposals > num_classes * self.grid_size[0] * self.grid_size[1]:
            raise ValueError(f"TransFusionHead: num_proposals={num_proposals} exceeds classes x cells of the grid")
        self.kernel_groups = self._kernel_groups(nms_kernel_size, nms_kernel_size_per_class or {})
        self.nms_cfg = self._check_nms_cfg((test_cfg or {}).get("nms"))

        self.shared_conv = nn.Conv2d(in_channels, hidden_channel, kernel_size=3, padding=1)
        self.heatmap_head = nn.Sequential(
            ConvBlock(hidden_channel, hidden_channel, kernel_size=3, dims=2),
            nn.Conv2d(hidden_channel, num_classes, kernel_size=3, padding=1),
        )
        self.class_encoding = nn.Conv1d(num_classes, hidden_channel, kernel_size=1)
        self.decoder = nn.ModuleList(
            TransformerDecoderLayer(hidden_channel, num_heads, ffn_channel, dropout, activation)
            for _ in range(num_decoder_layers)
        )
        heads = {name: tuple(common_heads[name]) for name in self.code_heads}
        heads["heatmap"] = (num_classes, num_heatmap_convs)
        self.prediction_heads = nn.ModuleList(
            PredictionHeads(hidden_channel, heads, head_channels) for _ in range(num_decoder_layers)
        )
        cells = torch.stack(torch.meshgrid(*(torch.arange(n) for n in self.grid_size), indexing="ij"), dim=-1)
        self.register_buffer("bev_pos", cells.reshape(1, -1, 2).float() + 0.5, persistent=False)

        self.targets = (
            None
            if train_cfg is None
            else TransFusionTargets(train_cfg, self.bbox_coder, num_classes, point_cloud_range)
        )
        self.loss_cls = MODELS.build(loss_cls or dict(type="FocalLoss", gamma=2.0, alpha=0.25))
        self.loss_heatmap = MODELS.build(loss_heatmap or dict(type="GaussianFocalLoss"))
        self.loss_bbox = MODELS.build(loss_bbox or dict(type="L1Loss", loss_weight=0.25))
        self.bn_momentum = bn_momentum
        self.init_weights()

    # ----------------------------------------------------------------- configuration
    @staticmethod
    def _check_common_heads(common_heads: dict) -> list[str]:
        unknown = sorted(set(common_heads) - set(CODE_HEADS))
        missing = sorted(set(CODE_HEADS) - {"vel"} - set(common_heads))
        if unknown or missing:
            raise ValueError(
                f"TransFusionHead: common_heads has unknown {unknown} / lacks {missing}; allowed {list(CODE_HEADS)}"
            )
        for name, spec in common_heads.items():
            if len(spec) != 2 or spec[0] != CODE_HEADS[name]:
                raise ValueError(f"TransFusionHead: common_heads[{name!r}] must be ({CODE_HEADS[name]}, num_conv)")
        return [name for name in CODE_HEADS if name in common_heads]

    def _class_index(self, name: str, field: str) -> int:
        if name not in self.class_names:
            raise ValueError(f"TransFusionHead: {field} names class {name!r}, not one of {self.class_names}")
        return self.class_names.index(name)

    def _kernel_groups(self, default: int, per_class: dict[str, int]) -> list[tuple[int, list[int]]]:
        """`(kernel size, class indices)` pairs covering every class once."""
        kernels = [default] * self.num_classes
        for name, size in per_class.items():
            kernels[self._class_index(name, "nms_kernel_size_per_class")] = size
        for size in kernels:
            if size < 1 or size % 2 == 0:
                raise ValueError(f"TransFusionHead: local-max kernel sizes must be odd and >= 1, got {size}")
        return [(size, [k for k, s in enumerate(kernels) if s == size]) for size in sorted(set(kernels))]

    def _check_nms_cfg(self, nms: dict | None) -> dict | None:
        """`None`, or `{'radius': {class index: threshold}, 'post_max_size': int | None}` for circle NMS."""
        if nms is None:
            return None
        if nms.get("type") != "circle":
            raise ValueError(f"TransFusionHead: test_cfg['nms'] type must be 'circle', got {nms.get('type')!r}")
        radius = {
            self._class_index(name, "test_cfg['nms']['min_radius']"): float(r) for name, r in nms["min_radius"].items()
        }
        return dict(radius=radius, post_max_size=nms.get("post_max_size"))

    def init_weights(self) -> None:
        """Xavier for the decoder matrices, the focal prior on class biases, `bn_momentum` for every BN."""
        for parameter in self.decoder.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
        nn.init.constant_(self.heatmap_head[-1].bias, HEATMAP_PRIOR_BIAS)
        for heads in self.prediction_heads:
            nn.init.constant_(heads.heatmap[-1].bias, HEATMAP_PRIOR_BIAS)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                module.momentum = self.bn_momentum

    # ----------------------------------------------------------------- forward
    def local_maxima(self, heatmap: torch.Tensor) -> torch.Tensor:
        """`heatmap` `(B, K, nx, ny)` with every cell that is not a local maximum of its class set to 0."""
        peaks = torch.empty_like(heatmap)
        for size, classes in self.kernel_groups:
            scores = heatmap[:, classes]
            pooled = F.max_pool2d(scores, size, stride=1, padding=size // 2) if size > 1 else scores
            peaks[:, classes] = scores * (scores == pooled)
        return peaks

    def forward(self, bev: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        if bev.dim() != 4 or tuple(bev.shape[2:]) != self.grid_size:
            raise ValueError(f"TransFusionHead: BEV map must be (B, C, {self.grid_size}), got {tuple(bev.shape)}")
        features = self.shared_conv(bev)
        flat = features.flatten(2)  # (B, C, nx * ny), flat index i * ny + j
        dense_heatmap = self.heatmap_head(features)
        peaks = self.local_maxima(dense_heatmap.detach().sigmoid()).flatten(2)
        top = peaks.flatten(1).topk(self.num_proposals, dim=1).indices
        query_labels, query_index = top // flat.shape[2], top % flat.shape[2]

        query = flat.gather(2, query_index[:, None].expand(-1, flat.shape[1], -1))
        query = query + self.class_encoding(F.one_hot(query_labels, self.num_classes).transpose(1, 2).to(query))
        query_pos = self.bev_pos[0, query_index]  # (B, P, 2)
        shared = dict(
            dense_heatmap=dense_heatmap,
            query_heatmap_score=peaks.gather(2, query_index[:, None].expand(-1, self.num_classes, -1)),
            query_labels=query_labels,
            query_index=query_index,
        )
        outputs = []
        for decoder, heads in zip(self.decoder, self.prediction_heads):
            query = decoder(query, flat, query_pos, self.bev_pos)
            output = heads(query)
            output["center"] = output["center"] + query_pos.transpose(1, 2)
            query_pos = output["center"].detach().transpose(1, 2)
            outputs.append({**output, **shared})
        return outputs

    def box_codes(self, output: dict[str, torch.Tensor]) -> torch.Tensor:
        """One layer's regression outputs as codes `(B, P, code_size)` in `TransFusionBBoxCoder` order."""
        return torch.cat([output[name] for name in self.code_heads], dim=1).transpose(1, 2)

    # ----------------------------------------------------------------- training
    def loss(self, bev: torch.Tensor, batch_data_samples: Sequence) -> dict[str, torch.Tensor]:
        """Losses of every supervised layer (`layer_{i}_loss_cls`, `..._loss_bbox`), `loss_heatmap`, `matched_ious`."""
        if self.targets is None:
            raise ValueError("TransFusionHead.loss: the head was built without train_cfg")
        outputs = self(bev)
        gt_boxes, gt_labels = self._ground_truth(batch_data_samples, len(bev))
        heatmap_target = torch.stack([self.targets.heatmap(b, k) for b, k in zip(gt_boxes, gt_labels)])
        prediction = dense_heatmap_probability(outputs[0]["dense_heatmap"])
        losses = {
            "loss_heatmap": self.loss_heatmap(
                prediction, heatmap_target, avg_factor=heatmap_target.eq(1).sum().clamp(min=1)
            )
        }
        supervised = outputs if self.auxiliary else outputs[-1:]
        for prefix, output in zip(_layer_prefixes(len(supervised)), supervised):
            codes = self.box_codes(output)
            layer = self.targets.layer(codes, output["heatmap"], gt_boxes, gt_labels)
            avg_factor = max(layer.num_positive, 1)
            losses[f"{prefix}_loss_cls"] = self.loss_cls(
                output["heatmap"].transpose(1, 2).flatten(0, 1),
                layer.labels.flatten(),
                layer.label_weights.flatten(),
                avg_factor=avg_factor,
            )
            losses[f"{prefix}_loss_bbox"] = self.loss_bbox(
                codes.flatten(0, 1),
                layer.box_targets.flatten(0, 1),
                layer.box_weights.flatten(0, 1),
                avg_factor=avg_factor,
            )
        losses["matched_ious"] = layer.matched_ious
        return losses

    def _ground_truth(self, batch_data_samples: Sequence, batch_size: int) -> tuple[list, list]:
        if len(batch_data_samples) != batch_size:
            raise ValueError(f"TransFusionHead: {len(batch_data_samples)} data samples for a batch of {batch_size}")
        boxes, labels = [], []
        for index, sample in enumerate(batch_data_samples):
            if "gt_instances_3d" not in sample:
                raise ValueError(f"TransFusionHead.loss: batch_data_samples[{index}] has no gt_instances_3d")
            instances = sample.gt_instances_3d
            sample_labels = instances.labels_3d.long()
            if ((sample_labels < 0) | (sample_labels >= self.num_classes)).any():
                raise ValueError(
                    f"TransFusionHead.loss: batch_data_samples[{index}].gt_instances_3d.labels_3d must lie in "
                    f"[0, {self.num_classes})"
                )
            boxes.append(instances.bboxes_3d.tensor.to(self.bev_pos))
            labels.append(sample_labels.to(self.bev_pos.device))
        return boxes, labels

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, bev: torch.Tensor, batch_data_samples: Sequence) -> list[InstanceData]:
        """Per sample: `bboxes_3d` (`LiDARBoxes`), `scores_3d` (float), `labels_3d` (int64) of the last layer."""
        if len(batch_data_samples) != len(bev):
            raise ValueError(f"TransFusionHead: {len(batch_data_samples)} data samples for a batch of {len(bev)}")
        output = self(bev)[-1]
        own_class = F.one_hot(output["query_labels"], self.num_classes).transpose(1, 2)
        class_scores = output["heatmap"].sigmoid() * output["query_heatmap_score"] * own_class
        scores, labels = class_scores.max(dim=1)
        boxes = self.bbox_coder.decode(self.box_codes(output))
        keep = self.bbox_coder.keep_mask(boxes, scores)
        results = []
        for sample_boxes, sample_scores, sample_labels, sample_keep in zip(boxes, scores, labels, keep):
            sample_boxes, sample_scores, sample_labels = (
                sample_boxes[sample_keep],
                sample_scores[sample_keep],
                sample_labels[sample_keep],
            )
            if self.nms_cfg is not None:
                kept = self._circle_nms(sample_boxes, sample_scores, sample_labels)
                sample_boxes, sample_scores, sample_labels = (
                    sample_boxes[kept],
                    sample_scores[kept],
                    sample_labels[kept],
                )
            results.append(
                InstanceData(
                    bboxes_3d=LiDARBoxes(sample_boxes.float()),
                    scores_3d=sample_scores.float(),
                    labels_3d=sample_labels.long(),
                )
            )
        return results

    def _circle_nms(self, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mask of boxes kept by per-class circle NMS; classes without a radius keep every box."""
        kept = torch.ones_like(labels, dtype=torch.bool)
        for label, radius in self.nms_cfg["radius"].items():
            members = (labels == label).nonzero().squeeze(1)
            if len(members) == 0:
                continue
            survivors = circle_nms(boxes[members], scores[members], radius, post_max_size=self.nms_cfg["post_max_size"])
            kept[members] = False
            kept[members[survivors]] = True
        return kept


def dense_heatmap_probability(logits: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Sigmoid clamped to `[eps, 1 - eps]`, so the heatmap focal loss never takes log(0) (the reference's)."""
    return logits.sigmoid().clamp(min=eps, max=1 - eps)
