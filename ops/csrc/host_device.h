// BEVFUSION_HOST_DEVICE marks geometry helpers that both the C++ and the CUDA kernels call.
#pragma once

#ifdef __CUDACC__
#define BEVFUSION_HOST_DEVICE __host__ __device__
#else
#define BEVFUSION_HOST_DEVICE
#endif
