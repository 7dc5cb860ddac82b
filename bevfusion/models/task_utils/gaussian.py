"""Gaussian heatmap targets (CenterNet style): the radius from a box's BEV size, and max-drawing a peak.

Heatmaps are `(nx, ny)` per class, x first, as every BEV map in the project; a peak is drawn at cell `(i, j)`.
"""

from __future__ import annotations

import torch


def gaussian_radius(length: torch.Tensor, width: torch.Tensor, min_overlap: float) -> torch.Tensor:
    """Peak radius (in cells) for boxes of BEV size `length x width` cells, elementwise.

    The smallest of CenterNet's three corner-shift cases for which a box shifted by the radius still has
    IoU >= `min_overlap` with the original. The roots are halved instead of divided by `2a`, exactly as
    the CenterNet code that mmdetection3d and BEVFusion use, so radii (and trained models) match theirs.
    """
    if not 0.0 < min_overlap < 1.0:
        raise ValueError(f"gaussian_radius: min_overlap must lie in (0, 1), got {min_overlap}")
    total, area = length + width, length * width
    c1 = area * (1 - min_overlap) / (1 + min_overlap)
    r1 = (total + torch.sqrt(total**2 - 4 * c1)) / 2
    c2 = (1 - min_overlap) * area
    r2 = (2 * total + torch.sqrt((2 * total) ** 2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * total, (min_overlap - 1) * area
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def gaussian_kernel(radius: int, device: torch.device | str | None = None) -> torch.Tensor:
    """`(2r+1, 2r+1)` Gaussian with peak 1 and sigma `(2r+1)/6`; negligible tails are zeroed as in CenterNet."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    sigma = (2 * radius + 1) / 6
    kernel = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    kernel[kernel < torch.finfo(kernel.dtype).eps * kernel.max()] = 0
    return kernel


def draw_gaussian(heatmap: torch.Tensor, i: int, j: int, radius: int) -> torch.Tensor:
    """Max-combine a Gaussian of `radius` centred on cell `(i, j)` into the 2D `heatmap` in place; returns it.

    The part of the Gaussian outside the map is cut off; a centre outside the map draws nothing.
    """
    nx, ny = heatmap.shape
    if not (0 <= i < nx and 0 <= j < ny):
        return heatmap
    kernel = gaussian_kernel(radius, heatmap.device).to(heatmap.dtype)
    x0, x1 = max(i - radius, 0), min(i + radius + 1, nx)
    y0, y1 = max(j - radius, 0), min(j + radius + 1, ny)
    window = heatmap[x0:x1, y0:y1]
    patch = kernel[x0 - i + radius : x1 - i + radius, y0 - j + radius : y1 - j + radius]
    torch.maximum(window, patch, out=window)
    return heatmap
