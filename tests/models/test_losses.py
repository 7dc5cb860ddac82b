"""Detection losses against hand-computed values, their reductions and their errors."""

import math

import pytest
import torch

from bevfusion.models.losses import FocalLoss, GaussianFocalLoss, L1Loss
from bevfusion.registry import MODELS, register_all_modules


def _bce(p: float, target: int) -> float:
    return -math.log(p) if target else -math.log(1 - p)


def test_focal_loss_matches_hand_computed_terms():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    labels = torch.tensor([1, 2])  # sample 0 is class 1; sample 1 is background (label = num_classes)
    p = [[0.5, 1 / (1 + math.exp(-2.0))], [1 / (1 + math.exp(1.0)), 1 / (1 + math.exp(-0.5))]]
    targets = [[0, 1], [0, 0]]
    expected = 0.0
    for row_p, row_t in zip(p, targets):
        for prob, target in zip(row_p, row_t):
            miss = 1 - prob if target else prob
            balance = 0.25 if target else 0.75
            expected += balance * miss**2 * _bce(prob, target)
    loss = FocalLoss(gamma=2.0, alpha=0.25, reduction="mean")(logits, labels, avg_factor=1.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # The first element by itself: 0.75 * 0.5**2 * log(2).
    single = FocalLoss(reduction="none")(logits[:1], labels[:1])[0, 0]
    assert single.item() == pytest.approx(0.75 * 0.25 * math.log(2), rel=1e-6)


def test_focal_loss_weights_samples_and_divides_by_avg_factor():
    logits = torch.tensor([[1.0, -1.0, 0.3], [0.2, 0.4, -2.0]])
    labels = torch.tensor([0, 3])
    loss = FocalLoss(reduction="none")
    per_element = loss(logits, labels)
    weighted = FocalLoss(loss_weight=2.0)(logits, labels, torch.tensor([1.0, 0.0]), avg_factor=4.0)
    assert weighted.item() == pytest.approx(2.0 * per_element[0].sum().item() / 4.0, rel=1e-6)
    with pytest.raises(ValueError, match=r"labels must be \(2,\) in \[0, 3\]"):
        loss(logits, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="sigmoid"):
        FocalLoss(use_sigmoid=False)


def test_gaussian_focal_loss_matches_hand_computed_terms():
    pred = torch.tensor([0.9, 0.2, 0.3])
    target = torch.tensor([1.0, 0.5, 0.0])
    positive = -math.log(0.9) * 0.1**2
    near_peak = -math.log(0.8) * 0.2**2 * 0.5**4
    background = -math.log(0.7) * 0.3**2
    loss = GaussianFocalLoss(reduction="mean")(pred, target, avg_factor=2.0)
    assert loss.item() == pytest.approx((positive + near_peak + background) / 2.0, rel=1e-5)
    assert GaussianFocalLoss(reduction="sum")(pred, target).item() == pytest.approx(
        positive + near_peak + background, rel=1e-5
    )


def test_l1_loss_weights_and_reductions():
    pred, target = torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.tensor([[0.5, 2.5], [1.0, 1.0]])
    weight = torch.tensor([[1.0, 0.2], [0.0, 0.0]])
    assert L1Loss(loss_weight=0.25)(pred, target, weight, avg_factor=1).item() == pytest.approx(0.25 * 0.6)
    assert L1Loss(reduction="mean")(pred, target).item() == pytest.approx((0.5 + 0.5 + 1 + 2) / 4)
    assert L1Loss(reduction="none")(pred, target).shape == (2, 2)
    with pytest.raises(ValueError, match="avg_factor"):
        L1Loss(reduction="sum")(pred, target, avg_factor=2)
    with pytest.raises(ValueError, match="differ"):
        L1Loss()(pred, target[:1])
    with pytest.raises(ValueError, match="reduction must be one of"):
        L1Loss(reduction="average")


def test_losses_build_from_config_and_keep_gradients():
    register_all_modules()
    loss = MODELS.build(dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0))
    logits = torch.randn(5, 3, requires_grad=True)
    loss(logits, torch.tensor([0, 1, 2, 3, 3])).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert isinstance(MODELS.build(dict(type="GaussianFocalLoss")), GaussianFocalLoss)
    assert isinstance(MODELS.build(dict(type="L1Loss", loss_weight=0.25)), L1Loss)
