// Sparse convolution execution on CPU: per kernel offset, gather input rows, GEMM with the
// offset's (in, out) weight slice, scatter-add into output rows.
//
// Each offset's pairs are sorted by scatter row, so a thread can own a block of output rows
// and run every offset for it: one parallel region per conv, no races, and each output row
// sums its contributions in offset order with GEMMs of the same shapes at any thread count,
// so the result is bit-identical whatever the number of threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "sparse_parallel.h"
#include "sparse_torch.h"

namespace bevfusion {
namespace sparse {
namespace {

// Output rows per block (forward) and pairs per task (weight gradient): large enough to
// amortise a GEMM call, small enough to stay in cache. Fixed, so results do not depend on threads.
constexpr int64_t kBlockRows = 4096;
constexpr int64_t kChunkRows = 1024;

template <typename scalar_t>
void gather_rows(const scalar_t* src, int64_t channels, const int32_t* rows, int64_t count, scalar_t* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const scalar_t* from = src + static_cast<int64_t>(rows[i]) * channels;
    scalar_t* to = dst + i * channels;
    for (int64_t c = 0; c < channels; ++c) to[c] = from[c];
  }
}

template <typename scalar_t>
void scatter_add_rows(const scalar_t* src, int64_t channels, const int32_t* rows, int64_t count, scalar_t* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const scalar_t* from = src + i * channels;
    scalar_t* to = dst + static_cast<int64_t>(rows[i]) * channels;
    for (int64_t c = 0; c < channels; ++c) to[c] += from[c];
  }
}

}  // namespace

at::Tensor sparse_gather_mm_scatter_cpu(const at::Tensor& features, const at::Tensor& weight,
                                        const at::Tensor& gather_idx, const at::Tensor& scatter_idx,
                                        at::IntArrayRef pair_offsets, int64_t num_out, int64_t identity_offset) {
  const char* op = "sparse_gather_mm_scatter";
  check_gather_mm_scatter(op, features, weight, gather_idx, scatter_idx, pair_offsets);
  // Detached: OpenMP workers run with grad mode on, and at::mm_out refuses tensors that require grad.
  const auto in = features.detach().contiguous();
  const auto w = weight.detach().contiguous();
  const auto gather = gather_idx.contiguous();
  const auto scatter = scatter_idx.contiguous();
  const int64_t in_channels = w.size(1);
  const int64_t out_channels = w.size(2);
  auto out = identity_offset >= 0 ? at::empty({num_out, out_channels}, in.options())
                                  : at::zeros({num_out, out_channels}, in.options());
  if (identity_offset >= 0) {
    TORCH_CHECK(num_out == in.size(0), op, ": an identity offset needs as many outputs as inputs");
  }
  std::vector<at::Tensor> slices;
  for (int64_t k = 0; k < w.size(0); ++k) slices.push_back(w[k]);
  const int64_t blocks = (num_out + kBlockRows - 1) / kBlockRows;
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "sparse_conv", [&] {
    const scalar_t* in_ptr = in.data_ptr<scalar_t>();
    scalar_t* out_ptr = out.data_ptr<scalar_t>();
    const int32_t* gather_ptr = gather.data_ptr<int32_t>();
    const int32_t* scatter_ptr = scatter.data_ptr<int32_t>();
    const auto make_buffers = [&] {
      return std::make_pair(at::empty({kBlockRows, in_channels}, in.options()),
                            at::empty({kBlockRows, out_channels}, in.options()));
    };
    parallel_items(blocks, make_buffers, [&](int64_t block, std::pair<at::Tensor, at::Tensor>& buffers) {
      auto& [gathered, product] = buffers;
      const int32_t first_row = static_cast<int32_t>(block * kBlockRows);
      const int32_t last_row = static_cast<int32_t>(std::min(num_out, (block + 1) * kBlockRows));
      if (identity_offset >= 0) {
        auto target = out.narrow(0, first_row, last_row - first_row);
        at::mm_out(target, in.narrow(0, first_row, last_row - first_row), slices[identity_offset]);
      }
      for (int64_t k = 0; k < w.size(0); ++k) {
        if (k == identity_offset) continue;
        const int32_t* segment_end = scatter_ptr + pair_offsets[k + 1];
        const int32_t* lo = std::lower_bound(scatter_ptr + pair_offsets[k], segment_end, first_row);
        const int32_t* hi = std::lower_bound(lo, segment_end, last_row);
        const int64_t count = hi - lo;
        if (count == 0) continue;
        gather_rows(in_ptr, in_channels, gather_ptr + (lo - scatter_ptr), count, gathered.data_ptr<scalar_t>());
        auto target = product.narrow(0, 0, count);
        at::mm_out(target, gathered.narrow(0, 0, count), slices[k]);
        scatter_add_rows(product.data_ptr<scalar_t>(), out_channels, lo, count, out_ptr);
      }
    });
  });
  return out;
}

