// bev_pool: CUDA registration, calling the plain launchers in bev_pool_cuda.cu.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "bev_pool_checks.h"

#define BEVFUSION_DECLARE_BEV_POOL_LAUNCHERS(scalar_t, suffix)                                                     \
  extern "C" cudaError_t bevfusion_bev_pool_forward_launch_##suffix(                                              \
      const scalar_t* depth, const scalar_t* context, const int32_t* cell_start, const int32_t* point_depth_index, \
      const int32_t* point_context_index, int64_t num_cells, int64_t plane_cells, int64_t channels, scalar_t* out, \
      cudaStream_t stream);                                                                                        \
  extern "C" cudaError_t bevfusion_bev_pool_backward_launch_##suffix(                                             \
      const scalar_t* grad_rows, const scalar_t* depth, const scalar_t* context, const int32_t* point_cell,        \
      int64_t num_cameras, int64_t depth_bins, int64_t image_cells, int64_t channels, scalar_t* grad_depth,        \
      scalar_t* grad_context, cudaStream_t stream);

BEVFUSION_DECLARE_BEV_POOL_LAUNCHERS(float, float)
BEVFUSION_DECLARE_BEV_POOL_LAUNCHERS(double, double)

namespace bevfusion {
namespace {

// The launchers for each dtype, picked inside AT_DISPATCH_FLOATING_TYPES.
template <typename scalar_t>
struct Launchers;

template <>
struct Launchers<float> {
  static constexpr auto forward = &bevfusion_bev_pool_forward_launch_float;
  static constexpr auto backward = &bevfusion_bev_pool_backward_launch_float;
};

template <>
struct Launchers<double> {
  static constexpr auto forward = &bevfusion_bev_pool_forward_launch_double;
  static constexpr auto backward = &bevfusion_bev_pool_backward_launch_double;
};

}  // namespace

void bev_pool_forward_cuda(const at::Tensor& depth, const at::Tensor& context, const at::Tensor& cell_start,
                           const at::Tensor& point_depth_index, const at::Tensor& point_context_index,
                           const at::Tensor& out) {
  const auto [num_planes, plane_cells] =
      bev_pool_check_forward(depth, context, cell_start, point_depth_index, point_context_index, out);
  const c10::cuda::CUDAGuard guard(depth.device());
  cudaError_t status = cudaSuccess;
  AT_DISPATCH_FLOATING_TYPES(depth.scalar_type(), "bev_pool_forward_cuda", [&] {
    status = Launchers<scalar_t>::forward(
        depth.data_ptr<scalar_t>(), context.data_ptr<scalar_t>(), cell_start.data_ptr<int32_t>(),
        point_depth_index.data_ptr<int32_t>(), point_context_index.data_ptr<int32_t>(), num_planes * plane_cells,
        plane_cells, context.size(4), out.data_ptr<scalar_t>(), c10::cuda::getCurrentCUDAStream());
  });
  TORCH_CHECK(status == cudaSuccess, "bev_pool forward CUDA launch failed: ", cudaGetErrorString(status));
}

std::tuple<at::Tensor, at::Tensor> bev_pool_backward_cuda(const at::Tensor& grad_out, const at::Tensor& depth,
                                                          const at::Tensor& context, const at::Tensor& point_cell) {
  const c10::cuda::CUDAGuard guard(depth.device());
  const auto grad_rows = bev_pool_check_backward(grad_out, depth, context, point_cell);
  auto grad_depth = at::empty_like(depth);
  auto grad_context = at::empty_like(context);
  cudaError_t status = cudaSuccess;
  AT_DISPATCH_FLOATING_TYPES(depth.scalar_type(), "bev_pool_backward_cuda", [&] {
    status = Launchers<scalar_t>::backward(
        grad_rows.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), context.data_ptr<scalar_t>(),
        point_cell.data_ptr<int32_t>(), depth.size(0) * depth.size(1), depth.size(2), depth.size(3) * depth.size(4),
        context.size(4), grad_depth.data_ptr<scalar_t>(), grad_context.data_ptr<scalar_t>(),
        c10::cuda::getCurrentCUDAStream());
  });
  TORCH_CHECK(status == cudaSuccess, "bev_pool backward CUDA launch failed: ", cudaGetErrorString(status));
  return {grad_depth, grad_context};
}

}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) {
  m.impl("bev_pool_forward", &bevfusion::bev_pool_forward_cuda);
  m.impl("bev_pool_backward", &bevfusion::bev_pool_backward_cuda);
}
