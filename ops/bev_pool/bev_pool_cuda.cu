// bev_pool CUDA kernels and plain launchers (no PyTorch headers). They mirror the CPU kernels
// in bev_pool.cpp; the layouts are documented there. Each output element has exactly one
// writer, so no atomics are needed.
#include <cuda_runtime.h>
#include <stdint.h>

namespace {

constexpr int kThreads = 256;

int64_t blocks_for(int64_t total) { return (total + kThreads - 1) / kThreads; }

// One thread per (cell, channel): sums its cell's points, writes zero for an empty cell.
template <typename scalar_t>
__global__ void bev_pool_forward_kernel(const scalar_t* __restrict__ depth, const scalar_t* __restrict__ context,
                                        const int32_t* __restrict__ cell_start,
                                        const int32_t* __restrict__ point_depth_index,
                                        const int32_t* __restrict__ point_context_index, int64_t num_cells,
                                        int64_t plane_cells, int64_t channels, scalar_t* __restrict__ out) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= num_cells * channels) return;
  const int64_t cell = index / channels;
  const int64_t channel = index % channels;
  scalar_t sum = 0;
  for (int32_t p = cell_start[cell]; p < cell_start[cell + 1]; ++p) {
    sum += depth[point_depth_index[p]] * context[static_cast<int64_t>(point_context_index[p]) * channels + channel];
  }
  const int64_t plane = cell / plane_cells;
  out[(plane * channels + channel) * plane_cells + cell % plane_cells] = sum;
}

// One thread per (pixel, channel): the context gradient sums over the pixel's D points.
template <typename scalar_t>
__global__ void bev_pool_grad_context_kernel(const scalar_t* __restrict__ grad_rows,
                                             const scalar_t* __restrict__ depth,
                                             const int32_t* __restrict__ point_cell, int64_t num_pixels,
                                             int64_t depth_bins, int64_t image_cells, int64_t channels,
                                             scalar_t* __restrict__ grad_context) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= num_pixels * channels) return;
  const int64_t pixel = index / channels;
  const int64_t channel = index % channels;
  const int64_t camera = pixel / image_cells;
  const int64_t hw = pixel % image_cells;
  scalar_t sum = 0;
  for (int64_t d = 0; d < depth_bins; ++d) {
    const int64_t point = (camera * depth_bins + d) * image_cells + hw;
    const int32_t cell = point_cell[point];
    if (cell >= 0) sum += depth[point] * grad_rows[static_cast<int64_t>(cell) * channels + channel];
  }
  grad_context[index] = sum;
}

// One thread per frustum point: the depth gradient is the dot of its cell's gradient and its context row.
template <typename scalar_t>
__global__ void bev_pool_grad_depth_kernel(const scalar_t* __restrict__ grad_rows,
                                           const scalar_t* __restrict__ context,
                                           const int32_t* __restrict__ point_cell, int64_t num_points,
                                           int64_t depth_bins, int64_t image_cells, int64_t channels,
                                           scalar_t* __restrict__ grad_depth) {
  const int64_t point = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (point >= num_points) return;
  const int32_t cell = point_cell[point];
  scalar_t dot = 0;
  if (cell >= 0) {
    const int64_t camera = point / (depth_bins * image_cells);
    const int64_t pixel = camera * image_cells + point % image_cells;
    const scalar_t* grad = grad_rows + static_cast<int64_t>(cell) * channels;
    const scalar_t* row = context + pixel * channels;
    for (int64_t c = 0; c < channels; ++c) dot += grad[c] * row[c];
  }
  grad_depth[point] = dot;
}

template <typename scalar_t>
cudaError_t launch_forward(const scalar_t* depth, const scalar_t* context, const int32_t* cell_start,
                           const int32_t* point_depth_index, const int32_t* point_context_index, int64_t num_cells,
                           int64_t plane_cells, int64_t channels, scalar_t* out, cudaStream_t stream) {
  const int64_t total = num_cells * channels;
  if (total == 0) return cudaSuccess;
  bev_pool_forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
      depth, context, cell_start, point_depth_index, point_context_index, num_cells, plane_cells, channels, out);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t launch_backward(const scalar_t* grad_rows, const scalar_t* depth, const scalar_t* context,
                            const int32_t* point_cell, int64_t num_cameras, int64_t depth_bins, int64_t image_cells,
                            int64_t channels, scalar_t* grad_depth, scalar_t* grad_context, cudaStream_t stream) {
  const int64_t num_pixels = num_cameras * image_cells;
  const int64_t num_points = num_pixels * depth_bins;
  if (num_points > 0) {
    bev_pool_grad_depth_kernel<scalar_t><<<blocks_for(num_points), kThreads, 0, stream>>>(
        grad_rows, context, point_cell, num_points, depth_bins, image_cells, channels, grad_depth);
  }
  if (num_pixels * channels > 0) {
    bev_pool_grad_context_kernel<scalar_t><<<blocks_for(num_pixels * channels), kThreads, 0, stream>>>(
        grad_rows, depth, point_cell, num_pixels, depth_bins, image_cells, channels, grad_context);
  }
  return cudaGetLastError();
}

}  // namespace

#define BEVFUSION_BEV_POOL_LAUNCHERS(scalar_t, suffix)                                                             \
  extern "C" cudaError_t bevfusion_bev_pool_forward_launch_##suffix(                                              \
      const scalar_t* depth, const scalar_t* context, const int32_t* cell_start, const int32_t* point_depth_index, \
      const int32_t* point_context_index, int64_t num_cells, int64_t plane_cells, int64_t channels, scalar_t* out, \
      cudaStream_t stream) {                                                                                       \
    return launch_forward<scalar_t>(depth, context, cell_start, point_depth_index, point_context_index,            \
                                    num_cells, plane_cells, channels, out, stream);                                \
  }                                                                                                                \
  extern "C" cudaError_t bevfusion_bev_pool_backward_launch_##suffix(                                             \
      const scalar_t* grad_rows, const scalar_t* depth, const scalar_t* context, const int32_t* point_cell,        \
      int64_t num_cameras, int64_t depth_bins, int64_t image_cells, int64_t channels, scalar_t* grad_depth,        \
      scalar_t* grad_context, cudaStream_t stream) {                                                               \
    return launch_backward<scalar_t>(grad_rows, depth, context, point_cell, num_cameras, depth_bins, image_cells,  \
                                     channels, grad_depth, grad_context, stream);                                  \
  }

BEVFUSION_BEV_POOL_LAUNCHERS(float, float)
BEVFUSION_BEV_POOL_LAUNCHERS(double, double)
