"""Speed measurements behind `tools/benchmark.py`: each suite times ops next to baselines in one run."""
