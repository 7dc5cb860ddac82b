"""bev_pool: kernels against the float64 reference, gradients, geometry (floor, drops, caching), errors."""

import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from bevfusion.ops import load_ops
from bevfusion.ops.bev_pool import bev_pool, bev_pool_geometry, bev_pool_reference
from bevfusion.ops.bev_pool.geometry import geometry_tensors_torch

XBOUND = (-4.0, 4.0, 0.5)
YBOUND = (-3.0, 5.0, 1.0)
ZBOUND = (-2.0, 2.0, 2.0)  # nz = 2, so the z-into-channels fold is exercised


def random_frustum(batch=2, cameras=3, depth_bins=6, height=5, width=7, channels=16, dtype=torch.float32, seed=0):
    """Points spread past every grid edge (about a third fall outside), depth and context to match."""
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(batch, cameras, depth_bins, height, width, 3, generator=generator, dtype=torch.float64)
    points = (points * torch.tensor([10.0, 10.0, 5.0], dtype=torch.float64) - torch.tensor([5.0, 4.0, 2.5])).to(dtype)
    depth = torch.rand(batch, cameras, depth_bins, height, width, generator=generator, dtype=dtype)
    context = torch.randn(batch, cameras, height, width, channels, generator=generator, dtype=dtype)
    return points, depth, context


def reference64(depth, context, points):
    return bev_pool_reference(depth.double(), context.double(), points, XBOUND, YBOUND, ZBOUND)


def test_forward_matches_float64_reference_in_float32():
    points, depth, context = random_frustum()
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    out = bev_pool(depth, context, geometry)
    expected = reference64(depth, context, points)
    assert out.shape == (2, 2 * 16, 16, 8) and out.dtype == torch.float32
    assert 0 < geometry.num_points < depth.numel()
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-6)


def test_kernel_writes_every_cell_and_empty_cells_are_zero():
    points, depth, context = random_frustum(seed=1)
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    poisoned = torch.full(geometry.output_shape(context.shape[-1]), float("nan"))
    torch.ops.bevfusion.bev_pool_forward(
        depth, context, geometry.cell_start, geometry.point_depth_index, geometry.point_context_index, poisoned
    )
    assert not poisoned.isnan().any()
    expected = reference64(depth, context, points)
    torch.testing.assert_close(poisoned.double(), expected, rtol=1e-5, atol=1e-6)
    empty = (geometry.cell_start[1:] == geometry.cell_start[:-1]).view(2, 2, 1, 16, 8).expand(-1, -1, 16, -1, -1)
    assert empty.any() and (poisoned.view(2, 2, 16, 16, 8)[empty] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [3, 19, 80, 200])
