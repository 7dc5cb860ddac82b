// points_in_boxes: CUDA registration, calling the plain launcher in points_in_boxes_cuda.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

extern "C" cudaError_t bevfusion_points_in_boxes_launch(const float* points, int64_t num_points,
                                                        const float* boxes, int64_t num_boxes, bool* out,
                                                        cudaStream_t stream);

namespace bevfusion {

at::Tensor points_in_boxes_cuda(const at::Tensor& points, const at::Tensor& boxes) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "points_in_boxes: points must be (P, 3)");
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 7, "points_in_boxes: boxes must be (N, 7)");
  TORCH_CHECK(points.scalar_type() == at::kFloat && boxes.scalar_type() == at::kFloat,
              "points_in_boxes: expects float32 points and boxes");
  TORCH_CHECK(points.device() == boxes.device(), "points_in_boxes: points and boxes on different devices");
  const c10::cuda::CUDAGuard guard(points.device());
  const auto pts = points.contiguous();
  const auto bxs = boxes.contiguous();
  auto out = at::empty({pts.size(0), bxs.size(0)}, points.options().dtype(at::kBool));
  const auto status = bevfusion_points_in_boxes_launch(pts.data_ptr<float>(), pts.size(0), bxs.data_ptr<float>(),
                                                       bxs.size(0), out.data_ptr<bool>(),
                                                       c10::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, "points_in_boxes CUDA launch failed: ", cudaGetErrorString(status));
  return out;
}

}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) { m.impl("points_in_boxes", &bevfusion::points_in_boxes_cuda); }
