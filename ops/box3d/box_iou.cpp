// box_iou (rotated BEV / 3D IoU, pairwise or aligned): schema, CPU kernel (OpenMP) and CPU registration.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "box3d_args.h"
#include "box_overlap.h"

namespace bevfusion {

// Below this many box pairs, waking OpenMP threads costs more than the work itself.
constexpr int64_t kParallelPairs = 4096;

at::Tensor box_iou_cpu(const at::Tensor& boxes_a, const at::Tensor& boxes_b, bool aligned, bool bev) {
  const auto a = checked_rows(boxes_a, 7, "box_iou", "boxes_a");
  const auto b = checked_rows(boxes_b, 7, "box_iou", "boxes_b");
  const int64_t rows = a.size(0);
  const int64_t cols = b.size(0);
  TORCH_CHECK(!aligned || rows == cols, "box_iou: aligned IoU needs as many boxes in a as in b, got ", rows, " and ",
              cols);
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  if (aligned) {
    auto out = at::empty({rows}, a.options());
    float* o = out.data_ptr<float>();
#pragma omp parallel for schedule(static) if (rows > kParallelPairs)
    for (int64_t i = 0; i < rows; ++i) o[i] = box_iou(pa + 7 * i, pb + 7 * i, bev);
    return out;
  }
  auto out = at::empty({rows, cols}, a.options());
  float* o = out.data_ptr<float>();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelPairs)
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) o[i * cols + j] = box_iou(pa + 7 * i, pb + 7 * j, bev);
  }
  return out;
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def("box_iou(Tensor boxes_a, Tensor boxes_b, bool aligned, bool bev) -> Tensor");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) { m.impl("box_iou", &bevfusion::box_iou_cpu); }
