// Box geometry shared by the CPU and CUDA kernels (no PyTorch headers, so nvcc -c works alone).
// A box is (x, y, z, l, w, h, yaw) with z the gravity centre and yaw from +x toward +y.
#pragma once

#include "../csrc/host_device.h"

#include <math.h>

namespace bevfusion {

// True when the point lies inside the box or on its faces (the nuscenes-devkit convention).
BEVFUSION_HOST_DEVICE inline bool point_in_box(const float* point, const float* box) {
  const float dz = point[2] - box[2];
  if (fabsf(dz) > 0.5f * box[5]) return false;
  const float dx = point[0] - box[0];
  const float dy = point[1] - box[1];
  const float cos_yaw = cosf(box[6]);
  const float sin_yaw = sinf(box[6]);
  const float along = dx * cos_yaw + dy * sin_yaw;
  const float across = -dx * sin_yaw + dy * cos_yaw;
  return fabsf(along) <= 0.5f * box[3] && fabsf(across) <= 0.5f * box[4];
}

}  // namespace bevfusion
