// Sparse convolution geometry shared by the CPU and CUDA kernels (no PyTorch headers).
// Sites are (batch, z, y, x) int32; spatial shapes are (z, y, x). A kernel offset k
// flattens (kz, ky, kx) row-major, matching spconv's weight layout (out, kz, ky, kx, in).
#pragma once

#ifdef __CUDACC__
#define SPARSE_HOST_DEVICE __host__ __device__
#else
#define SPARSE_HOST_DEVICE
#endif

#include <stdint.h>

namespace bevfusion {
namespace sparse {

// One convolution's grids and kernel. Submanifold convs use stride 1, padding
// kernel/2*dilation and out_shape == in_shape, so one formula serves every kind.
struct ConvGeometry {
  int in_shape[3];
  int out_shape[3];
  int kernel[3];
  int stride[3];
  int padding[3];
  int dilation[3];
  int batch_size;
  int num_offsets;
};

// Row-major linear key of a site in a grid of `shape`: sorting keys sorts by (b, z, y, x).
SPARSE_HOST_DEVICE inline int64_t site_key(const int32_t* site, const int* shape) {
  return ((static_cast<int64_t>(site[0]) * shape[0] + site[1]) * shape[1] + site[2]) * shape[2] + site[3];
}

SPARSE_HOST_DEVICE inline void key_to_site(int64_t key, const int* shape, int32_t* site) {
  site[3] = static_cast<int32_t>(key % shape[2]);
  key /= shape[2];
  site[2] = static_cast<int32_t>(key % shape[1]);
  key /= shape[1];
  site[1] = static_cast<int32_t>(key % shape[0]);
  site[0] = static_cast<int32_t>(key / shape[0]);
}

SPARSE_HOST_DEVICE inline void offset_to_kernel_position(int offset, const int* kernel, int* position) {
  position[2] = offset % kernel[2];
  offset /= kernel[2];
  position[1] = offset % kernel[1];
  position[0] = offset / kernel[1];
}

// The input site read by output site `out` through kernel offset `offset`:
// in = out * stride - padding + k * dilation. False when it falls outside the input grid.
SPARSE_HOST_DEVICE inline bool input_site(const int32_t* out, int offset, const ConvGeometry& g, int32_t* in) {
  int position[3];
  offset_to_kernel_position(offset, g.kernel, position);
  in[0] = out[0];
  for (int d = 0; d < 3; ++d) {
    const int coordinate = out[d + 1] * g.stride[d] - g.padding[d] + position[d] * g.dilation[d];
    if (coordinate < 0 || coordinate >= g.in_shape[d]) return false;
    in[d + 1] = coordinate;
  }
  return true;
}

// The output site written by input site `in` through kernel offset `offset`, when one exists:
// out = (in + padding - k * dilation) / stride, exact division, inside the output grid.
SPARSE_HOST_DEVICE inline bool output_site(const int32_t* in, int offset, const ConvGeometry& g, int32_t* out) {
  int position[3];
  offset_to_kernel_position(offset, g.kernel, position);
  out[0] = in[0];
  for (int d = 0; d < 3; ++d) {
    const int scaled = in[d + 1] + g.padding[d] - position[d] * g.dilation[d];
    if (scaled < 0 || scaled % g.stride[d] != 0) return false;
    const int coordinate = scaled / g.stride[d];
    if (coordinate >= g.out_shape[d]) return false;
    out[d + 1] = coordinate;
  }
  return true;
}

// splitmix64 finaliser: spreads neighbouring keys over an open-addressing table.
SPARSE_HOST_DEVICE inline uint64_t mix_key(int64_t key) {
  uint64_t z = static_cast<uint64_t>(key) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace sparse
}  // namespace bevfusion
