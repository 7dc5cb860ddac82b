// Greedy NMS (rotated BEV IoU and circle): schemas, CPU kernels (OpenMP) and CPU registration.
// Boxes arrive sorted by descending score; the ops return the kept positions in that order.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "box3d_args.h"
#include "box_overlap.h"
#include "nms_common.h"

namespace bevfusion {
namespace {

// Keeps box i unless an earlier kept box overlaps it. Only kept boxes are compared with the later
// ones; that inner loop runs in parallel once enough boxes remain to pay for waking the threads.
template <typename Overlaps>
at::Tensor greedy_nms(int64_t count, const Overlaps& overlaps) {
  constexpr int64_t kParallelFrom = 4096;
  std::vector<uint8_t> suppressed(count, 0);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < count; ++i) {
    if (suppressed[i]) continue;
    kept.push_back(i);
#pragma omp parallel for schedule(static) if (count - i > kParallelFrom)
    for (int64_t j = i + 1; j < count; ++j) {
      if (!suppressed[j] && overlaps(i, j)) suppressed[j] = 1;
    }
  }
  auto out = at::empty({static_cast<int64_t>(kept.size())}, at::kLong);
  std::copy(kept.begin(), kept.end(), out.data_ptr<int64_t>());
  return out;
}

}  // namespace

at::Tensor nms_bev_cpu(const at::Tensor& boxes, double iou_threshold) {
  const auto b = checked_rows(boxes, 7, "nms_bev", "boxes");
  const float* p = b.data_ptr<float>();
  const float threshold = static_cast<float>(iou_threshold);
  return greedy_nms(b.size(0), [&](int64_t i, int64_t j) { return box_iou(p + 7 * i, p + 7 * j, true) > threshold; });
}

at::Tensor circle_nms_cpu(const at::Tensor& centers, double distance_threshold) {
  const auto c = checked_rows(centers, 2, "circle_nms", "centers");
  const float* p = c.data_ptr<float>();
  const float threshold = static_cast<float>(distance_threshold);
  return greedy_nms(c.size(0), [&](int64_t i, int64_t j) { return centers_within(p + 2 * i, p + 2 * j, threshold); });
}

}  // namespace bevfusion

TORCH_LIBRARY_FRAGMENT(bevfusion, m) {
  m.def("nms_bev(Tensor boxes, float iou_threshold) -> Tensor");
  m.def("circle_nms(Tensor centers, float distance_threshold) -> Tensor");
}

TORCH_LIBRARY_IMPL(bevfusion, CPU, m) {
  m.impl("nms_bev", &bevfusion::nms_bev_cpu);
  m.impl("circle_nms", &bevfusion::circle_nms_cpu);
}
