// bev_pool: schemas, CPU kernels (OpenMP) and CPU registration.
//
// Layouts (see ops/bev_pool/geometry.py for how the index tensors are built):
//   depth   (B, N, D, fH, fW)   one weight per frustum point
//   context (B, N, fH, fW, C)   one feature row per pixel
//   out     (B, nz*C, nx, ny)   channel z*C + c; plane = b*nz + z; cell rank = plane*nx*ny + x*ny + y
//   cell_start (num_cells + 1)  CSR offsets: the points of cell r are [cell_start[r], cell_start[r+1])
//   point_depth_index / point_context_index (P)  sorted by cell rank: flat depth index and pixel row
//   point_cell (B*N*D*fH*fW)    the cell rank of every frustum point in depth order, -1 when dropped
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "../csrc/huge_pages.h"
#include "bev_pool_avx2.h"
#include "bev_pool_checks.h"
#include "prefetch_row.h"

namespace bevfusion {
namespace {

// Cells summed into one channel-major local tile before it is copied out channel by channel,
// so each output channel plane receives kCellTile contiguous values. Writing the output is
// the largest part of the traffic floor (most cells are empty but still written); runs of 64
// cells took the forward pass from 30 ms to 24 ms at the paper's workload (2-core EPYC).
constexpr int64_t kCellTile = 64;

// Both passes are bound by the latency of gathering rows scattered over megabytes, not by
// arithmetic, so rows are prefetched ahead of use: the forward pass one cell ahead, the
// backward pass this many depth bins ahead.
constexpr int64_t kPrefetchAhead = 8;

// sums[c * stride] = sum_i weights[i] * rows[i][c] for c in [first_channel, first_channel +
// kWidth): a compile-time width keeps the sums in vector registers across a cell's points.
template <typename scalar_t, int64_t kWidth>
inline void sum_rows_block(const scalar_t* __restrict__ weights, const scalar_t* const* __restrict__ rows,
                           int64_t count, int64_t first_channel, scalar_t* __restrict__ sums, int64_t stride) {
  scalar_t block[kWidth] = {};
  for (int64_t i = 0; i < count; ++i) {
    const scalar_t weight = weights[i];
    const scalar_t* __restrict__ row = rows[i] + first_channel;
#pragma omp simd
    for (int64_t c = 0; c < kWidth; ++c) block[c] += weight * row[c];
  }
  for (int64_t c = 0; c < kWidth; ++c) sums[(first_channel + c) * stride] = block[c];
}

// The weights and context rows of one cell's points, gathered (and their rows prefetched)
// one cell ahead of the summation, which hides the latency of the scattered rows.
template <typename scalar_t>
struct CellPoints {
  std::vector<scalar_t> weights;
  std::vector<const scalar_t*> rows;
  int64_t size = 0;

