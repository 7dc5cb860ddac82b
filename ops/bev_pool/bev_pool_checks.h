// Argument checks shared by the CPU and CUDA registrations of bev_pool (host only).
#pragma once

#include <ATen/ATen.h>

namespace bevfusion {

inline void bev_pool_check_inputs(const at::Tensor& depth, const at::Tensor& context) {
  TORCH_CHECK(depth.dim() == 5, "bev_pool: depth must be (B, N, D, fH, fW), got ", depth.sizes());
  TORCH_CHECK(context.dim() == 5, "bev_pool: context must be (B, N, fH, fW, C), got ", context.sizes());
  TORCH_CHECK(depth.size(0) == context.size(0) && depth.size(1) == context.size(1) &&
                  depth.size(3) == context.size(2) && depth.size(4) == context.size(3),
              "bev_pool: depth ", depth.sizes(), " and context ", context.sizes(), " disagree on B, N, fH, fW");
  TORCH_CHECK(depth.scalar_type() == context.scalar_type(), "bev_pool: depth and context dtypes differ");
  TORCH_CHECK(depth.device() == context.device(), "bev_pool: depth and context are on different devices");
  TORCH_CHECK(depth.is_contiguous() && context.is_contiguous(), "bev_pool: depth and context must be contiguous");
}

inline void bev_pool_check_index(const at::Tensor& index, const at::Tensor& like, const char* name) {
  TORCH_CHECK(index.dim() == 1 && index.scalar_type() == at::kInt && index.is_contiguous(), "bev_pool: ", name,
              " must be a contiguous 1-D int32 tensor");
  TORCH_CHECK(index.device() == like.device(), "bev_pool: ", name, " is on ", index.device(), ", inputs on ",
              like.device());
}

// Checks the forward arguments; returns {num_planes = B*nz, plane_cells = nx*ny}.
inline std::pair<int64_t, int64_t> bev_pool_check_forward(const at::Tensor& depth, const at::Tensor& context,
                                                          const at::Tensor& cell_start,
                                                          const at::Tensor& point_depth_index,
                                                          const at::Tensor& point_context_index,
                                                          const at::Tensor& out) {
  bev_pool_check_inputs(depth, context);
  bev_pool_check_index(cell_start, depth, "cell_start");
  bev_pool_check_index(point_depth_index, depth, "point_depth_index");
  bev_pool_check_index(point_context_index, depth, "point_context_index");
  const int64_t channels = context.size(4);
  TORCH_CHECK(out.dim() == 4 && out.size(0) == depth.size(0) && out.size(1) % channels == 0 && out.is_contiguous() &&
                  out.scalar_type() == depth.scalar_type() && out.device() == depth.device(),
              "bev_pool: out must be a contiguous (B, nz*C, nx, ny) tensor of the inputs' dtype and device, got ",
              out.sizes());
  const int64_t num_planes = out.size(0) * (out.size(1) / channels);
  const int64_t plane_cells = out.size(2) * out.size(3);
  TORCH_CHECK(cell_start.numel() == num_planes * plane_cells + 1, "bev_pool: cell_start has ", cell_start.numel(),
              " entries, expected ", num_planes * plane_cells + 1, " for out ", out.sizes());
  TORCH_CHECK(point_depth_index.numel() == point_context_index.numel(),
              "bev_pool: point_depth_index and point_context_index lengths differ");
  return {num_planes, plane_cells};
}

// Checks the backward arguments; returns grad_out as channel-last rows (num_cells, C), one per cell rank.
inline at::Tensor bev_pool_check_backward(const at::Tensor& grad_out, const at::Tensor& depth,
                                          const at::Tensor& context, const at::Tensor& point_cell) {
  bev_pool_check_inputs(depth, context);
  bev_pool_check_index(point_cell, depth, "point_cell");
  TORCH_CHECK(point_cell.numel() == depth.numel(), "bev_pool: point_cell must have one entry per depth element");
  const int64_t channels = context.size(4);
  TORCH_CHECK(grad_out.dim() == 4 && grad_out.size(0) == depth.size(0) && grad_out.size(1) % channels == 0 &&
                  grad_out.scalar_type() == depth.scalar_type() && grad_out.device() == depth.device(),
              "bev_pool: grad_out must be (B, nz*C, nx, ny) of the inputs' dtype and device, got ", grad_out.sizes());
  return grad_out.reshape({-1, channels, grad_out.size(2) * grad_out.size(3)}).transpose(1, 2).contiguous();
}

}  // namespace bevfusion
