"""Detection losses (registered in MODELS): sigmoid focal, Gaussian focal and L1.

Each loss takes an optional elementwise `weight` and reduces as mmdetection does: 'none', 'sum', or 'mean';
a 'mean' with `avg_factor` is the weighted sum divided by `avg_factor` (how heads normalise by the number of
positives). `loss_weight` scales the result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bevfusion.registry import MODELS

REDUCTIONS = ("none", "mean", "sum")


def weighted_reduce(
    loss: torch.Tensor, weight: torch.Tensor | None, reduction: str, avg_factor: float | torch.Tensor | None
) -> torch.Tensor:
    """Weight elementwise, then reduce; `avg_factor` replaces the element count of a 'mean'."""
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if avg_factor is None:
        return loss.sum() if reduction == "sum" else loss.mean()
    if reduction == "sum":
        raise ValueError("avg_factor only applies to reduction='mean' (or 'none'), not 'sum'")
    return loss.sum() / avg_factor


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha: float) -> torch.Tensor:
    """Elementwise focal loss (Lin et al.) of logits against {0, 1} targets of the same shape."""
    prob = logits.sigmoid()
    miss = prob * (1 - targets) + (1 - prob) * targets  # 1 - p_t
    balance = alpha * targets + (1 - alpha) * (1 - targets)
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * balance * miss.pow(gamma)


def gaussian_focal_loss(
    pred: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float, eps: float = 1e-12
) -> torch.Tensor:
    """Elementwise CenterNet focal loss of probabilities `pred` against a Gaussian heatmap `target`.

    Cells where the target is exactly 1 are positives; the others are negatives down-weighted by
    `(1 - target) ** gamma`, so cells near a peak cost little.
    """
    positive = target.eq(1).to(pred.dtype)
    pos_loss = -(pred + eps).log() * (1 - pred).pow(alpha) * positive
    neg_loss = -(1 - pred + eps).log() * pred.pow(alpha) * (1 - target).pow(gamma)
    return pos_loss + neg_loss


class _WeightedLoss(nn.Module):
    def __init__(self, reduction: str, loss_weight: float) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction, self.loss_weight = reduction, loss_weight


@MODELS.register_module()
class FocalLoss(_WeightedLoss):
    """Sigmoid focal loss over class logits `(N, K)` with labels `(N,)` in `[0, K]`, `K` meaning background.

    `weight` is per sample `(N,)` (or per element `(N, K)`).
    """

    def __init__(
        self,
        use_sigmoid: bool = True,
        gamma: float = 2.0,
        alpha: float = 0.25,
        reduction: str = "mean",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(reduction, loss_weight)
        if not use_sigmoid:
            raise ValueError("FocalLoss: only the sigmoid form is implemented (use_sigmoid=True)")
        self.gamma, self.alpha = gamma, alpha

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        num_classes = logits.shape[1]
        if labels.shape != logits.shape[:1] or ((labels < 0) | (labels > num_classes)).any():
            raise ValueError(f"FocalLoss: labels must be ({len(logits)},) in [0, {num_classes}] ({num_classes} = bg)")
        targets = F.one_hot(labels, num_classes + 1)[:, :num_classes].to(logits.dtype)
        if weight is not None and weight.dim() == 1:
            weight = weight[:, None]
        loss = sigmoid_focal_loss(logits, targets, self.gamma, self.alpha)
        return self.loss_weight * weighted_reduce(loss, weight, self.reduction, avg_factor)


@MODELS.register_module()
class GaussianFocalLoss(_WeightedLoss):
    """CenterNet's focal loss of predicted probabilities against Gaussian heatmap targets (same shape)."""

    def __init__(
        self, alpha: float = 2.0, gamma: float = 4.0, reduction: str = "mean", loss_weight: float = 1.0
    ) -> None:
        super().__init__(reduction, loss_weight)
        self.alpha, self.gamma = alpha, gamma

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"GaussianFocalLoss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        loss = gaussian_focal_loss(pred, target, self.alpha, self.gamma)
        return self.loss_weight * weighted_reduce(loss, weight, self.reduction, avg_factor)


@MODELS.register_module()
class L1Loss(_WeightedLoss):
    """Elementwise `|pred - target|`."""

    def __init__(self, reduction: str = "mean", loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
        avg_factor: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"L1Loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        loss = (pred - target).abs()
        return self.loss_weight * weighted_reduce(loss, weight, self.reduction, avg_factor)
