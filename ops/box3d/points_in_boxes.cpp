// points_in_boxes: schema, CPU kernel (OpenMP) and CPU registration.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>

#include "box3d_common.h"

namespace bevfusion {

at::Tensor points_in_boxes_cpu(const at::Tensor& points, const at::Tensor& boxes) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "points_in_boxes: points must be (P, 3)");
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 7, "points_in_boxes: boxes must be (N, 7)");
  TORCH_CHECK(points.scalar_type() == at::kFloat && boxes.scalar_type() == at::kFloat,
              "points_in_boxes: expects float32 points and boxes");
  const auto pts = points.contiguous();
  const auto bxs = boxes.contiguous();
  const int64_t num_points = pts.size(0);
  const int64_t num_boxes = bxs.size(0);
  auto out = at::empty({num_points, num_boxes}, points.options().dtype(at::kBool));
  const float* p = pts.data_ptr<float>();
  const float* b = bxs.data_ptr<float>();
  bool* o = out.data_ptr<bool>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < num_points; ++i) {
    for (int64_t j = 0; j < num_boxes; ++j) {
      o[i * num_boxes + j] = point_in_box(p + 3 * i, b + 7 * j);
    }
  }
  return out;
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) { m.def("points_in_boxes(Tensor points, Tensor boxes) -> Tensor"); }

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) { m.impl("points_in_boxes", &bevfusion::points_in_boxes_cpu); }
