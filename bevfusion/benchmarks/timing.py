"""Timing helpers shared by every benchmark suite: medians over repeats, machine notes, JSON rows."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(
    fn: Callable[[], Any],
    repeats: int = 5,
    warmup: int = 1,
    device: str = "cpu",
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of `fn()` over `repeats` runs after `warmup` untimed runs.

    `clock` is wall time by default; `time.process_time` gives the CPU time of all the
    process's threads, which a busy shared machine disturbs less.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        synchronize(device)
        times.append(clock() - start)
    return statistics.median(times)


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def matmul_gflops(size: int = 1024, repeats: int = 5, device: str = "cpu") -> float:
    """The machine's measured float32 `torch.mm` throughput: the ceiling kernels are compared to."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = median_seconds(lambda: torch.mm(a, b), repeats=repeats, device=device)
    return 2 * size**3 / seconds / 1e9
