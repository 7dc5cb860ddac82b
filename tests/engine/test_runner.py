"""BEVFusionRunner: strict checkpoint loading, load_from_missing_ok, the mid-epoch resume guard, default hooks."""

import pytest
import torch
from toy_training import ToyModel, loader, toy_runner

from bevfusion.models.checkpoint import CheckpointMismatchError


def _backbone_and_head_checkpoint(path) -> dict:
    state = ToyModel().state_dict()
    torch.save({"state_dict": state}, path)
    return state


def test_load_from_may_miss_only_the_configured_prefixes(tmp_path):
    state = _backbone_and_head_checkpoint(tmp_path / "small.pth")
    runner = toy_runner(
        str(tmp_path / "work"),
        model=ToyModel(extra=True),
        load_from=str(tmp_path / "small.pth"),
        cfg=dict(load_from_missing_ok=["neck."]),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.0)),  # weights stay as loaded
    )
    runner.train()
    assert torch.equal(runner.model.backbone.weight, state["backbone.weight"])
    assert torch.equal(runner.model.head.bias, state["head.bias"])


def test_load_from_of_another_model_lists_what_does_not_fit(tmp_path):
    _backbone_and_head_checkpoint(tmp_path / "small.pth")
    runner = toy_runner(str(tmp_path / "work"), model=ToyModel(extra=True), load_from=str(tmp_path / "small.pth"))
    with pytest.raises(CheckpointMismatchError, match=r"small\.pth does not fit ToyModel.*2 keys missing.*neck\."):
        runner.train()


def test_unexpected_keys_stop_loading_even_with_allowed_missing_ones(tmp_path):
    torch.save({"state_dict": ToyModel(extra=True).state_dict()}, tmp_path / "big.pth")
    runner = toy_runner(
        str(tmp_path / "work"), load_from=str(tmp_path / "big.pth"), cfg=dict(load_from_missing_ok=["neck."])
    )
    with pytest.raises(CheckpointMismatchError, match="2 unexpected keys: neck.weight, neck.bias"):
        runner.train()


def test_testing_needs_every_key_whatever_load_from_missing_ok_says(tmp_path):
    _backbone_and_head_checkpoint(tmp_path / "small.pth")
    runner = toy_runner(
        str(tmp_path / "work"),
        model=ToyModel(extra=True),
        load_from=str(tmp_path / "small.pth"),
        cfg=dict(load_from_missing_ok=["neck."]),
        test_dataloader=loader(shuffle=False),
        test_cfg=dict(),
        test_evaluator=dict(type="DumpResults", out_file_path=str(tmp_path / "out.pkl")),
    )
    with pytest.raises(CheckpointMismatchError, match="keys missing from the checkpoint: neck.weight"):
        runner.test()


def test_an_epoch_based_run_does_not_resume_from_inside_an_epoch(tmp_path):
    hook = dict(type="AtomicCheckpointHook", by_epoch=False, interval=3, max_keep_ckpts=2)
    toy_runner(str(tmp_path), default_hooks=dict(checkpoint=hook)).train()  # 8 iterations: keeps iter_6, iter_8
    resumed = toy_runner(str(tmp_path), resume=True, load_from=str(tmp_path / "iter_6.pth"))
    with pytest.raises(ValueError, match=r"iter_6\.pth: saved at iteration 6, inside epoch 2 of 4 iterations"):
        resumed.train()


def test_a_default_hook_set_to_none_is_left_out(tmp_path):
    names = {type(hook).__name__ for hook in toy_runner(str(tmp_path)).hooks}
    assert {"IterationSeedHook", "AverageOverRanksHook"} <= names
    runner = toy_runner(
        str(tmp_path / "none"),
        default_hooks=dict(checkpoint=dict(type="AtomicCheckpointHook"), iteration_seed=None, timer=None),
    )
    left = {type(hook).__name__ for hook in runner.hooks}
    assert "IterationSeedHook" not in left and "IterTimerHook" not in left and "AverageOverRanksHook" in left
