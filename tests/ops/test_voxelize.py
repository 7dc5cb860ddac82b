"""Voxelization: native kernels against the PyTorch reference, spconv, and the documented semantics."""

import pytest
import torch

from bevfusion.ops.voxelize import Voxelization, dynamic_voxelize, dynamic_voxelize_mean, hard_voxelize, voxel_grid
from bevfusion.ops.voxelize.reference import (
    dynamic_voxelize_mean_reference,
    dynamic_voxelize_reference,
    hard_voxelize_reference,
)

VOXEL_SIZE = (0.5, 0.5, 0.25)
POINT_RANGE = (-4.0, -3.0, -1.0, 4.0, 3.0, 1.0)


def random_points(seed: int, count: int = 6000, channels: int = 5) -> torch.Tensor:
    """Points spilling past the range on every side, half of them packed into a few crowded voxels."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.tensor(POINT_RANGE[:3]) - 1.0
    high = torch.tensor(POINT_RANGE[3:]) + 1.0
    spread = low + (high - low) * torch.rand(count // 2, 3, generator=generator)
    centres = low + (high - low) * torch.rand(8, 3, generator=generator)
    crowded = centres[torch.randint(8, (count - count // 2,), generator=generator)]
    crowded = crowded + 0.3 * torch.randn(crowded.shape, generator=generator)
    xyz = torch.cat([spread, crowded])[torch.randperm(count, generator=generator)]
    return torch.cat([xyz, torch.randn(count, channels - 3, generator=generator)], dim=1)


def poison_allocator(device: str, nbytes: int) -> None:
    """Leave NaN-filled freed memory behind, so an output cell a kernel forgets to write shows up."""
    torch.full((nbytes // 4 + 1,), float("nan"), device=device)


def run_hard(points, max_points, max_voxels, reduce):
    poison_allocator(points.device.type, 4 * max_voxels * max_points * points.shape[1])
    return hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, max_points, max_voxels, reduce)


@pytest.mark.parametrize("reduce", ["none", "mean"])
@pytest.mark.parametrize(("seed", "max_points", "max_voxels"), [(0, 5, 100000), (1, 3, 150), (2, 1, 20)])
def test_hard_voxelize_matches_reference(seed, max_points, max_voxels, reduce):
    points = random_points(seed)
    voxels, coords, num_points = run_hard(points, max_points, max_voxels, reduce)
    ref_voxels, ref_coords, ref_num_points = hard_voxelize_reference(
        points, voxel_grid(VOXEL_SIZE, POINT_RANGE), max_points, max_voxels, reduce
    )
    assert coords.dtype == num_points.dtype == torch.int32
    assert torch.equal(coords, ref_coords)
    assert torch.equal(num_points, ref_num_points)
    if reduce == "none":
        assert torch.equal(voxels, ref_voxels)
    else:
        torch.testing.assert_close(voxels, ref_voxels, rtol=1e-5, atol=1e-5)


def test_grids_past_32_bit_voxel_ids_match_reference():
    points = random_points(9)
    fine = (1e-4, 1e-4, 1e-4)  # 8e4 x 6e4 x 2e4 cells: ids need 64 bits
    voxels, coords, num_points = hard_voxelize(points, fine, POINT_RANGE, 3, 100000)
    expected = hard_voxelize_reference(points, voxel_grid(fine, POINT_RANGE), 3, 100000)
    assert int(coords[:, 2].max()) > 2**16
    assert torch.equal(coords, expected[1]) and torch.equal(num_points, expected[2])
    assert torch.equal(voxels, expected[0])


@pytest.mark.parametrize("reduce", ["none", "mean"])
def test_no_points_inside_gives_empty_voxels(reduce):
    for points in (torch.zeros(0, 4), torch.full((7, 4), 100.0)):
        voxels, coords, num_points = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 5, 10, reduce)
        assert voxels.shape == ((0, 5, 4) if reduce == "none" else (0, 4))
        assert coords.shape == (0, 3) and num_points.shape == (0,)


def test_caps_are_reached_and_respected():
    points = random_points(3)
    voxels, coords, num_points = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 4, 50)
    assert len(voxels) == 50 and int(num_points.max()) == 4
    assert torch.all(voxels[torch.arange(4)[None] >= num_points[:, None].long()] == 0)


def test_first_come_order_and_point_order():
    # Voxel ids by x cell: B (x=1), A (x=0), B, C (x=2), B; one voxel per unit cube.
    xs = torch.tensor([1.5, 0.5, 1.25, 2.5, 1.75])
    points = torch.stack([xs, torch.full_like(xs, 0.5), torch.full_like(xs, 0.5), torch.arange(5.0)], dim=1)
    voxels, coords, num_points = hard_voxelize(points, (1, 1, 1), (0, 0, 0, 3, 1, 1), 2, 2)
    assert coords.tolist() == [[0, 0, 1], [0, 0, 0]]
    assert num_points.tolist() == [2, 1]
    assert voxels[0, :, 3].tolist() == [0.0, 2.0]  # B keeps its first two points in input order
    assert voxels[1, :, 3].tolist() == [1.0, 0.0]


def test_range_is_half_open_and_uses_floor():
    points = torch.tensor(
        [
            [0.0, 0.0, 0.0],  # on the min corner: inside
            [1.999, 0.5, 0.5],  # just below max: inside, last cell
            [2.0, 0.5, 0.5],  # on max x: outside
            [-0.01, 0.5, 0.5],  # just below min: floor gives -1, outside (truncation would say 0)
            [float("nan"), 0.5, 0.5],
        ]
    )
    coords = dynamic_voxelize(points, (1, 1, 1), (0, 0, 0, 2, 1, 1))
    assert coords.tolist() == [[0, 0, 0], [0, 0, 1], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1]]


@pytest.mark.parametrize("seed", [0, 1])
def test_dynamic_voxelize_matches_reference(seed):
    points = random_points(seed)
    poison_allocator("cpu", points.shape[0] * 12)
    coords = dynamic_voxelize(points, VOXEL_SIZE, POINT_RANGE)
    assert coords.dtype == torch.int32
    assert torch.equal(coords, dynamic_voxelize_reference(points, voxel_grid(VOXEL_SIZE, POINT_RANGE)))


@pytest.mark.parametrize("seed", [0, 1])
def test_dynamic_voxelize_mean_matches_reference(seed):
    points = random_points(seed)
    features, coords, point_to_voxel = dynamic_voxelize_mean(points, VOXEL_SIZE, POINT_RANGE)
    ref_features, ref_coords, ref_point_to_voxel = dynamic_voxelize_mean_reference(
        points, voxel_grid(VOXEL_SIZE, POINT_RANGE)
    )
    assert torch.equal(coords, ref_coords)
    assert torch.equal(point_to_voxel, ref_point_to_voxel)
    torch.testing.assert_close(features, ref_features, rtol=1e-5, atol=1e-5)
    inside = point_to_voxel >= 0
    assert torch.equal(coords[point_to_voxel[inside]], dynamic_voxelize(points, VOXEL_SIZE, POINT_RANGE)[inside])


def test_result_does_not_depend_on_thread_count():
    points = random_points(4, count=20000)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 3, 200)
        torch.set_num_threads(max(2, threads))
        multi = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 3, 200)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(single, multi))


@pytest.mark.parametrize("max_voxels", [100000, 300])
def test_matches_spconv_point_to_voxel(max_voxels):
    spconv_utils = pytest.importorskip("spconv.pytorch.utils")
    points = random_points(5, count=8000)
    spconv = spconv_utils.PointToVoxel(
        vsize_xyz=list(VOXEL_SIZE),
        coors_range_xyz=list(POINT_RANGE),
        num_point_features=points.shape[1],
        max_num_voxels=max_voxels,
        max_num_points_per_voxel=6,
    )
    spconv_voxels, spconv_coords, spconv_num = spconv(points)  # coords are (z, y, x) too
    voxels, coords, num_points = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 6, max_voxels)
    assert torch.equal(coords, spconv_coords) and torch.equal(num_points, spconv_num)
    assert torch.equal(voxels, spconv_voxels)
    means, _, _ = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, 6, max_voxels, reduce="mean")
    torch.testing.assert_close(means, spconv_voxels.sum(dim=1) / spconv_num[:, None], rtol=1e-5, atol=1e-5)


def test_voxelization_module_picks_max_voxels_by_mode():
    points = random_points(6)
    layer = Voxelization(VOXEL_SIZE, POINT_RANGE, max_points_per_voxel=4, max_voxels=(30, 60))
    assert len(layer.train()(points)[0]) == 30
    assert len(layer.eval()(points)[0]) == 60
    means = Voxelization(VOXEL_SIZE, POINT_RANGE, 4, 60, reduce="mean")(points)[0]
    assert means.shape == (60, points.shape[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"voxel_size": (0.5, 0.5)}, "voxel_size"),
        ({"voxel_size": (0.5, 0.0, 0.5)}, "voxel_size"),
        ({"point_range": (0, 0, 0, 1, 1)}, "point_range"),
        ({"point_range": (1, 0, 0, 0, 1, 1)}, "point_range"),
        ({"voxel_size": (1e-9, 1e-9, 1e-9)}, "too large"),
        ({"reduce": "max"}, "reduce"),
        ({"max_voxels": 0}, "max_voxels"),
        ({"points": torch.zeros(5, 2)}, "points"),
        ({"points": torch.zeros(5, 4, dtype=torch.int32)}, "points"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    arguments = {
        "points": random_points(0, count=10),
        "voxel_size": VOXEL_SIZE,
        "point_range": POINT_RANGE,
        "max_points_per_voxel": 4,
        "max_voxels": 10,
        "reduce": "none",
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        hard_voxelize(**arguments)


@pytest.mark.cuda
@pytest.mark.parametrize("reduce", ["none", "mean"])
@pytest.mark.parametrize(("max_points", "max_voxels"), [(5, 100000), (2, 40)])
def test_cuda_hard_voxelize_matches_cpu(reduce, max_points, max_voxels):
    points = random_points(7, count=20000)
    cpu = hard_voxelize(points, VOXEL_SIZE, POINT_RANGE, max_points, max_voxels, reduce)
    cuda = run_hard(points.cuda(), max_points, max_voxels, reduce)
    assert torch.equal(cuda[1].cpu(), cpu[1]) and torch.equal(cuda[2].cpu(), cpu[2])
    torch.testing.assert_close(cuda[0].cpu(), cpu[0], rtol=1e-6, atol=1e-6)


@pytest.mark.cuda
def test_cuda_dynamic_voxelize_matches_cpu():
    points = random_points(8, count=20000)
    poison_allocator("cuda", points.shape[0] * 32)
    assert torch.equal(
        dynamic_voxelize(points.cuda(), VOXEL_SIZE, POINT_RANGE).cpu(),
        dynamic_voxelize(points, VOXEL_SIZE, POINT_RANGE),
    )
    poison_allocator("cuda", points.shape[0] * 32)
    cuda = dynamic_voxelize_mean(points.cuda(), VOXEL_SIZE, POINT_RANGE)
    cpu = dynamic_voxelize_mean(points, VOXEL_SIZE, POINT_RANGE)
    assert torch.equal(cuda[1].cpu(), cpu[1]) and torch.equal(cuda[2].cpu(), cpu[2])
    torch.testing.assert_close(cuda[0].cpu(), cpu[0], rtol=1e-6, atol=1e-6)
