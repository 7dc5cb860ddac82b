"""The native engine equals spconv 2.3.8's CPU forward (single-threaded oracle) with identical weights."""

import pytest
import torch
from sparse_helpers import LAYER_CHAIN, random_tensor
from spconv_oracle import run_spconv

from bevfusion.models.lidar.sparse_encoder import SparseEncoder
from bevfusion.ops.sparse import SparseConvTensor, make_sparse_layer

pytest.importorskip("spconv.pytorch")


def _by_site(indices: torch.Tensor, features: torch.Tensor, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows sorted by (batch, z, y, x), so outputs in any order compare."""
    key = indices.long()
    key = ((key[:, 0] * shape[0] + key[:, 1]) * shape[1] + key[:, 2]) * shape[2] + key[:, 3]
    order = key.argsort()
    return indices[order], features[order]


def test_subm_strided_and_inverse_convs_equal_spconv():
    generator = torch.Generator().manual_seed(0)
    x = random_tensor(generator, 3000, (21, 64, 64), channels=4, dtype=torch.float32)
    layers = [make_sparse_layer(kind, bias=True, **kwargs) for kind, kwargs in LAYER_CHAIN]
    case = {
        "layers": [(kind, kwargs, layer.state_dict()) for (kind, kwargs), layer in zip(LAYER_CHAIN, layers)],
        "features": x.features,
        "indices": x.indices,
        "shape": x.spatial_shape,
        "batch_size": x.batch_size,
    }
    expected = run_spconv(case)
    y = x
    with torch.no_grad():
        for (kind, _), layer, (spconv_indices, spconv_features) in zip(LAYER_CHAIN, layers, expected):
            y = layer(y)
            assert isinstance(y, SparseConvTensor)
            ours = _by_site(y.indices, y.features, y.spatial_shape)
            theirs = _by_site(spconv_indices, spconv_features, y.spatial_shape)
            assert torch.equal(ours[0], theirs[0]), kind
            torch.testing.assert_close(ours[1], theirs[1], rtol=1e-4, atol=1e-4)


def test_encoder_on_spconv_backend_gives_the_same_bev_from_the_same_weights(tiny_encoder_config):
    generator = torch.Generator().manual_seed(1)
    x = random_tensor(generator, 2000, (41, 32, 40), channels=4, dtype=torch.float32)
    features, coords = x.features, x.indices
    encoder = SparseEncoder(**tiny_encoder_config)
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    case = {"encoder": tiny_encoder_config, "state_dict": encoder.state_dict(), "features": features, "indices": coords}
    expected = run_spconv(dict(case, batch_size=2))
    with torch.no_grad():
        ours = encoder.eval()(features, coords, batch_size=2)
    # The toy encoder shrinks activations (max |BEV| ~1e-3 here), so the tolerance follows their scale.
    scale = expected.abs().max()
    assert scale > 0 and (expected != 0).float().mean() > 0.2
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5 * scale.item())
