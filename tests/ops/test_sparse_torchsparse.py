"""The torchsparse backend: a clear error without torchsparse, and native's results with it (CUDA only)."""

import sys

import pytest
import torch
from sparse_helpers import LAYER_CHAIN, random_tensor

from bevfusion.models.lidar.sparse_encoder import SparseEncoder
from bevfusion.ops import sparse
from bevfusion.ops.sparse import get_backend, make_sparse_layer, torchsparse_adapter
from bevfusion.ops.sparse.torchsparse_adapter import TorchsparseConvTensor, torchsparse_weight


def test_without_torchsparse_the_backend_raises_import_error_with_advice(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchsparse", None)
    advice = r"torchsparse >= 2\.1.*pip install git\+https://github\.com/mit-han-lab/torchsparse.*backend='native'"
    with pytest.raises(ImportError, match=advice):
        get_backend("torchsparse")
    with pytest.raises(ImportError, match=advice):
        make_sparse_layer("SubMConv3d", 4, 8, 3, backend="torchsparse")
    with pytest.raises(ImportError, match=advice):
        SparseEncoder(backend="torchsparse")


def test_adapter_refuses_convs_torchsparse_cannot_express():
    with pytest.raises(NotImplementedError, match="stride-1 conv as submanifold"):
        torchsparse_adapter.SparseConv3d(4, 8, 3, stride=1, padding=1)
    with pytest.raises(NotImplementedError, match="dilation"):
        torchsparse_adapter.SparseConv3d(4, 8, 3, stride=2, dilation=2)
    with pytest.raises(NotImplementedError, match="dilation"):
        torchsparse_adapter.SubMConv3d(4, 8, 3, dilation=(1, 2, 1))
    with pytest.raises(ValueError, match="odd"):
        torchsparse_adapter.SubMConv3d(4, 8, (3, 2, 3))


@pytest.mark.parametrize("kind", ["SubMConv3d", "SparseConv3d", "SparseInverseConv3d"])
def test_adapter_layers_load_native_state_dicts_unchanged(kind):
    kwargs = dict(indice_key="k") if kind == "SparseInverseConv3d" else dict(stride=(2, 1, 2), indice_key="k")
    native = getattr(sparse, kind)(4, 8, (3, 1, 5), **kwargs)
    adapted = getattr(torchsparse_adapter, kind)(4, 8, (3, 1, 5), **kwargs)
    adapted.load_state_dict(native.state_dict())
    assert adapted.weight.shape == (8, 3, 1, 5, 4)
    assert torch.equal(adapted.weight, native.weight) and torch.equal(adapted.bias, native.bias)


@pytest.mark.parametrize("kernel", [(3, 1, 5), (3, 3, 3), (2, 2, 2), (2, 1, 3)])
def test_weight_follows_torchsparse_offset_order(kernel):
    """Odd kernels: torchsparse's slot a0 + k0*(a1 + k1*a2) (first axis fastest); others: spconv's order."""
    weight = torch.randn(6, *kernel, 5, generator=torch.Generator().manual_seed(0))
    converted = torchsparse_weight(weight, flat_1x1=False)
    k0, k1, k2 = kernel
    odd = all(size % 2 for size in kernel)
    assert converted.shape == (k0 * k1 * k2, 5, 6)
    for a0 in range(k0):
        for a1 in range(k1):
            for a2 in range(k2):
                slot = a0 + k0 * (a1 + k1 * a2) if odd else (a0 * k1 + a1) * k2 + a2
                assert torch.equal(converted[slot], weight[:, a0, a1, a2, :].T)
    assert torch.equal(torchsparse_weight(weight[:, :1, :1, :1], flat_1x1=True), weight[:, 0, 0, 0, :].T)


@pytest.fixture
def torchsparse_backend(monkeypatch):
    """The torchsparse backend with exact float32 GEMMs (no TF32), or a skip saying why it is unavailable."""
    try:
        backend = get_backend("torchsparse")
    except ImportError as error:
        pytest.skip(str(error))
    monkeypatch.setattr(sys.modules["torchsparse.backends"], "allow_tf32", False)
    return backend


def _assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, tolerance: float, name: str = "") -> None:
    """Equal within `tolerance` of the expected range (deep sparse stacks shrink values by orders of magnitude)."""
    scale = expected.abs().max()
    assert scale > 0, name
    torch.testing.assert_close(actual.cpu() / scale, expected / scale, rtol=0, atol=tolerance, msg=name)


