"""Where the random transforms draw from.

With a `seed`, a transform owns a seeded generator (tests, reproducible single-process runs).
Without one it draws from numpy's global generator in the process it runs in. mmengine seeds
that generator from `randomness.seed` in the main process and per DataLoader worker, so a
configured seed makes training reproducible and forked workers do not repeat each other's
draws (a generator made at construction would be copied into every worker).
"""

from __future__ import annotations

import numpy as np


class GlobalNumpyRandom:
    """The draws the transforms use, from `numpy.random`'s global state at call time."""

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.random.uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return np.random.normal(loc, scale, size)

    def permutation(self, x):
        return np.random.permutation(x)

    def choice(self, a, size=None, replace=True):
        return np.random.choice(a, size, replace)


def transform_rng(seed: int | None) -> np.random.Generator | GlobalNumpyRandom:
    """A seeded generator, or the process's global numpy generator when `seed` is None."""
    return np.random.default_rng(seed) if seed is not None else GlobalNumpyRandom()
