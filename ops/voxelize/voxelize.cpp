// Voxelization: schemas, CPU kernels (OpenMP) and CPU registration.
//
// Voxel ids are computed in parallel; voxels are then numbered by one serial pass in point
// order through an open-addressing hash table, so the result is first-come and never
// depends on the thread count. Features are finally copied or averaged into the voxels.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "voxel_grid.h"
#include "voxelize_args.h"

namespace bevfusion {
namespace {

std::vector<int64_t> voxel_ids_of(const float* points, int64_t num_points, int64_t channels, const VoxelGrid& grid) {
  std::vector<int64_t> ids(num_points);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < num_points; ++p) ids[p] = voxel_id(points + p * channels, grid);
  return ids;
}

// Open-addressing (linear probing) map from a voxel id to its first-come number. `Key` is
// uint32_t when every id of the grid fits (half the memory per entry), else uint64_t; the
// stored key is id + 1 so that 0 marks an empty entry.
template <typename Key>
class VoxelTable {
 public:
  explicit VoxelTable(int64_t expected_keys) {
    int64_t capacity = 16;
    while (capacity < 2 * expected_keys) capacity *= 2;
    mask_ = static_cast<uint64_t>(capacity - 1);
    shift_ = 64 - __builtin_ctzll(static_cast<uint64_t>(capacity));
    entries_.assign(capacity, Entry{0, 0});
  }

  void prefetch(int64_t id) const { __builtin_prefetch(&entries_[home(id)]); }

  // The voxel number stored for `id`; `inserted` tells whether the entry was just created.
  int32_t& find_or_insert(int64_t id, bool& inserted) {
    const Key key = static_cast<Key>(id + 1);
    for (uint64_t slot = home(id);; slot = (slot + 1) & mask_) {
      Entry& entry = entries_[slot];
      if (entry.key == key || entry.key == 0) {
        inserted = entry.key == 0;
        entry.key = key;
        return entry.voxel;
      }
    }
  }

 private:
  struct Entry {
    Key key;
    int32_t voxel;
  };
  uint64_t home(int64_t id) const { return (static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> shift_; }

  std::vector<Entry> entries_;
  uint64_t mask_;
  int shift_;
};

// Which voxel and slot each point lands in. Voxels are numbered in order of their first point;
// a point's slot counts the earlier points of its voxel. Points past `max_points` in a voxel, in
// voxels past `max_voxels`, or outside the grid get voxel -1.
struct Assignment {
  std::vector<int32_t> point_voxel;
  std::vector<int32_t> point_slot;
  std::vector<int64_t> voxel_ids;
  std::vector<int32_t> voxel_counts;
};

template <typename Key>
Assignment assign_first_come(const std::vector<int64_t>& ids, int64_t max_points, int64_t max_voxels) {
  constexpr int64_t kPrefetchDistance = 16;
  const int64_t num_points = static_cast<int64_t>(ids.size());
  Assignment result;
  result.point_voxel.assign(num_points, -1);
  result.point_slot.assign(num_points, 0);
  VoxelTable<Key> table(num_points);
  int64_t previous_id = -1;
  int32_t voxel = -1;
  for (int64_t p = 0; p < num_points; ++p) {
    if (p + kPrefetchDistance < num_points && ids[p + kPrefetchDistance] >= 0) {
      table.prefetch(ids[p + kPrefetchDistance]);
    }
    const int64_t id = ids[p];
    if (id < 0) continue;
    if (id != previous_id) {  // scan order puts runs of points in one voxel: skip the lookup
      bool inserted;
      int32_t& entry = table.find_or_insert(id, inserted);
      if (inserted) {
        const int64_t next = static_cast<int64_t>(result.voxel_ids.size());
        entry = next < max_voxels ? static_cast<int32_t>(next) : -1;
        if (entry >= 0) {
          result.voxel_ids.push_back(id);
          result.voxel_counts.push_back(0);
        }
      }
      voxel = entry;
      previous_id = id;
    }
    if (voxel < 0 || result.voxel_counts[voxel] >= max_points) continue;
    result.point_voxel[p] = voxel;
    result.point_slot[p] = result.voxel_counts[voxel]++;
  }
  return result;
}

Assignment assign_first_come(const std::vector<int64_t>& ids, const VoxelGrid& grid, int64_t max_points,
                             int64_t max_voxels) {
  const int64_t volume = grid.dims[0] * grid.dims[1] * grid.dims[2];
  if (volume < static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    return assign_first_come<uint32_t>(ids, max_points, max_voxels);
  }
  return assign_first_come<uint64_t>(ids, max_points, max_voxels);
}

at::Tensor voxel_coords(const Assignment& assignment, const VoxelGrid& grid) {
  const int64_t num_voxels = static_cast<int64_t>(assignment.voxel_ids.size());
  auto coords = at::empty({num_voxels, 3}, at::kInt);
  int32_t* out = coords.data_ptr<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < num_voxels; ++v) voxel_zyx(assignment.voxel_ids[v], grid, out + 3 * v);
  return coords;
}

at::Tensor voxel_counts(const Assignment& assignment) {
  const int64_t num_voxels = static_cast<int64_t>(assignment.voxel_counts.size());
  auto counts = at::empty({num_voxels}, at::kInt);
  std::memcpy(counts.data_ptr<int32_t>(), assignment.voxel_counts.data(), num_voxels * sizeof(int32_t));
  return counts;
}

// (V, max_points, C): each kept point copied to its slot, the rest zero. Only the unused tail of
// each voxel is cleared, so every byte of the output is written once.
at::Tensor padded_voxels(const float* points, int64_t channels, const Assignment& assignment, int64_t max_points) {
  const int64_t num_points = static_cast<int64_t>(assignment.point_voxel.size());
  const int64_t num_voxels = static_cast<int64_t>(assignment.voxel_ids.size());
  auto voxels = at::empty({num_voxels, max_points, channels}, at::kFloat);
  float* out = voxels.data_ptr<float>();
  const int64_t row = max_points * channels;
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t v = 0; v < num_voxels; ++v) {
      for (int64_t i = assignment.voxel_counts[v] * channels; i < row; ++i) out[v * row + i] = 0.0f;
    }
#pragma omp for schedule(static)
    for (int64_t p = 0; p < num_points; ++p) {
      const int32_t voxel = assignment.point_voxel[p];
      if (voxel < 0) continue;
      float* dst = out + voxel * row + assignment.point_slot[p] * channels;
      for (int64_t c = 0; c < channels; ++c) dst[c] = points[p * channels + c];
    }
  }
  return voxels;
}

