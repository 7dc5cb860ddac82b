// Argument checks shared by the CPU and CUDA bindings of the box ops (host only, uses ATen).
#pragma once

#include <ATen/ATen.h>

namespace bevfusion {

// `tensor` as a contiguous float32 (N, width) matrix, or a clear error naming the op and argument.
inline at::Tensor checked_rows(const at::Tensor& tensor, int64_t width, const char* op, const char* name) {
  TORCH_CHECK(tensor.dim() == 2 && tensor.size(1) == width, op, ": ", name, " must be (N, ", width, "), got ",
              tensor.sizes());
  TORCH_CHECK(tensor.scalar_type() == at::kFloat, op, ": ", name, " must be float32");
  return tensor.contiguous();
}

}  // namespace bevfusion