  void gather(const scalar_t* depth, const scalar_t* context, const int32_t* point_depth_index,
              const int32_t* point_context_index, int64_t begin, int64_t end, int64_t channels) {
    size = end - begin;
    if (static_cast<int64_t>(weights.size()) < size) {
      weights.resize(size);
      rows.resize(size);
    }
    for (int64_t i = 0; i < size; ++i) {
      weights[i] = depth[point_depth_index[begin + i]];
      rows[i] = context + static_cast<int64_t>(point_context_index[begin + i]) * channels;
      prefetch_row(rows[i], channels);
    }
  }
};

template <typename scalar_t>
void sum_cell(const CellPoints<scalar_t>& points, int64_t channels, scalar_t* __restrict__ sums, int64_t stride) {
  constexpr int64_t kBlock = 64 / sizeof(scalar_t);
  int64_t c = 0;
  for (; c + kBlock <= channels; c += kBlock) {
    sum_rows_block<scalar_t, kBlock>(points.weights.data(), points.rows.data(), points.size, c, sums, stride);
  }
  for (; c < channels; ++c) {
    scalar_t sum = 0;
    for (int64_t i = 0; i < points.size; ++i) sum += points.weights[i] * points.rows[i][c];
    sums[c * stride] = sum;
  }
}

// The portable path (any dtype, any CPU): cell by cell, each cell's points gathered one cell ahead.
template <typename scalar_t>
void sum_cells_portable(const scalar_t* depth, const scalar_t* context, const int32_t* cell_start,
                        const int32_t* point_depth_index, const int32_t* point_context_index, int64_t channels,
                        int64_t first_cell, int64_t count, scalar_t* tile, CellPoints<scalar_t>& current,
                        CellPoints<scalar_t>& next) {
  next.gather(depth, context, point_depth_index, point_context_index, cell_start[first_cell],
              cell_start[first_cell + 1], channels);
  for (int64_t k = 0; k < count; ++k) {
    std::swap(current, next);
    const int64_t cell = first_cell + k;
    if (k + 1 < count) {
      next.gather(depth, context, point_depth_index, point_context_index, cell_start[cell + 1], cell_start[cell + 2],
                  channels);
    }
    sum_cell(current, channels, tile + k, kCellTile);
  }
}

template <typename scalar_t>
void bev_pool_forward_kernel(const scalar_t* __restrict__ depth, const scalar_t* __restrict__ context,
                             const int32_t* __restrict__ cell_start, const int32_t* __restrict__ point_depth_index,
                             const int32_t* __restrict__ point_context_index, int64_t num_points, int64_t num_planes,
                             int64_t plane_cells, int64_t channels, scalar_t* __restrict__ out) {
  const int64_t tiles_per_plane = (plane_cells + kCellTile - 1) / kCellTile;
#ifdef BEVFUSION_BEV_POOL_AVX2
  constexpr bool kIsFloat = std::is_same_v<scalar_t, float>;
  const bool vectorised = kIsFloat && bev_pool_avx2_supported();
#endif
#pragma omp parallel
  {
    std::vector<scalar_t> tile_sums(kCellTile * channels);
    CellPoints<scalar_t> current, next;
#pragma omp for schedule(dynamic, 32)
    for (int64_t tile = 0; tile < num_planes * tiles_per_plane; ++tile) {
      const int64_t plane = tile / tiles_per_plane;
      const int64_t first = (tile % tiles_per_plane) * kCellTile;
      const int64_t count = std::min(kCellTile, plane_cells - first);
      const int64_t first_cell = plane * plane_cells + first;
      scalar_t* out_tile = out + plane * channels * plane_cells + first;
#ifdef BEVFUSION_BEV_POOL_AVX2
      if constexpr (kIsFloat) {
        if (vectorised) {
          const BEVPoolForwardInputs inputs{depth, context, cell_start, point_depth_index, point_context_index,
                                            num_points, channels};
          bev_pool_sum_cells_avx2(inputs, first_cell, count, tile_sums.data(), kCellTile);
          bev_pool_stream_tile_avx2(tile_sums.data(), kCellTile, channels, count, out_tile, plane_cells);
          continue;
        }
      }
#endif
      sum_cells_portable(depth, context, cell_start, point_depth_index, point_context_index, channels, first_cell,
                         count, tile_sums.data(), current, next);
      for (int64_t c = 0; c < channels; ++c) {
        std::copy_n(tile_sums.data() + c * kCellTile, count, out_tile + c * plane_cells);
      }
    }
#ifdef BEVFUSION_BEV_POOL_AVX2
    if (vectorised) bev_pool_stream_fence();
#endif
  }
}

// One pass over pixels: each pixel owns its context gradient row and the depth gradients of
// its D points, so no two threads ever write the same element (no atomics needed).
template <typename scalar_t>
void bev_pool_backward_kernel(const scalar_t* __restrict__ grad_rows, const scalar_t* __restrict__ depth,
                              const scalar_t* __restrict__ context, const int32_t* __restrict__ point_cell,
                              int64_t num_cameras, int64_t depth_bins, int64_t image_cells, int64_t channels,
                              scalar_t* __restrict__ grad_depth, scalar_t* __restrict__ grad_context) {
#pragma omp parallel
  {
    std::vector<scalar_t> sums(channels);
#pragma omp for schedule(static)
    for (int64_t pixel = 0; pixel < num_cameras * image_cells; ++pixel) {
      const int64_t camera = pixel / image_cells;
      const int64_t hw = pixel % image_cells;
      const scalar_t* __restrict__ row = context + pixel * channels;
      std::fill(sums.begin(), sums.end(), scalar_t(0));
      scalar_t* __restrict__ acc = sums.data();
      for (int64_t d = 0; d < depth_bins; ++d) {
        const int64_t point = (camera * depth_bins + d) * image_cells + hw;
        if (d + kPrefetchAhead < depth_bins) {
          const int32_t ahead = point_cell[point + kPrefetchAhead * image_cells];
          if (ahead >= 0) prefetch_row(grad_rows + static_cast<int64_t>(ahead) * channels, channels);
        }
        const int32_t cell = point_cell[point];
        if (cell < 0) {
          grad_depth[point] = scalar_t(0);
          continue;
        }
        const scalar_t* __restrict__ grad = grad_rows + static_cast<int64_t>(cell) * channels;
        const scalar_t weight = depth[point];
        scalar_t dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < channels; ++c) {
          dot += grad[c] * row[c];
          acc[c] += weight * grad[c];
        }
        grad_depth[point] = dot;
      }
      std::copy(acc, acc + channels, grad_context + pixel * channels);
    }
  }
}

}  // namespace

