"""Generate the synthetic nuScenes world.

    python tools/create_synthetic_nuscenes.py --out data/synthetic --scenes 10 --samples-per-scene 20 --seed 0

The output loads with `NuScenes(version='v1.0-mini', dataroot=OUT)`; see data/README.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bevfusion.datasets.synthetic import SyntheticConfig, generate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/synthetic"), help="dataroot to write")
    parser.add_argument("--scenes", type=int, default=10, help="number of scenes (the first 10 get mini names)")
    parser.add_argument("--samples-per-scene", type=int, default=20, help="key frames per scene (2 Hz)")
    parser.add_argument("--seed", type=int, default=0, help="seed; the same seed gives byte-identical files")
    parser.add_argument("--version", default="v1.0-mini", help="table folder name, v1.0-<name>")
    parser.add_argument("--workers", type=int, default=1, help="processes generating key frames in parallel")
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = SyntheticConfig(
            out=args.out,
            scenes=args.scenes,
            samples_per_scene=args.samples_per_scene,
            seed=args.seed,
            version=args.version,
            workers=args.workers,
        )
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    generate(config)
    elapsed = time.perf_counter() - start
    samples = args.scenes * args.samples_per_scene
    print(
        f"wrote {samples} samples to {args.out} in {elapsed:.1f} s ({elapsed / samples:.2f} s per sample, "
        f"{args.workers} worker(s))"
    )


if __name__ == "__main__":
    main()
