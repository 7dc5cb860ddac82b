// Sparse convolution: CUDA registrations, calling the plain launchers in sparse_conv_cuda.cu.
// GEMMs go through at::mm (cuBLAS); maps use torch's sort/unique around our kernels.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <tuple>

#include "sparse_torch.h"

using bevfusion::sparse::ConvGeometry;

extern "C" {
cudaError_t bevfusion_sparse_site_keys_launch(const int32_t* sites, int64_t count, int shape_z, int shape_y,
                                              int shape_x, int64_t* keys, cudaStream_t stream);
cudaError_t bevfusion_sparse_output_candidates_launch(const int32_t* sites, int64_t count, ConvGeometry geometry,
                                                      int64_t* keys, cudaStream_t stream);
cudaError_t bevfusion_sparse_decode_sites_launch(const int64_t* keys, int64_t count, int shape_z, int shape_y,
                                                 int shape_x, int32_t* sites, cudaStream_t stream);
cudaError_t bevfusion_sparse_neighbours_launch(const int32_t* out_sites, int64_t num_out, ConvGeometry geometry,
                                               const int64_t* sorted_keys, const int64_t* order, int64_t num_in,
                                               int32_t* neighbours, cudaStream_t stream);
cudaError_t bevfusion_sparse_gather_f32_launch(const float* src, int64_t channels, const int32_t* rows, int64_t count,
                                               float* dst, cudaStream_t stream);
cudaError_t bevfusion_sparse_gather_f64_launch(const double* src, int64_t channels, const int32_t* rows,
                                               int64_t count, double* dst, cudaStream_t stream);
cudaError_t bevfusion_sparse_scatter_add_f32_launch(const float* src, int64_t channels, const int32_t* rows,
                                                    int64_t count, float* dst, cudaStream_t stream);
cudaError_t bevfusion_sparse_scatter_add_f64_launch(const double* src, int64_t channels, const int32_t* rows,
                                                    int64_t count, double* dst, cudaStream_t stream);
}

