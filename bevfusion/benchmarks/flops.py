"""FLOP counts of the sparse convolutions, which `torch.utils.flop_counter` cannot see (they are native ops)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import nn

from bevfusion.ops.sparse import SparseConv3d, SubMConv3d


@dataclass
class FlopTally:
    total: float = 0.0


@contextmanager
def sparse_conv_flops(model: nn.Module) -> Iterator[FlopTally]:
    """Counts `2 * pairs * C_in * C_out` of every native sparse conv that runs inside the block."""
    tally = FlopTally()

    def count(layer, inputs, output):
        pairs = output.indice_dict[layer.indice_key].pair_offsets[-1]
        tally.total += 2.0 * float(pairs) * layer.in_channels * layer.out_channels

    handles = [
        module.register_forward_hook(count)
        for module in model.modules()
        if isinstance(module, SubMConv3d | SparseConv3d)
    ]
    try:
        yield tally
    finally:
        for handle in handles:
            handle.remove()
