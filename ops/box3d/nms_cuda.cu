// NMS CUDA kernels and plain launchers (no PyTorch headers).
//
// Each thread compares one box of a 64-box row block with the 64 boxes of a column block and
// writes a 64-bit mask of the later boxes it overlaps; the caller then walks the masks in score
// order on the host, which makes the result identical to the CPU's greedy loop.
#include <cuda_runtime.h>
#include <stdint.h>

#include "box_overlap.h"
#include "nms_common.h"

namespace {

constexpr int kBlockBoxes = 64;

struct BevIouOverlap {
  static constexpr int kWidth = 7;
  float threshold;
  __device__ bool operator()(const float* a, const float* b) const { return bevfusion::box_iou(a, b, true) > threshold; }
};

struct CircleOverlap {
  static constexpr int kWidth = 2;
  float threshold;
  __device__ bool operator()(const float* a, const float* b) const {
    return bevfusion::centers_within(a, b, threshold);
  }
};

// mask[i * col_blocks + c] bit k: box i overlaps box c * 64 + k, for later boxes only.
template <typename Overlap>
__global__ void nms_mask_kernel(const float* __restrict__ rows, int64_t count, Overlap overlap,
                                uint64_t* __restrict__ mask) {
  const int64_t row_block = blockIdx.y;
  const int64_t col_block = blockIdx.x;
  if (col_block < row_block) return;
  const int64_t col_blocks = gridDim.x;
  const int64_t row_start = row_block * kBlockBoxes;
  const int64_t col_start = col_block * kBlockBoxes;
  const int row_size = static_cast<int>(min(count - row_start, static_cast<int64_t>(kBlockBoxes)));
  const int col_size = static_cast<int>(min(count - col_start, static_cast<int64_t>(kBlockBoxes)));
  __shared__ float block_rows[kBlockBoxes * Overlap::kWidth];
  if (threadIdx.x < col_size) {
    for (int k = 0; k < Overlap::kWidth; ++k) {
      block_rows[threadIdx.x * Overlap::kWidth + k] = rows[(col_start + threadIdx.x) * Overlap::kWidth + k];
    }
  }
  __syncthreads();
  if (threadIdx.x >= row_size) return;
  const int64_t i = row_start + threadIdx.x;
  const float* mine = rows + i * Overlap::kWidth;
  uint64_t bits = 0;
  for (int k = row_block == col_block ? threadIdx.x + 1 : 0; k < col_size; ++k) {
    if (overlap(mine, block_rows + k * Overlap::kWidth)) bits |= 1ull << k;
  }
  mask[i * col_blocks + col_block] = bits;
}

template <typename Overlap>
cudaError_t launch_nms_mask(const float* rows, int64_t count, Overlap overlap, uint64_t* mask, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const unsigned int blocks = static_cast<unsigned int>((count + kBlockBoxes - 1) / kBlockBoxes);
  nms_mask_kernel<<<dim3(blocks, blocks), kBlockBoxes, 0, stream>>>(rows, count, overlap, mask);
  return cudaGetLastError();
}

}  // namespace

extern "C" cudaError_t bevfusion_nms_bev_mask_launch(const float* boxes, int64_t count, float iou_threshold,
                                                     uint64_t* mask, cudaStream_t stream) {
  return launch_nms_mask(boxes, count, BevIouOverlap{iou_threshold}, mask, stream);
}

extern "C" cudaError_t bevfusion_circle_nms_mask_launch(const float* centers, int64_t count, float distance_threshold,
                                                        uint64_t* mask, cudaStream_t stream) {
  return launch_nms_mask(centers, count, CircleOverlap{distance_threshold}, mask, stream);
}