// (V, C): the mean of each voxel's kept points, summed in point order.
at::Tensor mean_voxels(const float* points, int64_t channels, const Assignment& assignment) {
  const int64_t num_points = static_cast<int64_t>(assignment.point_voxel.size());
  const int64_t num_voxels = static_cast<int64_t>(assignment.voxel_ids.size());
  auto means = at::zeros({num_voxels, channels}, at::kFloat);
  float* out = means.data_ptr<float>();
  for (int64_t p = 0; p < num_points; ++p) {
    const int32_t voxel = assignment.point_voxel[p];
    if (voxel < 0) continue;
    for (int64_t c = 0; c < channels; ++c) out[voxel * channels + c] += points[p * channels + c];
  }
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < num_voxels; ++v) {
    const float count = static_cast<float>(assignment.voxel_counts[v]);
    for (int64_t c = 0; c < channels; ++c) out[v * channels + c] /= count;
  }
  return means;
}

}  // namespace

at::Tensor dynamic_voxelize_cpu(const at::Tensor& points, at::ArrayRef<double> voxel_size,
                                at::ArrayRef<double> grid_min, at::ArrayRef<int64_t> grid_dims) {
  const auto pts = checked_points(points, "dynamic_voxelize");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "dynamic_voxelize");
  const int64_t num_points = pts.size(0);
  const int64_t channels = pts.size(1);
  auto coords = at::empty({num_points, 3}, at::kInt);
  const float* p = pts.data_ptr<float>();
  int32_t* out = coords.data_ptr<int32_t>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < num_points; ++i) {
    if (!voxel_cell(p + i * channels, grid, out + 3 * i)) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = -1;
  }
  return coords;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> hard_voxelize_cpu(const at::Tensor& points,
                                                                 at::ArrayRef<double> voxel_size,
                                                                 at::ArrayRef<double> grid_min,
                                                                 at::ArrayRef<int64_t> grid_dims, int64_t max_points,
                                                                 int64_t max_voxels, bool mean) {
  const auto pts = checked_points(points, "hard_voxelize");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "hard_voxelize");
  TORCH_CHECK(max_points > 0 && max_voxels > 0, "hard_voxelize: max_points and max_voxels must be positive");
  const float* p = pts.data_ptr<float>();
  const int64_t channels = pts.size(1);
  const Assignment assignment = assign_first_come(voxel_ids_of(p, pts.size(0), channels, grid), grid, max_points,
                                                  std::min<int64_t>(max_voxels, std::numeric_limits<int32_t>::max()));
  auto voxels = mean ? mean_voxels(p, channels, assignment) : padded_voxels(p, channels, assignment, max_points);
  return {voxels, voxel_coords(assignment, grid), voxel_counts(assignment)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dynamic_voxelize_mean_cpu(const at::Tensor& points,
                                                                         at::ArrayRef<double> voxel_size,
                                                                         at::ArrayRef<double> grid_min,
                                                                         at::ArrayRef<int64_t> grid_dims) {
  const auto pts = checked_points(points, "dynamic_voxelize_mean");
  const VoxelGrid grid = make_grid(voxel_size, grid_min, grid_dims, "dynamic_voxelize_mean");
  const float* p = pts.data_ptr<float>();
  const int64_t channels = pts.size(1);
  const int64_t unlimited = std::numeric_limits<int32_t>::max();
  const Assignment assignment = assign_first_come(voxel_ids_of(p, pts.size(0), channels, grid), grid, unlimited, unlimited);
  auto point_to_voxel = at::empty({pts.size(0)}, at::kLong);
  int64_t* out = point_to_voxel.data_ptr<int64_t>();
  for (int64_t i = 0; i < pts.size(0); ++i) out[i] = assignment.point_voxel[i];
  return {mean_voxels(p, channels, assignment), voxel_coords(assignment, grid), point_to_voxel};
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def("dynamic_voxelize(Tensor points, float[] voxel_size, float[] grid_min, int[] grid_dims) -> Tensor");
  m.def(
      "hard_voxelize(Tensor points, float[] voxel_size, float[] grid_min, int[] grid_dims, int max_points, "
      "int max_voxels, bool mean) -> (Tensor, Tensor, Tensor)");
  m.def(
      "dynamic_voxelize_mean(Tensor points, float[] voxel_size, float[] grid_min, int[] grid_dims) "
      "-> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) {
  m.impl("dynamic_voxelize", &bevfusion::dynamic_voxelize_cpu);
  m.impl("hard_voxelize", &bevfusion::hard_voxelize_cpu);
  m.impl("dynamic_voxelize_mean", &bevfusion::dynamic_voxelize_mean_cpu);
}
