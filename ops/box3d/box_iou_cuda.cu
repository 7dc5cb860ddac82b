// box_iou CUDA kernel and a plain launcher (no PyTorch headers).
#include <cuda_runtime.h>
#include <stdint.h>

#include "box_overlap.h"

namespace {

// One thread per output: pair (i, j) of a (rows, cols) matrix, or pair (i, i) when aligned.
__global__ void box_iou_kernel(const float* __restrict__ boxes_a, const float* __restrict__ boxes_b, int64_t rows,
                               int64_t cols, bool aligned, bool bev, float* __restrict__ out) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t total = aligned ? rows : rows * cols;
  if (index >= total) return;
  const int64_t i = aligned ? index : index / cols;
  const int64_t j = aligned ? index : index % cols;
  out[index] = bevfusion::box_iou(boxes_a + 7 * i, boxes_b + 7 * j, bev);
}

}  // namespace

extern "C" cudaError_t bevfusion_box_iou_launch(const float* boxes_a, const float* boxes_b, int64_t rows, int64_t cols,
                                                bool aligned, bool bev, float* out, cudaStream_t stream) {
  const int64_t total = aligned ? rows : rows * cols;
  if (total == 0) return cudaSuccess;
  const int threads = 256;
  const int64_t blocks = (total + threads - 1) / threads;
  box_iou_kernel<<<blocks, threads, 0, stream>>>(boxes_a, boxes_b, rows, cols, aligned, bev, out);
  return cudaGetLastError();
}
