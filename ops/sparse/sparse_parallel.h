// Dynamic OpenMP work sharing for the CPU kernels (CPU sources only).
#pragma once

#include <stdint.h>

namespace bevfusion {
namespace sparse {

// Runs body(i, scratch) for every i in [0, count) on the OpenMP threads, handing out one item
// at a time: on a busy machine a descheduled thread delays one item, not a static share.
// Each thread makes its own scratch once. Results never depend on which thread ran an item.
template <typename MakeScratch, typename Body>
void parallel_items(int64_t count, const MakeScratch& make_scratch, const Body& body) {
#pragma omp parallel if (count > 1)
  {
    auto scratch = make_scratch();
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i) body(i, scratch);
  }
}

}  // namespace sparse
}  // namespace bevfusion
