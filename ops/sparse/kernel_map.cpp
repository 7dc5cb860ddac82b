// sparse_kernel_map: output sites and per-offset (input, output) pair lists, CPU (OpenMP).
// Input sites go into an open-addressing hash table; every neighbour query is a lookup.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <vector>

#include "sparse_common.h"
#include "sparse_torch.h"

namespace bevfusion {
namespace sparse {
namespace {

constexpr int64_t kEmpty = -1;

int64_t table_capacity(int64_t entries) {
  int64_t capacity = 16;
  while (capacity < 2 * entries) capacity <<= 1;
  return capacity;
}

// Site key -> row, filled serially (so duplicates are reported deterministically), read in parallel.
class SiteTable {
 public:
  explicit SiteTable(int64_t entries)
      : mask_(table_capacity(entries) - 1), keys_(mask_ + 1, kEmpty), rows_(mask_ + 1, -1) {}

  bool insert(int64_t key, int32_t row) {
    for (uint64_t slot = mix_key(key) & mask_;; slot = (slot + 1) & mask_) {
      if (keys_[slot] == kEmpty) {
        keys_[slot] = key;
        rows_[slot] = row;
        return true;
      }
      if (keys_[slot] == key) return false;
    }
  }

  int32_t find(int64_t key) const {
    for (uint64_t slot = mix_key(key) & mask_;; slot = (slot + 1) & mask_) {
      if (keys_[slot] == key) return rows_[slot];
      if (keys_[slot] == kEmpty) return -1;
    }
  }

 private:
  uint64_t mask_;
  std::vector<int64_t> keys_;
  std::vector<int32_t> rows_;
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
        for (uint64_t slot = mix_key(key) & mask;; slot = (slot + 1) & mask) {
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

  // Per offset, walk the outputs in order: each list is sorted by output row, and within
  // one offset an output meets at most one input (and an input at most one output).
  std::vector<std::vector<int32_t>> pair_in(g.num_offsets), pair_out(g.num_offsets);
  at::parallel_for(0, g.num_offsets, 1, [&](int64_t begin, int64_t end) {
    int32_t site[4];
    for (int64_t k = begin; k < end; ++k) {
      for (int64_t o = 0; o < num_out; ++o) {
        if (!input_site(out_ptr + 4 * o, static_cast<int>(k), g, site)) continue;
        const int32_t row = table.find(site_key(site, g.in_shape));
        if (row < 0) continue;
        pair_in[k].push_back(row);
        pair_out[k].push_back(static_cast<int32_t>(o));
      }
    }
  });
  auto pair_offsets = at::empty({g.num_offsets + 1}, at::kLong);
  int64_t* offsets_ptr = pair_offsets.data_ptr<int64_t>();
  offsets_ptr[0] = 0;
  for (int k = 0; k < g.num_offsets; ++k) offsets_ptr[k + 1] = offsets_ptr[k] + pair_in[k].size();
  auto in_idx = at::empty({offsets_ptr[g.num_offsets]}, at::kInt);
  auto out_idx = at::empty({offsets_ptr[g.num_offsets]}, at::kInt);
  at::parallel_for(0, g.num_offsets, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      std::copy(pair_in[k].begin(), pair_in[k].end(), in_idx.data_ptr<int32_t>() + offsets_ptr[k]);
      std::copy(pair_out[k].begin(), pair_out[k].end(), out_idx.data_ptr<int32_t>() + offsets_ptr[k]);
    }
  });
  return {subm ? out_sites.clone() : out_sites, in_idx, out_idx, pair_offsets};
}

}  // namespace sparse
}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def(
      "sparse_kernel_map(Tensor indices, int[] in_shape, int[] out_shape, int batch_size, int[] kernel_size, "
      "int[] stride, int[] padding, int[] dilation, bool subm) -> (Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) { m.impl("sparse_kernel_map", &bevfusion::sparse::sparse_kernel_map_cpu); }
