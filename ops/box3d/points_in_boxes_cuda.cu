// points_in_boxes CUDA kernel and a plain launcher (no PyTorch headers).
#include <cuda_runtime.h>
#include <stdint.h>

#include "box3d_common.h"

namespace {

__global__ void points_in_boxes_kernel(const float* __restrict__ points, int64_t num_points,
                                       const float* __restrict__ boxes, int64_t num_boxes,
                                       bool* __restrict__ out) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= num_points * num_boxes) return;
  const int64_t point = index / num_boxes;
  const int64_t box = index % num_boxes;
  out[index] = bevfusion::point_in_box(points + 3 * point, boxes + 7 * box);
}

}  // namespace

extern "C" cudaError_t bevfusion_points_in_boxes_launch(const float* points, int64_t num_points,
                                                        const float* boxes, int64_t num_boxes, bool* out,
                                                        cudaStream_t stream) {
  const int64_t total = num_points * num_boxes;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const int64_t blocks = (total + threads - 1) / threads;
  points_in_boxes_kernel<<<blocks, threads, 0, stream>>>(points, num_points, boxes, num_boxes, out);
  return cudaGetLastError();
}
