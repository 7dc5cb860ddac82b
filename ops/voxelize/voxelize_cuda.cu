// Voxelization CUDA kernels and plain launchers (no PyTorch headers).
//
// The GPU path is sort-based: voxel ids per point, a stable sort by id (done by the caller),
// then one thread per voxel walks its run of sorted points, which keeps input order inside
// each voxel. The caller orders voxels by their first point, as the CPU does.
#include <cuda_runtime.h>
#include <stdint.h>

#include "voxel_grid.h"

namespace {

constexpr int kThreads = 256;

int64_t blocks_for(int64_t count) { return (count + kThreads - 1) / kThreads; }

__global__ void voxel_ids_kernel(const float* __restrict__ points, int64_t num_points, int64_t channels,
                                 bevfusion::VoxelGrid grid, int64_t* __restrict__ ids) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p >= num_points) return;
  ids[p] = bevfusion::voxel_id(points + p * channels, grid);
}

__global__ void dynamic_voxelize_kernel(const float* __restrict__ points, int64_t num_points, int64_t channels,
                                        bevfusion::VoxelGrid grid, int32_t* __restrict__ coords) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p >= num_points) return;
  if (!bevfusion::voxel_cell(points + p * channels, grid, coords + 3 * p)) {
    coords[3 * p] = coords[3 * p + 1] = coords[3 * p + 2] = -1;
  }
}

// Voxel v owns the sorted run [run_start[s], run_start[s + 1]) with s = voxel_run[v].
__global__ void fill_voxels_kernel(const float* __restrict__ points, int64_t channels,
                                   const int64_t* __restrict__ sorted_ids, const int64_t* __restrict__ order,
                                   const int64_t* __restrict__ run_start, const int64_t* __restrict__ voxel_run,
                                   int64_t num_voxels, bevfusion::VoxelGrid grid, int64_t max_points, bool mean,
                                   float* __restrict__ voxels, int32_t* __restrict__ coords,
                                   int32_t* __restrict__ num_points) {
  const int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (v >= num_voxels) return;
  const int64_t run = voxel_run[v];
  const int64_t start = run_start[run];
  const int64_t count = min(run_start[run + 1] - start, max_points);
  bevfusion::voxel_zyx(sorted_ids[start], grid, coords + 3 * v);
  num_points[v] = static_cast<int32_t>(count);
  if (mean) {
    for (int64_t c = 0; c < channels; ++c) {
      float sum = 0.0f;
      for (int64_t k = 0; k < count; ++k) sum += points[order[start + k] * channels + c];
      voxels[v * channels + c] = bevfusion::exact_div(sum, static_cast<float>(count));
    }
  } else {
    for (int64_t k = 0; k < count; ++k) {
      const float* src = points + order[start + k] * channels;
      float* dst = voxels + (v * max_points + k) * channels;
      for (int64_t c = 0; c < channels; ++c) dst[c] = src[c];
    }
  }
}

}  // namespace

extern "C" cudaError_t bevfusion_voxel_ids_launch(const float* points, int64_t num_points, int64_t channels,
                                                  bevfusion::VoxelGrid grid, int64_t* ids, cudaStream_t stream) {
  if (num_points == 0) return cudaSuccess;
  voxel_ids_kernel<<<blocks_for(num_points), kThreads, 0, stream>>>(points, num_points, channels, grid, ids);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_dynamic_voxelize_launch(const float* points, int64_t num_points, int64_t channels,
                                                         bevfusion::VoxelGrid grid, int32_t* coords,
                                                         cudaStream_t stream) {
  if (num_points == 0) return cudaSuccess;
  dynamic_voxelize_kernel<<<blocks_for(num_points), kThreads, 0, stream>>>(points, num_points, channels, grid,
                                                                           coords);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_fill_voxels_launch(const float* points, int64_t channels, const int64_t* sorted_ids,
                                                    const int64_t* order, const int64_t* run_start,
                                                    const int64_t* voxel_run, int64_t num_voxels,
                                                    bevfusion::VoxelGrid grid, int64_t max_points, bool mean,
                                                    float* voxels, int32_t* coords, int32_t* num_points,
                                                    cudaStream_t stream) {
  if (num_voxels == 0) return cudaSuccess;
  fill_voxels_kernel<<<blocks_for(num_voxels), kThreads, 0, stream>>>(points, channels, sorted_ids, order, run_start,
                                                                      voxel_run, num_voxels, grid, max_points, mean,
                                                                      voxels, coords, num_points);
  return cudaGetLastError();
}