def _occupancy_and_dense(tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which sites are active and the dense features, on the CPU: comparable whatever the row order."""
    ones = tensor.replace_feature(tensor.features.new_ones(tensor.features.shape[0], 1))
    return ones.dense().cpu().bool(), tensor.dense().cpu()


@pytest.mark.cuda
def test_each_layer_kind_equals_native_for_the_same_weights(torchsparse_backend):
    generator = torch.Generator().manual_seed(0)
    x = random_tensor(generator, 3000, (21, 64, 64), channels=4, dtype=torch.float32)
    native_layers = [make_sparse_layer(kind, bias=True, **kwargs) for kind, kwargs in LAYER_CHAIN]
    ts_layers = [make_sparse_layer(kind, bias=True, backend="torchsparse", **kwargs) for kind, kwargs in LAYER_CHAIN]
    for native, adapted in zip(native_layers, ts_layers):
        adapted.load_state_dict(native.state_dict())
        adapted.cuda()
    ours = x
    theirs = torchsparse_backend.tensor(x.features.cuda(), x.indices.cuda(), x.spatial_shape, x.batch_size)
    with torch.no_grad():
        for (kind, _), native, adapted in zip(LAYER_CHAIN, native_layers, ts_layers):
            ours, theirs = native(ours), adapted(theirs)
            assert isinstance(theirs, TorchsparseConvTensor)
            assert theirs.spatial_shape == ours.spatial_shape, kind
            ours_sites, ours_dense = _occupancy_and_dense(ours)
            theirs_sites, theirs_dense = _occupancy_and_dense(theirs)
            assert torch.equal(theirs_sites, ours_sites), kind
            _assert_close_to_scale(theirs_dense, ours_dense, 1e-5, kind)


@pytest.mark.cuda
def test_encoder_on_torchsparse_gives_native_bev_and_gradients(torchsparse_backend, tiny_encoder_config):
    generator = torch.Generator().manual_seed(1)
    x = random_tensor(generator, 2000, (41, 32, 40), channels=4, dtype=torch.float32)
    native = SparseEncoder(**tiny_encoder_config)
    adapted = SparseEncoder(backend="torchsparse", **tiny_encoder_config)
    adapted.load_state_dict(native.state_dict())
    adapted.cuda()
    with torch.no_grad():
        expected = native.eval()(x.features, x.indices, batch_size=2)
        bev = adapted.eval()(x.features.cuda(), x.indices.cuda(), batch_size=2)
    _assert_close_to_scale(bev, expected, 1e-5)

    native.train()(x.features, x.indices, batch_size=2).square().sum().backward()
    adapted.train()(x.features.cuda(), x.indices.cuda(), batch_size=2).square().sum().backward()
    for (name, ours), theirs in zip(native.named_parameters(), adapted.parameters()):
        _assert_close_to_scale(theirs.grad, ours.grad, 1e-4, name)


@pytest.mark.cuda
def test_torchsparse_layers_refuse_cpu_tensors_and_native_tensors(torchsparse_backend):
    x = random_tensor(torch.Generator().manual_seed(2), 50, (8, 8, 8), channels=4, dtype=torch.float32)
    layer = make_sparse_layer("SubMConv3d", 4, 4, 3, backend="torchsparse")
    with pytest.raises(ValueError, match="CUDA tensors only"):
        layer(torchsparse_backend.tensor(x.features, x.indices, x.spatial_shape, x.batch_size))
    with pytest.raises(TypeError, match="TorchsparseConvTensor"):
        layer.cuda()(x)
