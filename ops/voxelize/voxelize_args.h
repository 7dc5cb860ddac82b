// Argument checks shared by the CPU and CUDA bindings of the voxelize ops (host only, uses ATen).
#pragma once

#include <ATen/ATen.h>

#include <limits>

#include "voxel_grid.h"

namespace bevfusion {

inline VoxelGrid make_grid(at::ArrayRef<double> voxel_size, at::ArrayRef<double> grid_min, at::ArrayRef<int64_t> grid_dims,
                    const char* op) {
  TORCH_CHECK(voxel_size.size() == 3 && grid_min.size() == 3 && grid_dims.size() == 3, op,
              ": voxel_size, grid_min and grid_dims need 3 values each");
  VoxelGrid grid;
  for (int axis = 0; axis < 3; ++axis) {
    TORCH_CHECK(voxel_size[axis] > 0 && grid_dims[axis] > 0, op, ": voxel sizes and grid dims must be positive");
    grid.size[axis] = static_cast<float>(voxel_size[axis]);
    grid.origin[axis] = static_cast<float>(grid_min[axis]);
    grid.dims[axis] = grid_dims[axis];
  }
  return grid;
}

inline at::Tensor checked_points(const at::Tensor& points, const char* op) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) >= 3, op, ": points must be (P, C >= 3), got ", points.sizes());
  TORCH_CHECK(points.scalar_type() == at::kFloat, op, ": points must be float32");
  TORCH_CHECK(points.size(0) < std::numeric_limits<int32_t>::max(), op, ": too many points");
  return points.contiguous();
}

}  // namespace bevfusion
