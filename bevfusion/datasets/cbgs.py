"""Class-balanced grouping and sampling (CBGS, Zhu et al. 2019) as a dataset wrapper.

Every class gets about the same number of sample draws: for each class, the samples that
contain it are drawn (with replacement) `len(samples) * (1/K) / share` times, where
`share` is that class's fraction of all (class, sample) pairs and K the number of classes.
Rare classes are thereby repeated and frequent ones thinned, as in BEVFusion's training.
Every class present keeps at least one draw: on a set with fewer (class, sample) pairs than
classes (e.g. 1 sample, 8 classes) the formula rounds every count down to 0.
"""

from __future__ import annotations

import numpy as np
from mmengine.dataset import BaseDataset

from bevfusion.registry import DATASETS


@DATASETS.register_module()
class CBGSDataset:
    """Wraps a dataset with `get_cat_ids(idx)` and resamples its indices once, at init."""

    def __init__(self, dataset: BaseDataset | dict, seed: int = 0, lazy_init: bool = False) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.seed = seed
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self.sample_indices = self._balanced_indices()
        self._fully_initialized = True

    def _balanced_indices(self) -> np.ndarray:
        if len(self.dataset) == 0:
            raise ValueError(
                f"CBGSDataset: the wrapped dataset ({getattr(self.dataset, 'ann_file', type(self.dataset).__name__)}) "
                "has no sample to draw from (in training, samples without any box of the configured classes are "
                "dropped)"
            )
        num_classes = len(self.metainfo["classes"])
        per_class: list[list[int]] = [[] for _ in range(num_classes)]
        for idx in range(len(self.dataset)):
            for label in self.dataset.get_cat_ids(idx):
                per_class[label].append(idx)
        total = sum(len(indices) for indices in per_class)
        if total == 0:
            return np.arange(len(self.dataset))
        rng = np.random.default_rng(self.seed)
        chosen = []
        for indices in per_class:
            if indices:
                share = len(indices) / total
                chosen.append(rng.choice(indices, max(1, int(len(indices) / num_classes / share))))
        return np.concatenate(chosen)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(int(self.sample_indices[idx]))

    def __getitem__(self, idx: int) -> dict:
        return self.dataset[int(self.sample_indices[idx])]

    def __len__(self) -> int:
        return len(self.sample_indices)
