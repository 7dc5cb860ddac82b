"""Timing helpers shared by every benchmark suite: medians over repeats, machine notes, JSON rows."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


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


def _read_text(path: str) -> str:
    """A /proc or /sys file's text, empty where it does not exist (non-Linux)."""
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""


def _cpu_model() -> str:
    lines = _read_text("/proc/cpuinfo").splitlines()
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or platform.machine()


def _transparent_hugepage_mode() -> str | None:
    """The selected word of `always [madvise] never`."""
    words = _read_text("/sys/kernel/mm/transparent_hugepage/enabled").split()
    return next((word.strip("[]") for word in words if word.startswith("[")), None)


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on.

    Transparent huge pages are noted because they change the cost of first-touching large
    fresh outputs (bev_pool advises them for its output).
    """
    info = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "transparent_hugepage": _transparent_hugepage_mode(),
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


def peak_allocated_bytes(fn, device: str) -> int:
    """Peak bytes held by tensors allocated during `fn()` (output included), from PyTorch's allocator.

    CUDA: the caching allocator's peak statistic. CPU: the profiler's allocation/free events,
    accumulated in time order (allocations made outside PyTorch's allocator are not seen).
    """
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns()
    )
    held = peak = 0
    for event in events:
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def memory_bandwidth_gbs(megabytes: int = 256, repeats: int = 5, device: str = "cpu") -> float:
    """The machine's measured copy bandwidth (bytes read + written per second), the floor of memory-bound work."""
    source = torch.empty(megabytes * 2**20 // 4, device=device).fill_(1.0)
    target = torch.empty_like(source)
    seconds = median_seconds(lambda: target.copy_(source), repeats=repeats, device=device)
    return 2 * source.numel() * source.element_size() / seconds / 1e9
