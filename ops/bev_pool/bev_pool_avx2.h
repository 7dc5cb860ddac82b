// float32 bev_pool forward for x86-64 CPUs with AVX2 and FMA, chosen at run time.
//
// The library is built for baseline x86-64 (SSE2) so that it runs everywhere; these functions
// carry their own target attribute and are called only where `bev_pool_avx2_supported()`.
// A cell's sums for up to 96 channels stay in registers over its points, and tiles are
// written to the output with streaming stores: the output is the largest stream of the
// pass and is not read back by it, so bypassing the caches saves its read-for-ownership.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#define BEVFUSION_BEV_POOL_AVX2 1

namespace bevfusion {

struct BEVPoolForwardInputs {
  const float* depth;               // (B, N, D, fH, fW)
  const float* context;             // (B*N*fH*fW, channels) rows
  const int32_t* cell_start;        // CSR offsets per cell rank
  const int32_t* point_depth_index;  // sorted by cell rank
  const int32_t* point_context_index;
  int64_t num_points;
  int64_t channels;
};

bool bev_pool_avx2_supported();

// tile[c * tile_stride + k] = sum over the points of cell first_cell + k of depth * context[c],
// for k in [0, count).
void bev_pool_sum_cells_avx2(const BEVPoolForwardInputs& inputs, int64_t first_cell, int64_t count, float* tile,
                             int64_t tile_stride);

// out[c * plane_stride + k] = tile[c * tile_stride + k] for k in [0, count), with streaming stores.
void bev_pool_stream_tile_avx2(const float* tile, int64_t tile_stride, int64_t channels, int64_t count, float* out,
                               int64_t plane_stride);

// Orders this thread's streaming stores before anything it does next; call once per thread.
void bev_pool_stream_fence();

}  // namespace bevfusion

#endif  // __x86_64__