at::Tensor sparse_weight_grad_cpu(const at::Tensor& features, const at::Tensor& grad_out, const at::Tensor& in_idx,
                                  const at::Tensor& out_idx, at::IntArrayRef pair_offsets) {
  const char* op = "sparse_weight_grad";
  const int64_t num_offsets = static_cast<int64_t>(pair_offsets.size()) - 1;
  check_execution(op, features, in_idx, out_idx, pair_offsets, num_offsets);
  TORCH_CHECK(grad_out.dim() == 2 && grad_out.scalar_type() == features.scalar_type(), op,
              ": grad_out must be (N_out, C_out) with the features' dtype");
  const auto in = features.detach().contiguous();
  const auto grad = grad_out.detach().contiguous();
  const auto in_rows_tensor = in_idx.contiguous();
  const auto out_rows_tensor = out_idx.contiguous();
  const int64_t in_channels = in.size(1);
  const int64_t out_channels = grad.size(1);
  // One task per (offset, chunk); each writes its own partial product, summed in order below.
  std::vector<int64_t> task_offset, task_start, first_task(num_offsets + 1, 0);
  for (int64_t k = 0; k < num_offsets; ++k) {
    first_task[k] = static_cast<int64_t>(task_offset.size());
    for (int64_t start = pair_offsets[k]; start < pair_offsets[k + 1]; start += kChunkRows) {
      task_offset.push_back(k);
      task_start.push_back(start);
    }
  }
  first_task[num_offsets] = static_cast<int64_t>(task_offset.size());
  const int64_t num_tasks = first_task[num_offsets];
  auto partials = at::empty({num_tasks, in_channels, out_channels}, in.options());
  auto weight_grad = at::zeros({num_offsets, in_channels, out_channels}, in.options());
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "sparse_conv", [&] {
    const scalar_t* in_ptr = in.data_ptr<scalar_t>();
    const scalar_t* grad_ptr = grad.data_ptr<scalar_t>();
    const int32_t* in_rows = in_rows_tensor.data_ptr<int32_t>();
    const int32_t* out_rows = out_rows_tensor.data_ptr<int32_t>();
    const auto make_buffers = [&] {
      return std::make_pair(at::empty({kChunkRows, in_channels}, in.options()),
                            at::empty({kChunkRows, out_channels}, in.options()));
    };
    parallel_items(num_tasks, make_buffers, [&](int64_t task, std::pair<at::Tensor, at::Tensor>& buffers) {
      auto& [gathered_in, gathered_grad] = buffers;
      const int64_t start = task_start[task];
      const int64_t length = std::min(kChunkRows, pair_offsets[task_offset[task] + 1] - start);
      gather_rows(in_ptr, in_channels, in_rows + start, length, gathered_in.data_ptr<scalar_t>());
      gather_rows(grad_ptr, out_channels, out_rows + start, length, gathered_grad.data_ptr<scalar_t>());
      auto target = partials[task];
      at::mm_out(target, gathered_in.narrow(0, 0, length).t(), gathered_grad.narrow(0, 0, length));
    });
    const int64_t slice = in_channels * out_channels;
    const scalar_t* partial_ptr = partials.data_ptr<scalar_t>();
    scalar_t* grad_w = weight_grad.data_ptr<scalar_t>();
    at::parallel_for(0, num_offsets, 1, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        for (int64_t task = first_task[k]; task < first_task[k + 1]; ++task) {
          for (int64_t i = 0; i < slice; ++i) grad_w[k * slice + i] += partial_ptr[task * slice + i];
        }
      }
    });
  });
  return weight_grad;
}

}  // namespace sparse
}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def(
      "sparse_gather_mm_scatter(Tensor features, Tensor weight, Tensor gather_idx, Tensor scatter_idx, "
      "int[] pair_offsets, int num_out, int identity_offset) -> Tensor");
  m.def(
      "sparse_weight_grad(Tensor features, Tensor grad_out, Tensor in_idx, Tensor out_idx, int[] pair_offsets) "
      "-> Tensor");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) {
  m.impl("sparse_gather_mm_scatter", &bevfusion::sparse::sparse_gather_mm_scatter_cpu);
  m.impl("sparse_weight_grad", &bevfusion::sparse::sparse_weight_grad_cpu);
}
