"""The native sparse conv engine against dense torch conv3d references, on random sites."""

import pytest
import torch
from sparse_helpers import random_tensor, random_weight

from bevfusion.ops.sparse import (
    SparseConv3d,
    SparseConvTensor,
    SparseInverseConv3d,
    SparseSequential,
    SubMConv3d,
    build_kernel_map,
    make_sparse_layer,
    sparse_conv,
    to_bev,
)
from bevfusion.ops.sparse.reference import (
    sparse_conv3d_reference,
    sparse_inverse_conv3d_reference,
    subm_conv3d_reference,
)

SHAPE = (7, 9, 11)


def _map(x, kernel, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1), subm=False):
    return build_kernel_map(x.indices, x.spatial_shape, x.batch_size, kernel, stride, padding, dilation, subm)


@pytest.mark.parametrize(
    ("kernel", "dilation"), [((3, 3, 3), (1, 1, 1)), ((1, 3, 5), (1, 1, 1)), ((3, 3, 3), (2, 1, 2))]
)
def test_subm_conv_matches_dense_conv_at_input_sites(kernel, dilation):
    generator = torch.Generator().manual_seed(0)
    x = random_tensor(generator, 300, SHAPE, channels=4)
    weight = random_weight(generator, 5, kernel, 4)
    out = sparse_conv(x.features, weight, _map(x, kernel, dilation=dilation, subm=True))
    torch.testing.assert_close(out, subm_conv3d_reference(x, weight, dilation), rtol=1e-10, atol=1e-10)


STRIDED = [
    ((3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1)),
    ((3, 3, 3), (2, 2, 2), (0, 1, 1), (1, 1, 1)),
    ((3, 1, 1), (2, 1, 1), (0, 0, 0), (1, 1, 1)),
    ((2, 2, 2), (2, 2, 2), (0, 0, 0), (1, 1, 1)),
    ((3, 3, 3), (1, 2, 1), (2, 0, 1), (2, 1, 1)),
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), STRIDED)
def test_strided_conv_sites_and_features_match_dense_conv(kernel, stride, padding, dilation):
    generator = torch.Generator().manual_seed(1)
    x = random_tensor(generator, 200, SHAPE, channels=3)
    weight = random_weight(generator, 4, kernel, 3)
    kernel_map = _map(x, kernel, stride, padding, dilation)
    sites, expected = sparse_conv3d_reference(x, weight, stride, padding, dilation)
    assert torch.equal(kernel_map.out_indices, sites)
    out = sparse_conv(x.features, weight, kernel_map)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), STRIDED)
def test_inverse_conv_returns_to_input_sites_as_a_transposed_conv(kernel, stride, padding, dilation):
    generator = torch.Generator().manual_seed(2)
    x = random_tensor(generator, 200, SHAPE, channels=3)
    down = SparseConv3d(3, 4, kernel, stride, padding, dilation, indice_key="down").double()
    up = SparseInverseConv3d(4, 6, kernel, indice_key="down", bias=False).double()
    y = down(x)
    z = up(y)
    assert z.indices is x.indices and z.spatial_shape == x.spatial_shape
    expected = sparse_inverse_conv3d_reference(y, up.weight, x.indices, x.spatial_shape, stride, padding, dilation)
    torch.testing.assert_close(z.features, expected, rtol=1e-10, atol=1e-10)


def _dense_loss_grads(x, weight, run_sparse, run_dense):
    """Gradients of <out, probe> through our engine and through a dense reference."""
    features = x.features.clone().requires_grad_()
    weight = weight.clone().requires_grad_()
    ours = run_sparse(features, weight)
    probe = torch.randn_like(ours)
    ours_grads = torch.autograd.grad((ours * probe).sum(), (features, weight))
    features_ref = x.features.clone().requires_grad_()
    weight_ref = weight.detach().clone().requires_grad_()
    reference = run_dense(x.replace_feature(features_ref), weight_ref)
    reference_grads = torch.autograd.grad((reference * probe).sum(), (features_ref, weight_ref))
    return ours_grads, reference_grads


