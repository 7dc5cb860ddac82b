// sparse_kernel_map: output sites and per-offset (input, output) pair lists, CPU (OpenMP).
// Input sites go into an open-addressing hash table; every neighbour query is a lookup.
// Each offset's pairs come sorted by output row (the execution kernels rely on it).
// sparse_sort_pairs reorders pairs by another row (the transposed map: backward, inverse).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <vector>

#include "sparse_common.h"
#include "sparse_parallel.h"
#include "sparse_torch.h"

namespace bevfusion {
namespace sparse {
namespace {

constexpr int64_t kEmpty = -1;

// Home slot of a key: 4 consecutive x share one hashed group of 4 adjacent slots (a cache
// line), so neighbour lookups along x, and consecutive outputs, stay in cache.
inline uint64_t home_slot(int64_t key, uint64_t mask) {
  return ((mix_key(key >> 2) << 2) | static_cast<uint64_t>(key & 3)) & mask;
}

int64_t table_capacity(int64_t entries) {
  int64_t capacity = 16;
  while (capacity < 2 * entries) capacity <<= 1;
  return capacity;
}

// Site key -> row, filled serially (so duplicates are reported deterministically), read in parallel.
// Key and row share a slot, so a lookup touches one cache line.
class SiteTable {
 public:
  explicit SiteTable(int64_t entries) : mask_(table_capacity(entries) - 1), slots_(mask_ + 1, Slot{kEmpty, -1}) {}

  bool insert(int64_t key, int32_t row) {
    for (uint64_t slot = home_slot(key, mask_);; slot = (slot + 1) & mask_) {
      if (slots_[slot].key == kEmpty) {
        slots_[slot] = Slot{key, row};
        return true;
      }
      if (slots_[slot].key == key) return false;
    }
  }

  int32_t find(int64_t key) const {
    for (uint64_t slot = home_slot(key, mask_);; slot = (slot + 1) & mask_) {
      if (slots_[slot].key == key) return slots_[slot].row;
      if (slots_[slot].key == kEmpty) return -1;
    }
  }

