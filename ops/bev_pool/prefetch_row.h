// Prefetch of one feature row, shared by the portable and the AVX2 bev_pool kernels.
#pragma once

#include <cstdint>

namespace bevfusion {

// Every cache line of `row` (`channels` values). Always inlined: GCC treats an out-of-line
// function that only prefetches as pure and drops its calls.
template <typename scalar_t>
__attribute__((always_inline)) inline void prefetch_row(const scalar_t* row, int64_t channels) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (int64_t offset = 0; offset < channels * static_cast<int64_t>(sizeof(scalar_t)); offset += 64) {
    __builtin_prefetch(bytes + offset);
  }
}

}  // namespace bevfusion