def test_forward_any_channel_count_on_an_odd_grid(channels, dtype):
    """Channel counts that take every vector-block width, several passes and the scalar tail;
    a 10x10 grid puts most channel planes off vector alignment. Output poisoned first. float32
    takes the AVX2 kernel where the CPU has it, float64 the portable one."""
    xbound, ybound = (-4.0, 4.0, 0.8), (-3.0, 5.0, 0.8)
    points, depth, context = random_frustum(channels=channels, seed=4)
    depth, context = depth.to(dtype), context.to(dtype)
    geometry = bev_pool_geometry(points, xbound, ybound, ZBOUND)
    load_ops()
    out = torch.full(geometry.output_shape(channels), float("nan"), dtype=dtype)
    torch.ops.bevfusion.bev_pool_forward(
        depth, context, geometry.cell_start, geometry.point_depth_index, geometry.point_context_index, out
    )
    expected = bev_pool_reference(depth.double(), context.double(), points, xbound, ybound, ZBOUND)
    assert out.shape == (2, 2 * channels, 10, 10)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_portable_float32_kernel_matches_the_vectorised_one():
    """ATEN_CPU_CAPABILITY=default turns the AVX2 path off, as on CPUs without it (ARM included)."""
    script = (
        "import torch\n"
        "from bevfusion.ops.bev_pool import bev_pool, bev_pool_geometry\n"
        "case = torch.load(__import__('sys').argv[1])\n"
        "geometry = bev_pool_geometry(case['points'], *case['bounds'])\n"
        "torch.save(bev_pool(case['depth'], case['context'], geometry), __import__('sys').argv[1])\n"
    )
    points, depth, context = random_frustum(channels=80, seed=9)
    bounds = (XBOUND, YBOUND, ZBOUND)
    vectorised = bev_pool(depth, context, bev_pool_geometry(points, *bounds))
    with tempfile.TemporaryDirectory() as directory:
        case = os.path.join(directory, "case.pt")
        torch.save({"points": points, "depth": depth, "context": context, "bounds": bounds}, case)
        env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
        subprocess.run([sys.executable, "-c", script, case], check=True, env=env, timeout=120)
        portable = torch.load(case)
    torch.testing.assert_close(portable, vectorised, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(portable.double(), reference64(depth, context, points), rtol=1e-5, atol=1e-6)
    if platform.machine() == "x86_64" and "avx2" in Path("/proc/cpuinfo").read_text():
        assert not torch.equal(portable, vectorised), "FMA rounds differently: the portable kernel did not run"


def test_gradcheck_float64():
    points, depth, context = random_frustum(
        batch=1, cameras=2, depth_bins=4, height=2, width=3, channels=3, dtype=torch.float64
    )
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    depth.requires_grad_()
    context.requires_grad_()
    assert torch.autograd.gradcheck(lambda d, c: bev_pool(d, c, geometry), (depth, context))


def test_gradients_match_reference_autograd_in_float32():
    points, depth, context = random_frustum(seed=2)
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    grad_out = torch.randn(geometry.output_shape(context.shape[-1]), generator=torch.Generator().manual_seed(3))
    inputs = [depth.clone().requires_grad_(), context.clone().requires_grad_()]
    bev_pool(*inputs, geometry).backward(grad_out)
    reference_inputs = [depth.double().requires_grad_(), context.double().requires_grad_()]
    bev_pool_reference(*reference_inputs, points, XBOUND, YBOUND, ZBOUND).backward(grad_out.double())
    for ours, theirs in zip(inputs, reference_inputs):
        torch.testing.assert_close(ours.grad.double(), theirs.grad, rtol=1e-5, atol=1e-5)
    dropped = geometry.point_cell.view(depth.shape) < 0
    assert dropped.any() and (inputs[0].grad[dropped] == 0).all()


@pytest.mark.parametrize("dtype, depth_bins", [(torch.float64, 9), (torch.float32, 200)])
def test_cpu_geometry_equals_the_pytorch_path(dtype, depth_bins):
    """The C++ counting sort gives the PyTorch stable sort's tensors, bit for bit: ranks, order
    within cells, drops (NaN, inf, outside), several samples and z levels. 200 depth bins make
    118800 points, which the kernel splits into per-thread chunks."""
    points, _, _ = random_frustum(batch=3, cameras=2, depth_bins=depth_bins, height=6, width=11, dtype=dtype, seed=8)
    points[0, 1, 2, 3, 4] = float("nan")
    points[1, 0, 0, 0, 0, 1] = float("inf")
    points[2, 1, -1, 5, 10] = torch.tensor([XBOUND[0], YBOUND[0], ZBOUND[0]], dtype=dtype)  # lower corner: kept
    lower, step = tuple(b[0] for b in (XBOUND, YBOUND, ZBOUND)), tuple(b[2] for b in (XBOUND, YBOUND, ZBOUND))
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    expected = geometry_tensors_torch(points, lower, step, (16, 8, 2))
    ours = (geometry.cell_start, geometry.point_depth_index, geometry.point_context_index, geometry.point_cell)
    for name, mine, theirs in zip(("cell_start", "depth_index", "context_index", "point_cell"), ours, expected):
        assert mine.dtype == torch.int32 and torch.equal(mine, theirs), name
    assert geometry.point_cell[points.reshape(-1, 3).isnan().any(1)].eq(-1).all()
    assert 0 < geometry.num_points < points[..., 0].numel()


def single_row_frustum(xs, y=0.25, z=0.5):
    """One camera, one depth bin, one image row: a point per x, all at the given y and z."""
    points = torch.tensor([[x, y, z] for x in xs], dtype=torch.float32)
    return points.view(1, 1, 1, 1, len(xs), 3)


def test_quantisation_floors_negative_coordinates_and_drops_points_below_the_grid():
    # x cells of 1 m from -2: [-2,-1) -> 0, [-1,0) -> 1, [0,1) -> 2, [1,2) -> 3.
    # Truncation toward zero would put -2.5 (offset -0.5) into cell 0 instead of dropping it.
    xs = [-2.5, -2.0, -1.5, -0.01, 0.0, 1.99, 2.0]
    geometry = bev_pool_geometry(single_row_frustum(xs), (-2.0, 2.0, 1.0), (-1.0, 1.0, 0.5), (-1.0, 1.0, 2.0))
    num_y = 4
    y_cell = 2  # y = 0.25 -> floor((0.25 + 1) / 0.5) = 2
    expected = [-1, 0, 0, 1, 2, 3, -1]
    assert geometry.point_cell.tolist() == [-1 if x < 0 else x * num_y + y_cell for x in expected]


def test_negative_y_and_z_are_floored_too():
    points = torch.tensor([[0.5, -0.1, -0.1], [0.5, 0.3, 0.2], [0.5, -1.1, 0.5], [0.5, 0.5, -1.1]])
    geometry = bev_pool_geometry(points.view(1, 1, 1, 1, 4, 3), (0.0, 1.0, 1.0), (-1.0, 1.0, 1.0), (-1.0, 1.0, 1.0))
    # nx=1, ny=2, nz=2; rank = (z * nx + x) * ny + y: (y=0, z=0) -> 0, (y=1, z=1) -> 3, then two drops.
    assert geometry.point_cell.tolist() == [0, 3, -1, -1]


def test_layout_is_x_then_y_with_z_folded_into_channels():
    # A point at the centre of cell (i=3, j=1, k=1) of a 0.5 m grid; C = 2.
    xbound, ybound, zbound = (-1.0, 1.0, 0.5), (0.0, 1.0, 0.5), (-1.0, 1.0, 1.0)
    centre = [-1.0 + 3.5 * 0.5, 0.0 + 1.5 * 0.5, -1.0 + 1.5 * 1.0]
    points = torch.tensor(centre).view(1, 1, 1, 1, 1, 3)
    geometry = bev_pool_geometry(points, xbound, ybound, zbound)
    depth = torch.full((1, 1, 1, 1, 1), 0.5)
    context = torch.tensor([2.0, -4.0]).view(1, 1, 1, 1, 2)
    out = bev_pool(depth, context, geometry)
    assert out.shape == (1, 2 * 2, 4, 2)
    expected = torch.zeros_like(out)
    expected[0, 2:4, 3, 1] = torch.tensor([1.0, -2.0])  # channels z*C + c for z = 1
    assert torch.equal(out, expected)


def test_cached_geometry_is_reused_across_inputs_and_left_unchanged():
    points, depth, context = random_frustum(seed=4)
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    snapshot = [t.clone() for t in (geometry.cell_start, geometry.point_depth_index, geometry.point_cell)]
    for seed in (5, 6):
        _, depth, context = random_frustum(seed=seed)
        depth.requires_grad_()
        out = bev_pool(depth, context, geometry)
        out.sum().backward()
        torch.testing.assert_close(out.double(), reference64(depth.detach(), context, points), rtol=1e-5, atol=1e-6)
    for before, after in zip(snapshot, (geometry.cell_start, geometry.point_depth_index, geometry.point_cell)):
        assert torch.equal(before, after)


def test_no_point_in_grid_gives_zeros_and_zero_gradients():
    points = torch.full((1, 2, 3, 2, 2, 3), 100.0)
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    depth = torch.rand(1, 2, 3, 2, 2, requires_grad=True)
    context = torch.randn(1, 2, 2, 2, 4, requires_grad=True)
    out = bev_pool(depth, context, geometry)
    out.sum().backward()
    assert geometry.num_points == 0 and (out == 0).all()
    assert (depth.grad == 0).all() and (context.grad == 0).all()


def test_bad_inputs_raise_clear_errors():
    points, depth, context = random_frustum()
    geometry = bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND)
    with pytest.raises(ValueError, match="depth shape"):
        bev_pool(depth[:, :, 1:], context, geometry)
    with pytest.raises(ValueError, match="context must be"):
        bev_pool(depth, context[:, :, 1:], geometry)
    with pytest.raises(ValueError, match="float32 or float64"):
        bev_pool(depth, context.double(), geometry)
    with pytest.raises(ValueError, match="frustum_points must be"):
        bev_pool_geometry(points[..., :2], XBOUND, YBOUND, ZBOUND)
    with pytest.raises(ValueError, match="ybound needs max > min"):
        bev_pool_geometry(points, XBOUND, (1.0, -1.0, 0.5), ZBOUND)


