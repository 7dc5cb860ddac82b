// Sparse convolution CUDA kernels and plain launchers (no PyTorch headers).
// Kernel maps: input sites are sorted by key once, neighbours found by binary search.
// Execution: row gathers and per-offset scatter-adds (rows are unique within an offset,
// so the adds need no atomics and the result is deterministic).
#include <cuda_runtime.h>
#include <stdint.h>

#include "sparse_common.h"

namespace {

using bevfusion::sparse::ConvGeometry;

constexpr int kThreads = 256;
constexpr int64_t kNoSite = INT64_MAX;

int64_t blocks_for(int64_t total) { return (total + kThreads - 1) / kThreads; }

__global__ void site_keys_kernel(const int32_t* __restrict__ sites, int64_t count, int shape_z, int shape_y,
                                 int shape_x, int64_t* __restrict__ keys) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= count) return;
  const int shape[3] = {shape_z, shape_y, shape_x};
  keys[row] = bevfusion::sparse::site_key(sites + 4 * row, shape);
}

__global__ void output_candidates_kernel(const int32_t* __restrict__ sites, int64_t count, ConvGeometry g,
                                         int64_t* __restrict__ keys) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= count * g.num_offsets) return;
  const int64_t row = index / g.num_offsets;
  const int offset = static_cast<int>(index % g.num_offsets);
  int32_t out[4];
  keys[index] = bevfusion::sparse::output_site(sites + 4 * row, offset, g, out)
                    ? bevfusion::sparse::site_key(out, g.out_shape)
                    : kNoSite;
}

__global__ void decode_sites_kernel(const int64_t* __restrict__ keys, int64_t count, int shape_z, int shape_y,
                                    int shape_x, int32_t* __restrict__ sites) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (row >= count) return;
  const int shape[3] = {shape_z, shape_y, shape_x};
  bevfusion::sparse::key_to_site(keys[row], shape, sites + 4 * row);
}

// neighbours[k * num_out + o]: the input row output o reads through offset k, or -1.
__global__ void neighbours_kernel(const int32_t* __restrict__ out_sites, int64_t num_out, ConvGeometry g,
                                  const int64_t* __restrict__ sorted_keys, const int64_t* __restrict__ order,
                                  int64_t num_in, int32_t* __restrict__ neighbours) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= num_out * g.num_offsets) return;
  const int offset = static_cast<int>(index / num_out);
  const int64_t row = index % num_out;
  int32_t site[4];
  int32_t found = -1;
  if (bevfusion::sparse::input_site(out_sites + 4 * row, offset, g, site)) {
    const int64_t key = bevfusion::sparse::site_key(site, g.in_shape);
    int64_t low = 0, high = num_in;
    while (low < high) {
      const int64_t middle = (low + high) / 2;
      if (sorted_keys[middle] < key) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    if (low < num_in && sorted_keys[low] == key) found = static_cast<int32_t>(order[low]);
  }
  neighbours[index] = found;
}

template <typename scalar_t>
__global__ void gather_rows_kernel(const scalar_t* __restrict__ src, int64_t channels,
                                   const int32_t* __restrict__ rows, int64_t count, scalar_t* __restrict__ dst) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= count * channels) return;
  const int64_t row = index / channels;
  dst[index] = src[static_cast<int64_t>(rows[row]) * channels + index % channels];
}

template <typename scalar_t>
__global__ void scatter_add_rows_kernel(const scalar_t* __restrict__ src, int64_t channels,
                                        const int32_t* __restrict__ rows, int64_t count, scalar_t* __restrict__ dst) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= count * channels) return;
  const int64_t row = index / channels;
  dst[static_cast<int64_t>(rows[row]) * channels + index % channels] += src[index];
}

template <typename scalar_t>
cudaError_t launch_gather(const scalar_t* src, int64_t channels, const int32_t* rows, int64_t count, scalar_t* dst,
                          cudaStream_t stream) {
  if (count * channels == 0) return cudaSuccess;
  gather_rows_kernel<<<blocks_for(count * channels), kThreads, 0, stream>>>(src, channels, rows, count, dst);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t launch_scatter_add(const scalar_t* src, int64_t channels, const int32_t* rows, int64_t count,
                               scalar_t* dst, cudaStream_t stream) {
  if (count * channels == 0) return cudaSuccess;
  scatter_add_rows_kernel<<<blocks_for(count * channels), kThreads, 0, stream>>>(src, channels, rows, count, dst);
  return cudaGetLastError();
}

}  // namespace

extern "C" cudaError_t bevfusion_sparse_site_keys_launch(const int32_t* sites, int64_t count, int shape_z,
                                                         int shape_y, int shape_x, int64_t* keys,
                                                         cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  site_keys_kernel<<<blocks_for(count), kThreads, 0, stream>>>(sites, count, shape_z, shape_y, shape_x, keys);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_sparse_output_candidates_launch(const int32_t* sites, int64_t count,
                                                                 ConvGeometry geometry, int64_t* keys,
                                                                 cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  output_candidates_kernel<<<blocks_for(count * geometry.num_offsets), kThreads, 0, stream>>>(sites, count,
                                                                                               geometry, keys);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_sparse_decode_sites_launch(const int64_t* keys, int64_t count, int shape_z,
                                                            int shape_y, int shape_x, int32_t* sites,
                                                            cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  decode_sites_kernel<<<blocks_for(count), kThreads, 0, stream>>>(keys, count, shape_z, shape_y, shape_x, sites);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_sparse_neighbours_launch(const int32_t* out_sites, int64_t num_out,
                                                          ConvGeometry geometry, const int64_t* sorted_keys,
                                                          const int64_t* order, int64_t num_in,
                                                          int32_t* neighbours, cudaStream_t stream) {
  if (num_out == 0) return cudaSuccess;
  neighbours_kernel<<<blocks_for(num_out * geometry.num_offsets), kThreads, 0, stream>>>(
      out_sites, num_out, geometry, sorted_keys, order, num_in, neighbours);
  return cudaGetLastError();
}

extern "C" cudaError_t bevfusion_sparse_gather_f32_launch(const float* src, int64_t channels, const int32_t* rows,
                                                          int64_t count, float* dst, cudaStream_t stream) {
  return launch_gather(src, channels, rows, count, dst, stream);
}

extern "C" cudaError_t bevfusion_sparse_gather_f64_launch(const double* src, int64_t channels, const int32_t* rows,
                                                          int64_t count, double* dst, cudaStream_t stream) {
  return launch_gather(src, channels, rows, count, dst, stream);
}

extern "C" cudaError_t bevfusion_sparse_scatter_add_f32_launch(const float* src, int64_t channels,
                                                               const int32_t* rows, int64_t count, float* dst,
                                                               cudaStream_t stream) {
  return launch_scatter_add(src, channels, rows, count, dst, stream);
}

extern "C" cudaError_t bevfusion_sparse_scatter_add_f64_launch(const double* src, int64_t channels,
                                                               const int32_t* rows, int64_t count, double* dst,
                                                               cudaStream_t stream) {
  return launch_scatter_add(src, channels, rows, count, dst, stream);
}
