// bev_pool geometry on CPU: every frustum point's cell rank, then a stable counting sort by rank.
//
// Same result as the PyTorch path in geometry.py (which CUDA tensors take): a point lands in
// cell floor((p - lower) / step) per axis, computed in the points' dtype; points outside the
// grid (NaN included) get rank -1 and are dropped; kept points are ordered by rank and, within
// a cell, by frustum index. A comparison sort is O(P log P) and the PyTorch path makes a dozen
// passes over the points; ranks are bounded by the cell count, so counting sorts them in O(P).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../csrc/huge_pages.h"

namespace bevfusion {
namespace {

struct GridSpec {
  double lower[3];  // x, y, z
  double step[3];
  int64_t cells[3];  // nx, ny, nz
};

struct FrustumShape {
  int64_t cameras, depth_bins, image_cells;  // per sample: N, D, fH*fW
};

// Walks frustum points in memory order (sample, camera, depth bin, pixel) from any start,
// dividing once there instead of twice or three times at every point (about 10% of the kernel).
struct FrustumCursor {
  int64_t cameras, depth_bins, image_cells;
  int64_t sample, camera, bin, pixel;  // camera within the sample

  FrustumCursor(const FrustumShape& shape, int64_t point)
      : cameras(shape.cameras), depth_bins(shape.depth_bins), image_cells(shape.image_cells) {
    pixel = point % image_cells;
    const int64_t plane = point / image_cells;
    bin = plane % depth_bins;
    camera = plane / depth_bins % cameras;
    sample = plane / depth_bins / cameras;
  }

  void advance() {
    if (++pixel < image_cells) return;
    pixel = 0;
    if (++bin < depth_bins) return;
    bin = 0;
    if (++camera < cameras) return;
    camera = 0;
    ++sample;
  }

