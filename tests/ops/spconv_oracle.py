"""Run spconv's CPU forward as an oracle, single-threaded, in a child process.

spconv 2.3.8's CPU kernels give wrong sums when OpenMP runs more than one thread, and the
thread count cannot change after OpenMP starts, so the oracle runs in a fresh process with
OMP_NUM_THREADS=1. `run_spconv(case)` sends a case dict and returns the child's results:

- `{"layers": [(kind, kwargs, state_dict), ...], "features", "indices", "shape", "batch_size"}`
  applies the layers in turn and returns `[(indices, features)]` after each;
- `{"encoder": cfg, "state_dict", "features", "indices", "batch_size"}` runs
  `SparseEncoder(backend='spconv', **cfg)` in eval mode and returns its BEV map.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import torch


def run_spconv(case: dict):
    with tempfile.TemporaryDirectory() as directory:
        source, result = os.path.join(directory, "case.pt"), os.path.join(directory, "result.pt")
        torch.save(case, source)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        subprocess.run([sys.executable, __file__, source, result], check=True, env=env, timeout=300)
        return torch.load(result)


def _run_layers(case: dict):
    import spconv.pytorch as spconv

    x = spconv.SparseConvTensor(case["features"], case["indices"], list(case["shape"]), case["batch_size"])
    outputs = []
    for kind, kwargs, state in case["layers"]:
        layer = getattr(spconv, kind)(**kwargs)
        layer.load_state_dict(state)
        x = layer(x)
        outputs.append((x.indices, x.features))
    return outputs


def _run_encoder(case: dict):
    from bevfusion.models.lidar.sparse_encoder import SparseEncoder

    encoder = SparseEncoder(backend="spconv", **case["encoder"])
    encoder.load_state_dict(case["state_dict"])
    return encoder.eval()(case["features"], case["indices"], case["batch_size"])


if __name__ == "__main__":
    loaded = torch.load(sys.argv[1])
    with torch.no_grad():
        answer = _run_encoder(loaded) if "encoder" in loaded else _run_layers(loaded)
    torch.save(answer, sys.argv[2])