@pytest.mark.parametrize("kind", ["subm", "strided", "inverse"])
def test_backward_matches_dense_conv_gradients(kind):
    generator = torch.Generator().manual_seed(3)
    x = random_tensor(generator, 250, SHAPE, channels=3)
    kernel, stride, padding = (3, 3, 3), (2, 2, 2), (1, 1, 1)
    if kind == "subm":
        kernel_map = _map(x, kernel, subm=True)
        weight = random_weight(generator, 4, kernel, 3)
        ours, reference = _dense_loss_grads(
            x, weight, lambda f, w: sparse_conv(f, w, kernel_map), lambda t, w: subm_conv3d_reference(t, w)
        )
    elif kind == "strided":
        kernel_map = _map(x, kernel, stride, padding)
        weight = random_weight(generator, 4, kernel, 3)
        ours, reference = _dense_loss_grads(
            x,
            weight,
            lambda f, w: sparse_conv(f, w, kernel_map),
            lambda t, w: sparse_conv3d_reference(t, w, stride, padding)[1],
        )
    else:
        kernel_map = _map(x, kernel, stride, padding)
        coarse = SparseConvTensor(
            torch.randn(len(kernel_map.out_indices), 3, generator=generator, dtype=torch.float64),
            kernel_map.out_indices,
            kernel_map.out_shape,
            x.batch_size,
        )
        weight = random_weight(generator, 4, kernel, 3)
        ours, reference = _dense_loss_grads(
            coarse,
            weight,
            lambda f, w: sparse_conv(f, w, kernel_map, inverse=True),
            lambda t, w: sparse_inverse_conv3d_reference(t, w, x.indices, x.spatial_shape, stride, padding),
        )
    for got, expected in zip(ours, reference):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_gradcheck_on_a_small_strided_conv_with_bias():
    generator = torch.Generator().manual_seed(4)
    x = random_tensor(generator, 12, (3, 4, 4), channels=2, batch_size=1)
    kernel_map = _map(x, (3, 3, 3), (2, 2, 2), (1, 1, 1))
    weight = random_weight(generator, 3, (3, 3, 3), 2).requires_grad_()
    bias = torch.randn(3, dtype=torch.float64, generator=generator, requires_grad=True)
    features = x.features.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda f, w, b: sparse_conv(f, w, kernel_map, b), (features, weight, bias))


def test_same_bits_every_run_and_at_every_thread_count():
    generator = torch.Generator().manual_seed(5)
    # Dense enough that every offset spans several GEMM chunks of 1024 rows.
    x = random_tensor(generator, 20000, (16, 48, 48), channels=16, batch_size=1, dtype=torch.float32)
    layers = SparseSequential(SubMConv3d(16, 16, 3, indice_key="a"), SparseConv3d(16, 32, 3, 2, 1, indice_key="b"))
    probe = None

    def run():
        nonlocal probe
        features = x.features.clone().requires_grad_()
        out = layers(SparseConvTensor(features, x.indices, x.spatial_shape, x.batch_size)).features
        probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(6)) if probe is None else probe
        grads = torch.autograd.grad((out * probe).sum(), [features, *layers.parameters()])
        return [out.detach(), *grads]

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = run()
        torch.set_num_threads(2)
        for _ in range(50):
            assert all(torch.equal(a, b) for a, b in zip(run(), single))
    finally:
        torch.set_num_threads(threads)


def test_nan_in_one_site_reaches_only_outputs_whose_field_contains_it():
    generator = torch.Generator().manual_seed(7)
    x = random_tensor(generator, 150, SHAPE, channels=2)
    x.features[17] = float("nan")
    weight = random_weight(generator, 3, (3, 3, 3), 2)
    out = sparse_conv(x.features, weight, _map(x, (3, 3, 3), subm=True))
    reach = (x.indices[:, 1:] - x.indices[17, 1:]).abs().amax(dim=1) <= 1
    reach &= x.indices[:, 0] == x.indices[17, 0]
    assert torch.equal(out.isnan().any(dim=1), reach)


