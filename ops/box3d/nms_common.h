// NMS overlap tests shared by the CPU and CUDA kernels (no PyTorch headers).
#pragma once

#include "box3d_common.h"

namespace bevfusion {

// Circle NMS suppression test: squared centre distance <= threshold, as CenterPoint's circle_nms
// defines it, so its per-class `min_radius` settings carry over unchanged.
BEVFUSION_HOST_DEVICE inline bool centers_within(const float* a, const float* b, float threshold) {
  const float dx = a[0] - b[0];
  const float dy = a[1] - b[1];
  return dx * dx + dy * dy <= threshold;
}

}  // namespace bevfusion
