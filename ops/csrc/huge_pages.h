// Transparent-huge-page advice for large output buffers written by the CPU kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace bevfusion {

// Asks Linux to back the 2 MiB-aligned interior of a large, freshly allocated buffer with huge
// pages before its first write. A fresh multi-megabyte allocation is mapped on demand, and on a
// VM each 4 KiB first-touch fault is expensive: for bev_pool's 41 MB output they cost about as
// much as the pooling itself. The advice is only a hint (ignored when THP is off), so its
// result is not checked.
inline void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  if (bytes < 2 * kHugePage) return;
  const auto address = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (address + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (address + bytes) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace bevfusion