 private:
  struct Slot {
    int64_t key;
    int32_t row;
  };
  uint64_t mask_;
  std::vector<Slot> slots_;
};

SiteTable build_input_table(const int32_t* sites, int64_t count, const ConvGeometry& g) {
  SiteTable table(count);
  for (int64_t row = 0; row < count; ++row) {
    const int32_t* site = sites + 4 * row;
    TORCH_CHECK(site[0] >= 0 && site[0] < g.batch_size, "sparse_kernel_map: indices row ", row, " has batch ",
                site[0], " outside [0, ", g.batch_size, ")");
    for (int d = 0; d < 3; ++d) {
      TORCH_CHECK(site[d + 1] >= 0 && site[d + 1] < g.in_shape[d], "sparse_kernel_map: indices row ", row,
                  " has coordinate ", site[d + 1], " outside spatial axis ", d, " of size ", g.in_shape[d]);
    }
    TORCH_CHECK(table.insert(site_key(site, g.in_shape), static_cast<int32_t>(row)),
                "sparse_kernel_map: indices row ", row, " repeats an earlier site");
  }
  return table;
}

// Most output sites one input can reach: per axis, ceil(kernel / stride).
int64_t outputs_per_input(const ConvGeometry& g) {
  int64_t reach = 1;
  for (int d = 0; d < 3; ++d) reach *= (g.kernel[d] + g.stride[d] - 1) / g.stride[d];
  return reach;
}

// Every output site with an input in its receptive field, sorted by key (so by (b, z, y, x)).
at::Tensor strided_output_sites(const int32_t* sites, int64_t count, const ConvGeometry& g) {
  const int64_t capacity = table_capacity(count * outputs_per_input(g));
  std::unique_ptr<int64_t[]> keys(new int64_t[capacity]);
  std::fill(keys.get(), keys.get() + capacity, kEmpty);
  const uint64_t mask = capacity - 1;
  int64_t* table = keys.get();
  at::parallel_for(0, count, 1024, [&](int64_t begin, int64_t end) {
    int32_t out[4];
    for (int64_t row = begin; row < end; ++row) {
      for (int k = 0; k < g.num_offsets; ++k) {
        if (!output_site(sites + 4 * row, k, g, out)) continue;
        const int64_t key = site_key(out, g.out_shape);
        for (uint64_t slot = home_slot(key, mask);; slot = (slot + 1) & mask) {
          int64_t expected = kEmpty;
          if (__atomic_compare_exchange_n(table + slot, &expected, key, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
              expected == key) {
            break;
          }
        }
      }
    }
  });
  std::vector<int64_t> unique_keys;
  for (int64_t slot = 0; slot < capacity; ++slot) {
    if (table[slot] != kEmpty) unique_keys.push_back(table[slot]);
  }
  std::sort(unique_keys.begin(), unique_keys.end());
  auto out_sites = at::empty({static_cast<int64_t>(unique_keys.size()), 4}, at::kInt);
  int32_t* out_ptr = out_sites.data_ptr<int32_t>();
  at::parallel_for(0, out_sites.size(0), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) key_to_site(unique_keys[i], g.out_shape, out_ptr + 4 * i);
  });
  return out_sites;
}

struct PairList {
  std::vector<int32_t> gather;
  std::vector<int32_t> scatter;
};
using PairLists = std::vector<PairList>;

// One offset's pairs reordered by scatter row. Within an offset a scatter row occurs at most
// once, so a slot per row sorts in linear time; `slots` (all -1, size of the scatter rows) is
// left all -1 again.
PairList sorted_by_scatter(const std::vector<int32_t>& gather, const std::vector<int32_t>& scatter,
                           std::vector<int32_t>& slots) {
  for (size_t p = 0; p < scatter.size(); ++p) slots[scatter[p]] = gather[p];
  PairList sorted;
  sorted.gather.reserve(scatter.size());
  sorted.scatter.reserve(scatter.size());
  for (int64_t row = 0; row < static_cast<int64_t>(slots.size()); ++row) {
    if (slots[row] < 0) continue;
    sorted.gather.push_back(slots[row]);
    sorted.scatter.push_back(static_cast<int32_t>(row));
    slots[row] = -1;
  }
  return sorted;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> pack_pair_lists(const PairLists& lists,
                                                                           const at::Tensor& out_sites) {
  const int64_t num_offsets = static_cast<int64_t>(lists.size());
  auto pair_offsets = at::empty({num_offsets + 1}, at::kLong);
  int64_t* offsets_ptr = pair_offsets.data_ptr<int64_t>();
  offsets_ptr[0] = 0;
  for (int64_t k = 0; k < num_offsets; ++k) offsets_ptr[k + 1] = offsets_ptr[k] + lists[k].gather.size();
  auto in_idx = at::empty({offsets_ptr[num_offsets]}, at::kInt);
  auto out_idx = at::empty({offsets_ptr[num_offsets]}, at::kInt);
  at::parallel_for(0, num_offsets, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      std::copy(lists[k].gather.begin(), lists[k].gather.end(), in_idx.data_ptr<int32_t>() + offsets_ptr[k]);
      std::copy(lists[k].scatter.begin(), lists[k].scatter.end(), out_idx.data_ptr<int32_t>() + offsets_ptr[k]);
    }
  });
  return {out_sites, in_idx, out_idx, pair_offsets};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sparse_kernel_map_cpu(
    const at::Tensor& indices, at::IntArrayRef in_shape, at::IntArrayRef out_shape, int64_t batch_size,
    at::IntArrayRef kernel_size, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
    bool subm) {
  check_indices(indices);
  const auto g = make_geometry(in_shape, out_shape, batch_size, kernel_size, stride, padding, dilation);
  const auto in_sites = indices.contiguous();
  const int32_t* in_ptr = in_sites.data_ptr<int32_t>();
  const int64_t num_in = in_sites.size(0);
  const SiteTable table = build_input_table(in_ptr, num_in, g);
  const at::Tensor out_sites = subm ? in_sites : strided_output_sites(in_ptr, num_in, g);
  const int32_t* out_ptr = out_sites.data_ptr<int32_t>();
  const int64_t num_out = out_sites.size(0);

  PairLists lists(g.num_offsets);
  // Submanifold maps are symmetric: offset K-1-k holds offset k's pairs reversed, and the
  // centre pairs every row with itself, so only the first half needs lookups.
  const int lookup_offsets = subm ? g.num_offsets / 2 : g.num_offsets;
  parallel_items(lookup_offsets, [] { return 0; }, [&](int64_t k, int&) {
    int32_t site[4];
    for (int64_t o = 0; o < num_out; ++o) {
      if (!input_site(out_ptr + 4 * o, static_cast<int>(k), g, site)) continue;
      const int32_t row = table.find(site_key(site, g.in_shape));
      if (row < 0) continue;
      lists[k].gather.push_back(row);
      lists[k].scatter.push_back(static_cast<int32_t>(o));
    }
  });
  if (subm) {
    const int centre = g.num_offsets / 2;
    lists[centre].gather.resize(num_out);
    for (int64_t o = 0; o < num_out; ++o) lists[centre].gather[o] = static_cast<int32_t>(o);
    lists[centre].scatter = lists[centre].gather;
    const auto make_slots = [&] { return std::vector<int32_t>(num_out, -1); };
    parallel_items(g.num_offsets - centre - 1, make_slots, [&](int64_t item, std::vector<int32_t>& slots) {
      const int64_t k = centre + 1 + item;
      const PairList& mirror = lists[g.num_offsets - 1 - k];
      lists[k] = sorted_by_scatter(mirror.scatter, mirror.gather, slots);
    });
  }
  return pack_pair_lists(lists, subm ? out_sites.clone() : out_sites);
}

std::tuple<at::Tensor, at::Tensor> sparse_sort_pairs_cpu(const at::Tensor& gather_idx, const at::Tensor& scatter_idx,
                                                        at::IntArrayRef pair_offsets, int64_t num_rows) {
  const int64_t num_offsets = static_cast<int64_t>(pair_offsets.size()) - 1;
  TORCH_CHECK(num_offsets >= 1 && gather_idx.scalar_type() == at::kInt && scatter_idx.scalar_type() == at::kInt &&
                  gather_idx.sizes() == scatter_idx.sizes() && pair_offsets.back() == gather_idx.numel(),
              "sparse_sort_pairs: expects int32 pair lists of equal length covered by pair_offsets");
  const auto gather = gather_idx.contiguous();
  const auto scatter = scatter_idx.contiguous();
  auto gather_sorted = at::empty_like(gather);
  auto scatter_sorted = at::empty_like(scatter);
  const auto make_slots = [&] { return std::vector<int32_t>(num_rows, -1); };
  parallel_items(num_offsets, make_slots, [&](int64_t k, std::vector<int32_t>& slots) {
    const int64_t first = pair_offsets[k];
    const int64_t count = pair_offsets[k + 1] - first;
    const std::vector<int32_t> g(gather.data_ptr<int32_t>() + first, gather.data_ptr<int32_t>() + first + count);
    const std::vector<int32_t> s(scatter.data_ptr<int32_t>() + first, scatter.data_ptr<int32_t>() + first + count);
    const PairList sorted = sorted_by_scatter(g, s, slots);
    std::copy(sorted.gather.begin(), sorted.gather.end(), gather_sorted.data_ptr<int32_t>() + first);
    std::copy(sorted.scatter.begin(), sorted.scatter.end(), scatter_sorted.data_ptr<int32_t>() + first);
  });
  return {gather_sorted, scatter_sorted};
}

}  // namespace sparse
}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def("sparse_sort_pairs(Tensor gather_idx, Tensor scatter_idx, int[] pair_offsets, int num_rows) -> (Tensor, Tensor)");
  m.def(
      "sparse_kernel_map(Tensor indices, int[] in_shape, int[] out_shape, int batch_size, int[] kernel_size, "
      "int[] stride, int[] padding, int[] dilation, bool subm) -> (Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) {
  m.impl("sparse_kernel_map", &bevfusion::sparse::sparse_kernel_map_cpu);
  m.impl("sparse_sort_pairs", &bevfusion::sparse::sparse_sort_pairs_cpu);
}