  // Row of the point's pixel in context (B*N*fH*fW, C): its depth bin dropped.
  int64_t context_row() const { return (sample * cameras + camera) * image_cells + pixel; }
};

// Ranks of points [begin, end) into point_cell (-1 when outside the grid), counted into counts[rank].
template <typename scalar_t>
void rank_points(const scalar_t* __restrict__ points, const GridSpec& grid, FrustumCursor cursor, int64_t begin,
                 int64_t end, int32_t* __restrict__ point_cell, int32_t* __restrict__ counts) {
  scalar_t lower[3], step[3], size[3];
  for (int axis = 0; axis < 3; ++axis) {
    lower[axis] = static_cast<scalar_t>(grid.lower[axis]);
    step[axis] = static_cast<scalar_t>(grid.step[axis]);
    size[axis] = static_cast<scalar_t>(grid.cells[axis]);
  }
  for (int64_t point = begin; point < end; ++point, cursor.advance()) {
    scalar_t cell[3];
    bool inside = true;
    for (int axis = 0; axis < 3; ++axis) {
      cell[axis] = std::floor((points[point * 3 + axis] - lower[axis]) / step[axis]);
      inside = inside && cell[axis] >= 0 && cell[axis] < size[axis];  // false for NaN
    }
    if (!inside) {
      point_cell[point] = -1;
      continue;
    }
    const int64_t x = static_cast<int64_t>(cell[0]), y = static_cast<int64_t>(cell[1]);
    const int64_t z = static_cast<int64_t>(cell[2]);
    const int64_t rank = ((cursor.sample * grid.cells[2] + z) * grid.cells[0] + x) * grid.cells[1] + y;
    point_cell[point] = static_cast<int32_t>(rank);
    ++counts[rank];
  }
}

// Chunk k covers points [total * k / chunks, total * (k + 1) / chunks).
inline int64_t chunk_begin(int64_t total, int64_t chunks, int64_t chunk) { return total * chunk / chunks; }

template <typename scalar_t>
void rank_chunks(const scalar_t* points, const GridSpec& grid, const FrustumShape& shape, int64_t total,
                 int64_t chunks, int32_t* point_cell, int32_t* counts, int64_t num_cells) {
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t begin = chunk_begin(total, chunks, chunk);
    rank_points(points, grid, FrustumCursor(shape, begin), begin, chunk_begin(total, chunks, chunk + 1), point_cell,
                counts + chunk * num_cells);
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> bev_pool_geometry_cpu(const at::Tensor& frustum_points,
                                                                                  at::ArrayRef<double> lower,
                                                                                  at::ArrayRef<double> step,
                                                                                  at::IntArrayRef cells) {
  TORCH_CHECK(frustum_points.dim() == 6 && frustum_points.size(5) == 3,
              "bev_pool_geometry: frustum_points must be (B, N, D, fH, fW, 3), got ", frustum_points.sizes());
  TORCH_CHECK(lower.size() == 3 && step.size() == 3 && cells.size() == 3,
              "bev_pool_geometry: lower, step and cells need 3 values (x, y, z)");
  const auto points = frustum_points.contiguous();
  const int64_t batch = points.size(0);
  const FrustumShape shape{points.size(1), points.size(2), points.size(3) * points.size(4)};
  const int64_t total = points.numel() / 3;
  const int64_t num_cells = batch * cells[0] * cells[1] * cells[2];
  TORCH_CHECK(total < INT32_MAX && num_cells < INT32_MAX, "bev_pool_geometry: ", total, " points or ", num_cells,
              " cells exceed int32 indices");
  GridSpec grid{{lower[0], lower[1], lower[2]}, {step[0], step[1], step[2]}, {cells[0], cells[1], cells[2]}};

  const auto int_options = points.options().dtype(at::kInt);
  auto point_cell = at::empty({total}, int_options);
  auto cell_start = at::empty({num_cells + 1}, int_options);
  int32_t* point_cell_data = point_cell.data_ptr<int32_t>();
  int32_t* cell_start_data = cell_start.data_ptr<int32_t>();

  // Each thread ranks and later places one contiguous chunk of points; its per-cell counts give
  // it a private write position in every cell, so placement is stable and needs no atomics.
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), total / 65536 + 1));
  std::vector<int32_t> counts(chunks * num_cells, 0);
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "bev_pool_geometry_cpu", [&] {
    rank_chunks(points.data_ptr<scalar_t>(), grid, shape, total, chunks, point_cell_data, counts.data(),
                num_cells);
  });

  // counts[chunk][cell] becomes that chunk's first slot in that cell.
  int64_t kept = 0;
  for (int64_t cell = 0; cell < num_cells; ++cell) {
    cell_start_data[cell] = static_cast<int32_t>(kept);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int32_t count = counts[chunk * num_cells + cell];
      counts[chunk * num_cells + cell] = static_cast<int32_t>(kept);
      kept += count;
    }
  }
  cell_start_data[num_cells] = static_cast<int32_t>(kept);

  auto point_depth_index = at::empty({kept}, int_options);
  auto point_context_index = at::empty({kept}, int_options);
  int32_t* depth_index = point_depth_index.data_ptr<int32_t>();
  int32_t* context_index = point_context_index.data_ptr<int32_t>();
  // Placement writes all over both arrays, so first-touch faults would come one 4 KiB page at a time.
  advise_huge_pages(depth_index, point_depth_index.nbytes());
  advise_huge_pages(context_index, point_context_index.nbytes());
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    int32_t* next_slot = counts.data() + chunk * num_cells;
    const int64_t begin = chunk_begin(total, chunks, chunk), end = chunk_begin(total, chunks, chunk + 1);
    FrustumCursor cursor(shape, begin);
    for (int64_t point = begin; point < end; ++point, cursor.advance()) {
      const int32_t cell = point_cell_data[point];
      if (cell < 0) continue;
      const int32_t slot = next_slot[cell]++;
      depth_index[slot] = static_cast<int32_t>(point);
      context_index[slot] = static_cast<int32_t>(cursor.context_row());
    }
  }
  return {cell_start, point_depth_index, point_context_index, point_cell};
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def(
      "bev_pool_geometry(Tensor frustum_points, float[] lower, float[] step, int[] cells) -> "
      "(Tensor cell_start, Tensor point_depth_index, Tensor point_context_index, Tensor point_cell)");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) { m.impl("bev_pool_geometry", &bevfusion::bev_pool_geometry_cpu); }
