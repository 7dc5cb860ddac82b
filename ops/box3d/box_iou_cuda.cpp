// box_iou: CUDA registration, calling the plain launcher in box_iou_cuda.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "box3d_args.h"

extern "C" cudaError_t bevfusion_box_iou_launch(const float* boxes_a, const float* boxes_b, int64_t rows, int64_t cols,
                                                bool aligned, bool bev, float* out, cudaStream_t stream);

namespace bevfusion {

at::Tensor box_iou_cuda(const at::Tensor& boxes_a, const at::Tensor& boxes_b, bool aligned, bool bev) {
  TORCH_CHECK(boxes_a.device() == boxes_b.device(), "box_iou: boxes_a and boxes_b on different devices");
  const c10::cuda::CUDAGuard guard(boxes_a.device());
  const auto a = checked_rows(boxes_a, 7, "box_iou", "boxes_a");
  const auto b = checked_rows(boxes_b, 7, "box_iou", "boxes_b");
  TORCH_CHECK(!aligned || a.size(0) == b.size(0), "box_iou: aligned IoU needs as many boxes in a as in b, got ",
              a.size(0), " and ", b.size(0));
  auto out = aligned ? at::empty({a.size(0)}, a.options()) : at::empty({a.size(0), b.size(0)}, a.options());
  const auto status = bevfusion_box_iou_launch(a.data_ptr<float>(), b.data_ptr<float>(), a.size(0), b.size(0), aligned,
                                               bev, out.data_ptr<float>(), c10::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, "box_iou CUDA launch failed: ", cudaGetErrorString(status));
  return out;
}

}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) { m.impl("box_iou", &bevfusion::box_iou_cuda); }
