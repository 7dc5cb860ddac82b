"""Shared pytest setup.

`cuda` tests are skipped only where no GPU is visible. On a GPU machine they run, and a
library built without its CUDA kernels fails them loudly instead of skipping silently.
"""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device visible")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
