// AVX2/FMA float32 bev_pool forward (see bev_pool_avx2.h). Compiled only for x86-64; each
// function carries the target attribute, so the rest of the library stays baseline x86-64.
#include "bev_pool_avx2.h"
#include "prefetch_row.h"

#ifdef BEVFUSION_BEV_POOL_AVX2

#include <immintrin.h>

#include <cstdlib>
#include <string_view>

#define BEVFUSION_AVX2 __attribute__((target("avx2,fma")))

namespace bevfusion {
namespace {

constexpr int64_t kLanes = 8;
constexpr int64_t kMaxVectors = 12;  // 96 channels in registers, 4 of the 16 left for the loop
// Rows are gathered from all over the context, so they are prefetched this many points ahead.
constexpr int64_t kPrefetchPoints = 16;

// Channels [first_channel, first_channel + 8 * kVectors) of cells [first_cell, first_cell + count),
// each cell's sums held in registers over its points.
template <int64_t kVectors>
BEVFUSION_AVX2 void sum_cells_channels(const BEVPoolForwardInputs& in, int64_t first_cell, int64_t count,
                                       int64_t first_channel, float* tile, int64_t stride) {
  for (int64_t k = 0; k < count; ++k) {
    __m256 acc[kVectors];
    for (int64_t v = 0; v < kVectors; ++v) acc[v] = _mm256_setzero_ps();
    const int64_t end = in.cell_start[first_cell + k + 1];
    for (int64_t point = in.cell_start[first_cell + k]; point < end; ++point) {
      if (point + kPrefetchPoints < in.num_points) {
        const int64_t ahead = point + kPrefetchPoints;
        __builtin_prefetch(in.depth + in.point_depth_index[ahead]);
        prefetch_row(in.context + int64_t{in.point_context_index[ahead]} * in.channels, in.channels);
      }
      const __m256 weight = _mm256_set1_ps(in.depth[in.point_depth_index[point]]);
      const float* row = in.context + int64_t{in.point_context_index[point]} * in.channels + first_channel;
      for (int64_t v = 0; v < kVectors; ++v) {
        acc[v] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(row + v * kLanes), acc[v]);
      }
    }
    float* sums = tile + first_channel * stride + k;
    for (int64_t v = 0; v < kVectors; ++v) {
      alignas(32) float lanes[kLanes];
      _mm256_store_ps(lanes, acc[v]);
      for (int64_t lane = 0; lane < kLanes; ++lane) sums[(v * kLanes + lane) * stride] = lanes[lane];
    }
  }
}

template <int64_t... kCounts>
struct ChannelBlocks {
  using Fn = void (*)(const BEVPoolForwardInputs&, int64_t, int64_t, int64_t, float*, int64_t);
  static constexpr Fn table[] = {sum_cells_channels<kCounts>...};
};

// The last C % 8 channels, one at a time.
BEVFUSION_AVX2 void sum_cells_tail(const BEVPoolForwardInputs& in, int64_t first_cell, int64_t count,
                                   int64_t first_channel, float* tile, int64_t stride) {
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t c = first_channel; c < in.channels; ++c) {
      float sum = 0.0f;
      for (int64_t point = in.cell_start[first_cell + k]; point < in.cell_start[first_cell + k + 1]; ++point) {
        sum += in.depth[in.point_depth_index[point]] *
               in.context[int64_t{in.point_context_index[point]} * in.channels + c];
      }
      tile[c * stride + k] = sum;
    }
  }
}

// ATEN_CPU_CAPABILITY=default is PyTorch's switch to its portable CPU kernels; it turns this path off too.
bool portable_kernels_requested() {
  const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
  return capability != nullptr && std::string_view(capability) == "default";
}

}  // namespace

bool bev_pool_avx2_supported() {
  static const bool supported =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !portable_kernels_requested();
  return supported;
}

BEVFUSION_AVX2 void bev_pool_sum_cells_avx2(const BEVPoolForwardInputs& inputs, int64_t first_cell, int64_t count,
                                            float* tile, int64_t tile_stride) {
  using Blocks = ChannelBlocks<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>;
  const int64_t vectors = inputs.channels / kLanes;
  // Spread the vectors evenly over as few passes as the registers allow (80 channels: one pass of 10).
  const int64_t passes = (vectors + kMaxVectors - 1) / kMaxVectors;
  int64_t channel = 0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t pass_vectors = (vectors - channel / kLanes + (passes - pass) - 1) / (passes - pass);
    Blocks::table[pass_vectors - 1](inputs, first_cell, count, channel, tile, tile_stride);
    channel += pass_vectors * kLanes;
  }
  sum_cells_tail(inputs, first_cell, count, channel, tile, tile_stride);
}

BEVFUSION_AVX2 void bev_pool_stream_tile_avx2(const float* tile, int64_t tile_stride, int64_t channels, int64_t count,
                                              float* out, int64_t plane_stride) {
  for (int64_t c = 0; c < channels; ++c) {
    const float* source = tile + c * tile_stride;
    float* target = out + c * plane_stride;
    int64_t k = 0;
    for (; k < count && reinterpret_cast<uintptr_t>(target + k) % 32 != 0; ++k) target[k] = source[k];
    for (; k + kLanes <= count; k += kLanes) _mm256_stream_ps(target + k, _mm256_loadu_ps(source + k));
    for (; k < count; ++k) target[k] = source[k];
  }
}

BEVFUSION_AVX2 void bev_pool_stream_fence() { _mm_sfence(); }

}  // namespace bevfusion

#endif  // BEVFUSION_BEV_POOL_AVX2