void bev_pool_forward_cpu(const at::Tensor& depth, const at::Tensor& context, const at::Tensor& cell_start,
                          const at::Tensor& point_depth_index, const at::Tensor& point_context_index,
                          const at::Tensor& out) {
  const auto [num_planes, plane_cells] =
      bev_pool_check_forward(depth, context, cell_start, point_depth_index, point_context_index, out);
  advise_huge_pages(out.data_ptr(), out.nbytes());
  AT_DISPATCH_FLOATING_TYPES(depth.scalar_type(), "bev_pool_forward_cpu", [&] {
    bev_pool_forward_kernel<scalar_t>(depth.data_ptr<scalar_t>(), context.data_ptr<scalar_t>(),
                                      cell_start.data_ptr<int32_t>(), point_depth_index.data_ptr<int32_t>(),
                                      point_context_index.data_ptr<int32_t>(), point_depth_index.numel(),
                                      num_planes, plane_cells, context.size(4), out.data_ptr<scalar_t>());
  });
}

std::tuple<at::Tensor, at::Tensor> bev_pool_backward_cpu(const at::Tensor& grad_out, const at::Tensor& depth,
                                                         const at::Tensor& context, const at::Tensor& point_cell) {
  const auto grad_rows = bev_pool_check_backward(grad_out, depth, context, point_cell);
  auto grad_depth = at::empty_like(depth);
  auto grad_context = at::empty_like(context);
  AT_DISPATCH_FLOATING_TYPES(depth.scalar_type(), "bev_pool_backward_cpu", [&] {
    bev_pool_backward_kernel<scalar_t>(grad_rows.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(),
                                       context.data_ptr<scalar_t>(), point_cell.data_ptr<int32_t>(),
                                       depth.size(0) * depth.size(1), depth.size(2), depth.size(3) * depth.size(4),
                                       context.size(4), grad_depth.data_ptr<scalar_t>(),
                                       grad_context.data_ptr<scalar_t>());
  });
  return {grad_depth, grad_context};
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def(
      "bev_pool_forward(Tensor depth, Tensor context, Tensor cell_start, Tensor point_depth_index, "
      "Tensor point_context_index, Tensor(a!) out) -> ()");
  m.def("bev_pool_backward(Tensor grad_out, Tensor depth, Tensor context, Tensor point_cell) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) {
  m.impl("bev_pool_forward", &bevfusion::bev_pool_forward_cpu);
  m.impl("bev_pool_backward", &bevfusion::bev_pool_backward_cpu);
}
