// Voxelization: CUDA registration. Sorting and run finding use ATen; the kernels are in voxelize_cuda.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "voxel_grid.h"
#include "voxelize_args.h"

extern "C" cudaError_t bevfusion_voxel_ids_launch(const float* points, int64_t num_points, int64_t channels,
                                                  bevfusion::VoxelGrid grid, int64_t* ids, cudaStream_t stream);
extern "C" cudaError_t bevfusion_dynamic_voxelize_launch(const float* points, int64_t num_points, int64_t channels,
                                                         bevfusion::VoxelGrid grid, int32_t* coords,
                                                         cudaStream_t stream);
extern "C" cudaError_t bevfusion_fill_voxels_launch(const float* points, int64_t channels, const int64_t* sorted_ids,
                                                    const int64_t* order, const int64_t* run_start,
                                                    const int64_t* voxel_run, int64_t num_voxels,
                                                    bevfusion::VoxelGrid grid, int64_t max_points, bool mean,
                                                    float* voxels, int32_t* coords, int32_t* num_points,
                                                    cudaStream_t stream);

namespace bevfusion {
namespace {

void check_launch(cudaError_t status, const char* op) {
  TORCH_CHECK(status == cudaSuccess, op, " CUDA launch failed: ", cudaGetErrorString(status));
}

// Points grouped by voxel: inside points stably sorted by voxel id (`sorted_ids`, `order`), the start
// of each run of equal ids (`run_start`, with the inside count appended), and the runs in order of
// their first point (`voxel_run`), which numbers the voxels first-come as on the CPU.
struct VoxelRuns {
  at::Tensor sorted_ids, order, run_start, voxel_run, is_run_head;
};

VoxelRuns group_by_voxel(const at::Tensor& points, const VoxelGrid& grid) {
  const int64_t num_points = points.size(0);
  auto ids = at::empty({num_points}, points.options().dtype(at::kLong));
  check_launch(bevfusion_voxel_ids_launch(points.data_ptr<float>(), num_points, points.size(1), grid,
                                          ids.data_ptr<int64_t>(), c10::cuda::getCurrentCUDAStream()),
               "voxelize");
  const auto outside = ids.lt(0);
  const int64_t num_inside = num_points - outside.sum().item<int64_t>();
  auto sorted = at::sort(at::where(outside, std::numeric_limits<int64_t>::max(), ids), /*stable=*/true, 0, false);
  VoxelRuns runs;
  runs.sorted_ids = std::get<0>(sorted).narrow(0, 0, num_inside);
  runs.order = std::get<1>(sorted).narrow(0, 0, num_inside);
  runs.is_run_head = at::ones({num_inside}, ids.options().dtype(at::kBool));
  if (num_inside > 1) {
    runs.is_run_head.narrow(0, 1, num_inside - 1)
        .copy_(runs.sorted_ids.narrow(0, 1, num_inside - 1).ne(runs.sorted_ids.narrow(0, 0, num_inside - 1)));
  }
  const auto heads = at::nonzero(runs.is_run_head).flatten();
  runs.run_start = at::cat({heads, at::full({1}, num_inside, heads.options())});
  runs.voxel_run = at::argsort(runs.order.index_select(0, heads));
  return runs;
}

// (voxels, coords, num_points) for the first `num_voxels` voxels of `runs`.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fill_voxels(const at::Tensor& points, const VoxelGrid& grid,
                                                           const VoxelRuns& runs, int64_t num_voxels,
                                                           int64_t max_points, bool mean) {
  const int64_t channels = points.size(1);
  auto voxels = mean ? at::empty({num_voxels, channels}, points.options())
                     : at::zeros({num_voxels, max_points, channels}, points.options());
  auto coords = at::empty({num_voxels, 3}, points.options().dtype(at::kInt));
  auto num_points = at::empty({num_voxels}, points.options().dtype(at::kInt));
  check_launch(bevfusion_fill_voxels_launch(points.data_ptr<float>(), channels, runs.sorted_ids.data_ptr<int64_t>(),
                                            runs.order.data_ptr<int64_t>(), runs.run_start.data_ptr<int64_t>(),
                                            runs.voxel_run.data_ptr<int64_t>(), num_voxels, grid, max_points, mean,
                                            voxels.data_ptr<float>(), coords.data_ptr<int32_t>(),
                                            num_points.data_ptr<int32_t>(), c10::cuda::getCurrentCUDAStream()),
               "voxelize");
  return {voxels, coords, num_points};
}

}  // namespace

at::Tensor dynamic_voxelize_cuda(const at::Tensor& points, at::ArrayRef<double> voxel_size,
                                 at::ArrayRef<double> grid_min, at::ArrayRef<int64_t> grid_dims) {
  const c10::cuda::CUDAGuard guard(points.device());
  const auto pts = checked_points(points, "dynamic_voxelize");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "dynamic_voxelize");
  auto coords = at::empty({pts.size(0), 3}, pts.options().dtype(at::kInt));
  check_launch(bevfusion_dynamic_voxelize_launch(pts.data_ptr<float>(), pts.size(0), pts.size(1), grid,
                                                 coords.data_ptr<int32_t>(), c10::cuda::getCurrentCUDAStream()),
               "dynamic_voxelize");
  return coords;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> hard_voxelize_cuda(const at::Tensor& points,
                                                                  at::ArrayRef<double> voxel_size,
                                                                  at::ArrayRef<double> grid_min,
                                                                  at::ArrayRef<int64_t> grid_dims, int64_t max_points,
                                                                  int64_t max_voxels, bool mean) {
  const c10::cuda::CUDAGuard guard(points.device());
  const auto pts = checked_points(points, "hard_voxelize");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "hard_voxelize");
  TORCH_CHECK(max_points > 0 && max_voxels > 0, "hard_voxelize: max_points and max_voxels must be positive");
  const VoxelRuns runs = group_by_voxel(pts, grid);
  const int64_t num_voxels = std::min(runs.voxel_run.size(0), max_voxels);
  return fill_voxels(pts, grid, runs, num_voxels, max_points, mean);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dynamic_voxelize_mean_cuda(const at::Tensor& points,
                                                                          at::ArrayRef<double> voxel_size,
                                                                          at::ArrayRef<double> grid_min,
                                                                          at::ArrayRef<int64_t> grid_dims) {
  const c10::cuda::CUDAGuard guard(points.device());
  const auto pts = checked_points(points, "dynamic_voxelize_mean");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "dynamic_voxelize_mean");
  const VoxelRuns runs = group_by_voxel(pts, grid);
  const int64_t num_voxels = runs.voxel_run.size(0);
  auto [means, coords, counts] =
      fill_voxels(pts, grid, runs, num_voxels, std::numeric_limits<int64_t>::max(), /*mean=*/true);
  auto voxel_of_run = at::empty_like(runs.voxel_run);
  voxel_of_run.index_put_({runs.voxel_run}, at::arange(num_voxels, runs.voxel_run.options()));
  const auto run_of_sorted = at::cumsum(runs.is_run_head, 0, at::kLong).sub_(1);
  auto point_to_voxel = at::full({pts.size(0)}, -1, pts.options().dtype(at::kLong));
  point_to_voxel.index_put_({runs.order}, voxel_of_run.index_select(0, run_of_sorted));
  return {means, coords, point_to_voxel};
}

}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) {
  m.impl("dynamic_voxelize", &bevfusion::dynamic_voxelize_cuda);
  m.impl("hard_voxelize", &bevfusion::hard_voxelize_cuda);
  m.impl("dynamic_voxelize_mean", &bevfusion::dynamic_voxelize_mean_cuda);
}
