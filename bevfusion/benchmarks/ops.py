"""Native ops next to their baselines, at the paper's fusion-config workload sizes.

Each op family contributes a module `bevfusion.benchmarks.bench_<family>` with
`run(args) -> list[dict]`; rows carry `op`, `variant`, `seconds` and any ratios.
"""

from __future__ import annotations

import argparse
import importlib

# Op families, benchmarked in this order.
OP_SUITES = ("bench_bev_pool", "bench_voxelize", "bench_sparse", "bench_box3d")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=[name.removeprefix("bench_") for name in OP_SUITES], nargs="*")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    for name in OP_SUITES:
        short = name.removeprefix("bench_")
        if args.only and short not in args.only:
            continue
        try:
            module = importlib.import_module(f"bevfusion.benchmarks.{name}")
        except ModuleNotFoundError:
            print(f"[skip] {short}: no benchmark yet")
            continue
        suite_rows = module.run(args)
        print_table(short, suite_rows)
        rows.extend(suite_rows)
    return rows


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n== {title}")
    for row in rows:
        extras = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in row.items()
            if k not in ("op", "variant", "seconds")
        )
        print(f"  {row['op']:<24} {row['variant']:<28} {row['seconds'] * 1e3:10.2f} ms  {extras}")
