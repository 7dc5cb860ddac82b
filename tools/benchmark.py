"""Measure speed: `python tools/benchmark.py ops [--out results.json]`.

Every suite times our implementation next to its baselines in the same run and reports
ratios, so numbers from different machines are never compared directly.
"""

from __future__ import annotations

import argparse
import importlib
import json

from bevfusion.benchmarks.timing import machine_info
from bevfusion.fileio import atomic_write

# Suite name -> module exposing `add_arguments(parser)` and `run(args) -> list[dict]`.
SUITES = {
    "ops": "bevfusion.benchmarks.ops",
    "data": "bevfusion.benchmarks.bench_data",
    "model": "bevfusion.benchmarks.bench_model",
    "learn": "bevfusion.benchmarks.bench_learn",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    subparsers = parser.add_subparsers(dest="suite", required=True)
    modules = {}
    for name, module_name in SUITES.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        sub = subparsers.add_parser(name, help=module.__doc__.splitlines()[0])
        sub.add_argument("--out", default=f"benchmark_{name}.json", help="where the JSON results go")
        module.add_arguments(sub)
    args = parser.parse_args()
    rows = modules[args.suite].run(args)
    result = {"suite": args.suite, "machine": machine_info(), "results": rows}
    with atomic_write(args.out, "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