namespace bevfusion {
namespace sparse {
namespace {

void check_launch(cudaError_t status, const char* what) {
  TORCH_CHECK(status == cudaSuccess, what, " CUDA launch failed: ", cudaGetErrorString(status));
}

void check_sites_in_grid(const at::Tensor& sites, const ConvGeometry& g) {
  if (sites.size(0) == 0) return;
  const auto low = sites.amin(0).cpu();
  const auto high = sites.amax(0).cpu();
  const int32_t* lo = low.data_ptr<int32_t>();
  const int32_t* hi = high.data_ptr<int32_t>();
  TORCH_CHECK(lo[0] >= 0 && hi[0] < g.batch_size, "sparse_kernel_map: batch indices must lie in [0, ",
              g.batch_size, "), got [", lo[0], ", ", hi[0], "]");
  for (int d = 0; d < 3; ++d) {
    TORCH_CHECK(lo[d + 1] >= 0 && hi[d + 1] < g.in_shape[d], "sparse_kernel_map: coordinates on spatial axis ", d,
                " must lie in [0, ", g.in_shape[d], "), got [", lo[d + 1], ", ", hi[d + 1], "]");
  }
}

// Row gather / scatter-add through the typed launchers.
void gather(const at::Tensor& src, const int32_t* rows, int64_t count, at::Tensor& dst, cudaStream_t stream) {
  const int64_t channels = src.size(1);
  if (src.scalar_type() == at::kFloat) {
    check_launch(bevfusion_sparse_gather_f32_launch(src.data_ptr<float>(), channels, rows, count,
                                                    dst.data_ptr<float>(), stream),
                 "sparse gather");
  } else {
    check_launch(bevfusion_sparse_gather_f64_launch(src.data_ptr<double>(), channels, rows, count,
                                                    dst.data_ptr<double>(), stream),
                 "sparse gather");
  }
}

void scatter_add(const at::Tensor& src, const int32_t* rows, int64_t count, at::Tensor& dst, cudaStream_t stream) {
  const int64_t channels = src.size(1);
  if (src.scalar_type() == at::kFloat) {
    check_launch(bevfusion_sparse_scatter_add_f32_launch(src.data_ptr<float>(), channels, rows, count,
                                                         dst.data_ptr<float>(), stream),
                 "sparse scatter-add");
  } else {
    check_launch(bevfusion_sparse_scatter_add_f64_launch(src.data_ptr<double>(), channels, rows, count,
                                                         dst.data_ptr<double>(), stream),
                 "sparse scatter-add");
  }
}

void check_floating(const char* op, const at::Tensor& tensor) {
  TORCH_CHECK(tensor.scalar_type() == at::kFloat || tensor.scalar_type() == at::kDouble, op,
              ": CUDA kernels take float32 or float64, got ", tensor.scalar_type());
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sparse_kernel_map_cuda(
    const at::Tensor& indices, at::IntArrayRef in_shape, at::IntArrayRef out_shape, int64_t batch_size,
    at::IntArrayRef kernel_size, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
    bool subm) {
  check_indices(indices);
  const auto g = make_geometry(in_shape, out_shape, batch_size, kernel_size, stride, padding, dilation);
  const c10::cuda::CUDAGuard guard(indices.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const auto sites = indices.contiguous();
  const int64_t num_in = sites.size(0);
  check_sites_in_grid(sites, g);
  auto keys = at::empty({num_in}, sites.options().dtype(at::kLong));
  check_launch(bevfusion_sparse_site_keys_launch(sites.data_ptr<int32_t>(), num_in, g.in_shape[0], g.in_shape[1],
                                                 g.in_shape[2], keys.data_ptr<int64_t>(), stream),
               "sparse site keys");
  at::Tensor sorted_keys, order;
  std::tie(sorted_keys, order) = keys.sort();
  TORCH_CHECK(num_in < 2 || !sorted_keys.slice(0, 1).eq(sorted_keys.slice(0, 0, num_in - 1)).any().item<bool>(),
              "sparse_kernel_map: indices repeat a site");

  at::Tensor out_sites;
  if (subm) {
    out_sites = sites.clone();
  } else {
    auto candidates = at::empty({num_in * g.num_offsets}, keys.options());
    check_launch(bevfusion_sparse_output_candidates_launch(sites.data_ptr<int32_t>(), num_in, g,
                                                           candidates.data_ptr<int64_t>(), stream),
                 "sparse output candidates");
    auto unique_keys = std::get<0>(at::_unique(candidates, /*sorted=*/true));
    unique_keys = unique_keys.masked_select(unique_keys.ne(INT64_MAX)).contiguous();
    out_sites = at::empty({unique_keys.size(0), 4}, sites.options());
    check_launch(bevfusion_sparse_decode_sites_launch(unique_keys.data_ptr<int64_t>(), unique_keys.size(0),
                                                      g.out_shape[0], g.out_shape[1], g.out_shape[2],
                                                      out_sites.data_ptr<int32_t>(), stream),
                 "sparse decode sites");
  }
  const int64_t num_out = out_sites.size(0);
  auto neighbours = at::empty({g.num_offsets, num_out}, sites.options());
  check_launch(bevfusion_sparse_neighbours_launch(out_sites.data_ptr<int32_t>(), num_out, g,
                                                  sorted_keys.data_ptr<int64_t>(), order.data_ptr<int64_t>(), num_in,
                                                  neighbours.data_ptr<int32_t>(), stream),
               "sparse neighbours");
  // Row-major nonzero keeps pairs grouped by offset and sorted by output row, as on CPU.
  const auto found = neighbours.ge(0);
  const auto pairs = found.nonzero();
  const auto offset_of_pair = pairs.select(1, 0);
  const auto out_idx = pairs.select(1, 1).to(at::kInt);
  const auto in_idx = neighbours.index({offset_of_pair, pairs.select(1, 1)}).contiguous();
  auto pair_offsets = at::zeros({g.num_offsets + 1}, at::kLong);
  pair_offsets.slice(0, 1).copy_(found.sum(1).cumsum(0).cpu());
  return {out_sites, in_idx, out_idx, pair_offsets};
}

std::tuple<at::Tensor, at::Tensor> sparse_sort_pairs_cuda(const at::Tensor& gather_idx, const at::Tensor& scatter_idx,
                                                         at::IntArrayRef pair_offsets, int64_t num_rows) {
  const int64_t num_offsets = static_cast<int64_t>(pair_offsets.size()) - 1;
  TORCH_CHECK(num_offsets >= 1 && gather_idx.scalar_type() == at::kInt && scatter_idx.scalar_type() == at::kInt &&
                  gather_idx.sizes() == scatter_idx.sizes() && pair_offsets.back() == gather_idx.numel(),
              "sparse_sort_pairs: expects int32 pair lists of equal length covered by pair_offsets");
  const c10::cuda::CUDAGuard guard(gather_idx.device());
  const auto counts = at::tensor(pair_offsets, at::kLong).diff().to(gather_idx.device());
  const auto offset_of_pair = at::repeat_interleave(at::arange(num_offsets, counts.options()), counts);
  const auto key = offset_of_pair * num_rows + scatter_idx.to(at::kLong);
  // Keys are unique: within an offset a scatter row occurs at most once.
  const auto order = std::get<1>(key.sort());
  return {gather_idx.index_select(0, order), scatter_idx.index_select(0, order)};
}

at::Tensor sparse_gather_mm_scatter_cuda(const at::Tensor& features, const at::Tensor& weight,
                                         const at::Tensor& gather_idx, const at::Tensor& scatter_idx,
                                         at::IntArrayRef pair_offsets, int64_t num_out, int64_t identity_offset) {
  const char* op = "sparse_gather_mm_scatter";
  check_gather_mm_scatter(op, features, weight, gather_idx, scatter_idx, pair_offsets);
  check_floating(op, features);
  const c10::cuda::CUDAGuard guard(features.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const auto in = features.contiguous();
  const auto w = weight.contiguous();
  const auto gather_rows = gather_idx.contiguous();
  const auto scatter_rows = scatter_idx.contiguous();
  auto out = at::zeros({num_out, w.size(2)}, in.options());
  if (identity_offset >= 0) {
    TORCH_CHECK(num_out == in.size(0), op, ": an identity offset needs as many outputs as inputs");
    at::mm_out(out, in, w[identity_offset]);
  }
  for (int64_t k = 0; k < w.size(0); ++k) {
    const int64_t first = pair_offsets[k];
    const int64_t count = pair_offsets[k + 1] - first;
    if (k == identity_offset || count == 0) continue;
    auto gathered = at::empty({count, w.size(1)}, in.options());
    gather(in, gather_rows.data_ptr<int32_t>() + first, count, gathered, stream);
    const auto product = at::mm(gathered, w[k]);
    scatter_add(product, scatter_rows.data_ptr<int32_t>() + first, count, out, stream);
  }
  return out;
}

at::Tensor sparse_weight_grad_cuda(const at::Tensor& features, const at::Tensor& grad_out, const at::Tensor& in_idx,
                                   const at::Tensor& out_idx, at::IntArrayRef pair_offsets) {
  const char* op = "sparse_weight_grad";
  const int64_t num_offsets = static_cast<int64_t>(pair_offsets.size()) - 1;
  check_execution(op, features, in_idx, out_idx, pair_offsets, num_offsets);
  check_floating(op, features);
  TORCH_CHECK(grad_out.dim() == 2 && grad_out.scalar_type() == features.scalar_type(), op,
              ": grad_out must be (N_out, C_out) with the features' dtype");
  const c10::cuda::CUDAGuard guard(features.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const auto in = features.contiguous();
  const auto grad = grad_out.contiguous();
  const auto in_rows = in_idx.contiguous();
  const auto out_rows = out_idx.contiguous();
  auto weight_grad = at::zeros({num_offsets, in.size(1), grad.size(1)}, in.options());
  for (int64_t k = 0; k < num_offsets; ++k) {
    const int64_t first = pair_offsets[k];
    const int64_t count = pair_offsets[k + 1] - first;
    if (count == 0) continue;
    auto gathered_in = at::empty({count, in.size(1)}, in.options());
    auto gathered_grad = at::empty({count, grad.size(1)}, in.options());
    gather(in, in_rows.data_ptr<int32_t>() + first, count, gathered_in, stream);
    gather(grad, out_rows.data_ptr<int32_t>() + first, count, gathered_grad, stream);
    auto target = weight_grad[k];
    at::mm_out(target, gathered_in.t(), gathered_grad);
  }
  return weight_grad;
}

}  // namespace sparse
}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) {
  m.impl("sparse_kernel_map", &bevfusion::sparse::sparse_kernel_map_cuda);
  m.impl("sparse_sort_pairs", &bevfusion::sparse::sparse_sort_pairs_cuda);
  m.impl("sparse_gather_mm_scatter", &bevfusion::sparse::sparse_gather_mm_scatter_cuda);
  m.impl("sparse_weight_grad", &bevfusion::sparse::sparse_weight_grad_cuda);
}