def test_kernel_map_is_built_once_per_indice_key():
    generator = torch.Generator().manual_seed(8)
    x = random_tensor(generator, 100, SHAPE, channels=2, dtype=torch.float32)
    first, second = SubMConv3d(2, 2, 3, indice_key="k"), SubMConv3d(2, 2, 3, indice_key="k")
    y = first(x)
    cached = x.indice_dict["k"]
    z = second(y)
    assert z.indice_dict["k"] is cached and y.indice_dict is x.indice_dict
    with pytest.raises(ValueError, match="indice_key 'k' holds a map for kernel"):
        SubMConv3d(2, 2, 5, indice_key="k")(z)


def test_to_bev_folds_z_into_channels_with_x_first():
    features = torch.tensor([[1.0, 2.0]])
    x = SparseConvTensor(features, torch.tensor([[1, 2, 3, 4]], dtype=torch.int32), (3, 5, 6), batch_size=2)
    bev = to_bev(x)
    assert bev.shape == (2, 2 * 3, 6, 5)
    assert bev[1, 0 * 3 + 2, 4, 3] == 1.0 and bev[1, 1 * 3 + 2, 4, 3] == 2.0
    assert bev.sum() == 3.0


def test_sequential_runs_norm_and_activation_on_features():
    generator = torch.Generator().manual_seed(9)
    x = random_tensor(generator, 50, SHAPE, channels=2, dtype=torch.float32)
    model = SparseSequential(SubMConv3d(2, 4, 3), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
    out = model(x)
    assert out.indices is x.indices and out.features.shape == (50, 4) and (out.features >= 0).all()


def test_layers_use_spconv_weight_layout():
    layer = make_sparse_layer("SubMConv3d", 16, 32, 3, indice_key="subm1")
    assert isinstance(layer, SubMConv3d) and layer.weight.shape == (32, 3, 3, 3, 16) and layer.bias is None
    assert SparseConv3d(4, 8, (3, 1, 1), stride=(2, 1, 1)).weight.shape == (8, 3, 1, 1, 4)


def test_bad_input_is_reported_clearly():
    sites = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1]], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="repeats an earlier site"):
        build_kernel_map(sites, SHAPE, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), True)
    outside = torch.tensor([[0, 1, 9, 1]], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="outside spatial axis 1"):
        build_kernel_map(outside, SHAPE, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), True)
    with pytest.raises(ValueError, match="int32"):
        SparseConvTensor(torch.zeros(1, 2), sites[:1].long(), SHAPE, 1)
    with pytest.raises(ValueError, match="odd"):
        build_kernel_map(sites[:1], SHAPE, 1, (2, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), True)
    x = SparseConvTensor(torch.zeros(1, 2), sites[:1], SHAPE, 1)
    with pytest.raises(KeyError, match="no SparseConv3d map under indice_key 'up'"):
        SparseInverseConv3d(2, 2, 3, indice_key="up")(x)
    with pytest.raises(ValueError, match="unknown sparse backend"):
        make_sparse_layer("SubMConv3d", 2, 2, 3, backend="minkowski")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    generator = torch.Generator().manual_seed(10)
    x = random_tensor(generator, 3000, (12, 40, 40), channels=8, dtype=dtype)
    layers = SparseSequential(
        SubMConv3d(8, 8, 3, indice_key="s"),
        SparseConv3d(8, 16, 3, 2, 1, indice_key="d"),
        SparseInverseConv3d(16, 8, 3, indice_key="d"),
    ).to(dtype)
    outputs = {}
    for device in ("cpu", "cuda"):
        model = layers.to(device)
        features = x.features.to(device).requires_grad_()
        out = model(SparseConvTensor(features, x.indices.to(device), x.spatial_shape, x.batch_size))
        grads = torch.autograd.grad(out.features.square().sum(), [features, *model.parameters()])
        outputs[device] = [out.indices, out.features.detach(), *grads]
        coarse = out.indice_dict["d"]
        outputs[device] += [coarse.out_indices, coarse.in_idx, coarse.out_idx, torch.tensor(coarse.pair_offsets)]
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for cpu, cuda in zip(outputs["cpu"], outputs["cuda"]):
        torch.testing.assert_close(cuda.cpu(), cpu, **tolerance)
