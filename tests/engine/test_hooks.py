"""Training hooks on real runs: GT sampling switched off (also in persistent workers), per-iteration seeding."""

import pytest
import torch
from mmengine.model import BaseModel
from toy_training import ToyModel, loader, toy_runner

from bevfusion.datasets import NuScenesDataset
from bevfusion.datasets.converters.gt_database import create_gt_database
from bevfusion.datasets.converters.nuscenes_infos import CLASSES, create_nuscenes_infos
from bevfusion.datasets.transforms import LoadPointsFromFile, ObjectSample
from bevfusion.datasets.transforms.formatting import Pack3DDetInputs


class BoxCounter(BaseModel):
    """Records how many ground-truth boxes each training sample arrives with; its loss trains one scale."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: list[list[int]] = []

    def forward(self, inputs, data_samples=None, mode: str = "tensor"):
        self.seen.append([len(sample.gt_instances_3d.labels_3d) for sample in data_samples])
        return {"loss": self.scale * torch.stack([points[:, 3].mean() for points in inputs["points"]]).mean()}


@pytest.fixture(scope="module")
def pasting_dataset(synthetic_nuscenes, tmp_path_factory) -> NuScenesDataset:
    """The synthetic val samples with GT sampling from a database of their own objects (30 wanted per class)."""
    out = str(tmp_path_factory.mktemp("object_sample_hook"))
    root = str(synthetic_nuscenes)
    val_info = create_nuscenes_infos(root, "v1.0-mini", out)["val"]
    database = create_gt_database(root, val_info, out, sweeps_num=0)
    sampler = ObjectSample(database, root, list(CLASSES), sample_groups={name: 30 for name in CLASSES}, seed=0)
    pipeline = [LoadPointsFromFile(), sampler, Pack3DDetInputs()]
    return NuScenesDataset(val_info, data_root=root, pipeline=pipeline, test_mode=False)


@pytest.mark.slow
def test_gt_sampling_stops_after_the_epoch_also_in_persistent_workers(pasting_dataset, tmp_path):
    model = BoxCounter()
    runner = toy_runner(
        str(tmp_path),
        model=model,
        train_dataloader=dict(
            dataset=pasting_dataset,
            sampler=dict(type="DefaultSampler", shuffle=False),
            batch_size=2,
            num_workers=1,
            persistent_workers=True,
        ),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        custom_hooks=[dict(type="DisableObjectSampleHook", disable_after_epoch=1)],
    )
    runner.train()
    own = [len(pasting_dataset.get_data_info(index)["gt_labels_3d"]) for index in range(len(pasting_dataset))]
    per_epoch = len(own) // 2
    epochs = [sum(model.seen[epoch * per_epoch : (epoch + 1) * per_epoch], []) for epoch in range(3)]
    assert all(count > base for count, base in zip(epochs[0], own))  # objects pasted in epoch 1
    assert epochs[1] == own and epochs[2] == own  # none afterwards, though the worker process lived on
    trained_on = runner.train_loop.dataloader.dataset  # the runner's copy of the dataset
    assert not any(isinstance(step, ObjectSample) for step in trained_on.pipeline.transforms)


def test_the_gt_sampling_switch_needs_an_epoch_based_loop(tmp_path):
    runner = toy_runner(
        str(tmp_path),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=2),
        custom_hooks=[dict(type="DisableObjectSampleHook", disable_after_epoch=1)],
    )
    with pytest.raises(ValueError, match="DisableObjectSampleHook counts epochs, but the training loop is a Iter"):
        runner.train()


@pytest.mark.parametrize("seeded", [True, False], ids=["iteration-seed", "no-seed-hook"])
def test_a_resumed_run_draws_the_dropout_of_the_uninterrupted_one(tmp_path, seeded):
    """Resumed at iteration 6 of 8 (mmengine replays the data loader up to there), with dropout 0.5."""

    def run(work_dir, **overrides):
        hooks = dict(checkpoint=dict(type="AtomicCheckpointHook", by_epoch=False, interval=3, max_keep_ckpts=2))
        if not seeded:
            hooks["iteration_seed"] = None
        runner = toy_runner(
            str(work_dir),
            model=ToyModel(dropout=0.5),
            train_dataloader=loader(batch_size=2, size=16),  # one epoch: no reload pause in mmengine's loop
            train_cfg=dict(type="IterBasedTrainLoop", max_iters=8),
            default_hooks=hooks,
            **overrides,
        )
        runner.train()
        return runner.model.state_dict()

    whole = run(tmp_path / "whole")
    resumed = run(tmp_path / "resumed", resume=True, load_from=str(tmp_path / "whole" / "iter_6.pth"))
    same = all(torch.equal(whole[key], resumed[key]) for key in whole)
    assert same is seeded
