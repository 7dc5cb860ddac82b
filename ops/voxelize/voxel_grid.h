// Voxel grid geometry shared by the CPU and CUDA kernels (no PyTorch headers, so nvcc -c works alone).
// A grid has dims (nx, ny, nz) cells of size (dx, dy, dz) starting at origin (x_min, y_min, z_min).
// A point's cell is floor((p - origin) / size) per axis; points whose cell falls outside the grid
// are dropped. Voxels are named by the linear id (z * ny + y) * nx + x.
#pragma once

#include "../csrc/host_device.h"

#include <stdint.h>

namespace bevfusion {

struct VoxelGrid {
  float size[3];    // x, y, z
  float origin[3];  // x_min, y_min, z_min
  int64_t dims[3];  // nx, ny, nz
};

// IEEE float division on both sides: CUDA builds use --use_fast_math, whose approximate
// division would move points across cell borders and break agreement with the CPU.
BEVFUSION_HOST_DEVICE inline float exact_div(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// Writes the point's (z, y, x) cell; false when it lies outside the grid (NaN included).
// The range test runs on the unfloored cell coordinate t: 0 <= floor(t) < dims exactly when
// 0 <= t < dims, and for t >= 0 truncation equals floor, so no floorf call is needed.
BEVFUSION_HOST_DEVICE inline bool voxel_cell(const float* point, const VoxelGrid& grid, int32_t* zyx) {
  for (int axis = 0; axis < 3; ++axis) {
    const float cell = exact_div(point[axis] - grid.origin[axis], grid.size[axis]);
    if (!(cell >= 0.0f && cell < static_cast<float>(grid.dims[axis]))) return false;
    zyx[2 - axis] = static_cast<int32_t>(cell);
  }
  return true;
}

// Linear voxel id of the point, or -1 when it lies outside the grid.
BEVFUSION_HOST_DEVICE inline int64_t voxel_id(const float* point, const VoxelGrid& grid) {
  int32_t zyx[3];
  if (!voxel_cell(point, grid, zyx)) return -1;
  return (static_cast<int64_t>(zyx[0]) * grid.dims[1] + zyx[1]) * grid.dims[0] + zyx[2];
}

// Writes the (z, y, x) cell of a linear voxel id.
BEVFUSION_HOST_DEVICE inline void voxel_zyx(int64_t id, const VoxelGrid& grid, int32_t* zyx) {
  zyx[2] = static_cast<int32_t>(id % grid.dims[0]);
  id /= grid.dims[0];
  zyx[1] = static_cast<int32_t>(id % grid.dims[1]);
  zyx[0] = static_cast<int32_t>(id / grid.dims[1]);
}

}  // namespace bevfusion