@pytest.mark.cuda
def test_cuda_matches_reference_forward_and_backward():
    points, depth, context = random_frustum(seed=7)
    geometry = bev_pool_geometry(points.cuda(), XBOUND, YBOUND, ZBOUND)
    assert torch.equal(geometry.point_cell.cpu(), bev_pool_geometry(points, XBOUND, YBOUND, ZBOUND).point_cell)
    inputs = [depth.cuda().requires_grad_(), context.cuda().requires_grad_()]
    poisoned = torch.full(geometry.output_shape(context.shape[-1]), float("nan"), device="cuda")
    torch.ops.bevfusion.bev_pool_forward(
        *(t.detach() for t in inputs),
        geometry.cell_start,
        geometry.point_depth_index,
        geometry.point_context_index,
        poisoned,
    )
    out = bev_pool(*inputs, geometry)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    reference_inputs = [depth.double().requires_grad_(), context.double().requires_grad_()]
    expected = bev_pool_reference(*reference_inputs, points, XBOUND, YBOUND, ZBOUND)
    expected.backward(grad_out.double().cpu())
    torch.testing.assert_close(poisoned.double().cpu(), expected.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.double().cpu(), expected.detach(), rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(inputs, reference_inputs):
        torch.testing.assert_close(ours.grad.double().cpu(), theirs.grad, rtol=1e-5, atol=1e-5)
