// Argument checks and geometry packing shared by the CPU and CUDA torch bindings.
#pragma once

#include <ATen/ATen.h>

#include "sparse_common.h"

namespace bevfusion {
namespace sparse {

inline void check_triple(const char* name, at::IntArrayRef values, int64_t minimum) {
  TORCH_CHECK(values.size() == 3, "sparse_kernel_map: ", name, " must have 3 entries (z, y, x), got ", values.size());
  for (const auto value : values) {
    TORCH_CHECK(value >= minimum, "sparse_kernel_map: ", name, " entries must be >= ", minimum, ", got ", values);
  }
}

inline ConvGeometry make_geometry(at::IntArrayRef in_shape, at::IntArrayRef out_shape, int64_t batch_size,
                                  at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                  at::IntArrayRef dilation) {
  check_triple("in_shape", in_shape, 1);
  check_triple("out_shape", out_shape, 1);
  check_triple("kernel_size", kernel, 1);
  check_triple("stride", stride, 1);
  check_triple("padding", padding, 0);
  check_triple("dilation", dilation, 1);
  TORCH_CHECK(batch_size >= 1, "sparse_kernel_map: batch_size must be >= 1, got ", batch_size);
  ConvGeometry g;
  for (int d = 0; d < 3; ++d) {
    g.in_shape[d] = static_cast<int>(in_shape[d]);
    g.out_shape[d] = static_cast<int>(out_shape[d]);
    g.kernel[d] = static_cast<int>(kernel[d]);
    g.stride[d] = static_cast<int>(stride[d]);
    g.padding[d] = static_cast<int>(padding[d]);
    g.dilation[d] = static_cast<int>(dilation[d]);
  }
  g.batch_size = static_cast<int>(batch_size);
  g.num_offsets = g.kernel[0] * g.kernel[1] * g.kernel[2];
  return g;
}

inline void check_indices(const at::Tensor& indices) {
  TORCH_CHECK(indices.dim() == 2 && indices.size(1) == 4,
              "sparse_kernel_map: indices must be (N, 4) (batch, z, y, x), got ", indices.sizes());
  TORCH_CHECK(indices.scalar_type() == at::kInt, "sparse_kernel_map: indices must be int32, got ",
              indices.scalar_type());
}

inline void check_execution(const char* op, const at::Tensor& features, const at::Tensor& gather_idx,
                            const at::Tensor& scatter_idx, at::IntArrayRef pair_offsets, int64_t num_offsets) {
  TORCH_CHECK(features.dim() == 2, op, ": features must be (N, C), got ", features.sizes());
  TORCH_CHECK(gather_idx.scalar_type() == at::kInt && scatter_idx.scalar_type() == at::kInt, op,
              ": pair indices must be int32");
  TORCH_CHECK(gather_idx.dim() == 1 && gather_idx.sizes() == scatter_idx.sizes(), op,
              ": pair index lists must be 1-D and of equal length");
  TORCH_CHECK(static_cast<int64_t>(pair_offsets.size()) == num_offsets + 1, op, ": pair_offsets must have ",
              num_offsets + 1, " entries, got ", pair_offsets.size());
  TORCH_CHECK(pair_offsets.front() == 0 && pair_offsets.back() == gather_idx.size(0), op,
              ": pair_offsets must run from 0 to the number of pairs");
}

// Arguments of sparse_gather_mm_scatter, checked the same way by the CPU and CUDA bindings.
inline void check_gather_mm_scatter(const char* op, const at::Tensor& features, const at::Tensor& weight,
                                    const at::Tensor& gather_idx, const at::Tensor& scatter_idx,
                                    at::IntArrayRef pair_offsets) {
  TORCH_CHECK(weight.dim() == 3 && weight.size(1) == features.size(1), op,
              ": weight must be (K, C_in, C_out) matching features (N, C_in); got ", weight.sizes(), " and ",
              features.sizes());
  check_execution(op, features, gather_idx, scatter_idx, pair_offsets, weight.size(0));
  TORCH_CHECK(features.scalar_type() == weight.scalar_type(), op, ": features and weight dtypes differ");
}

}  // namespace sparse
}  // namespace bevfusion
