// NMS: CUDA registration. The launchers in nms_cuda.cu build overlap masks; the greedy walk runs on the host.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "box3d_args.h"

extern "C" cudaError_t bevfusion_nms_bev_mask_launch(const float* boxes, int64_t count, float iou_threshold,
                                                     uint64_t* mask, cudaStream_t stream);
extern "C" cudaError_t bevfusion_circle_nms_mask_launch(const float* centers, int64_t count, float distance_threshold,
                                                        uint64_t* mask, cudaStream_t stream);

namespace bevfusion {
namespace {

int64_t nms_mask_words(int64_t count) { return (count + 63) / 64; }

// Positions of the kept boxes: a box is kept unless an earlier kept box overlaps it.
// mask[i * words + w] bit k says box i overlaps the later box w * 64 + k; boxes are in score order.
std::vector<int64_t> greedy_nms_walk(const uint64_t* mask, int64_t count) {
  const int64_t words = nms_mask_words(count);
  std::vector<uint64_t> removed(words, 0);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < count; ++i) {
    if ((removed[i / 64] >> (i % 64)) & 1ull) continue;
    kept.push_back(i);
    for (int64_t w = i / 64; w < words; ++w) removed[w] |= mask[i * words + w];
  }
  return kept;
}

using MaskLauncher = cudaError_t (*)(const float*, int64_t, float, uint64_t*, cudaStream_t);

// Kept positions, walking boxes in order and skipping those a kept box's mask covers.
at::Tensor greedy_from_masks(const at::Tensor& rows, double threshold, MaskLauncher launch, const char* op) {
  const c10::cuda::CUDAGuard guard(rows.device());
  const int64_t count = rows.size(0);
  auto mask = at::zeros({count, nms_mask_words(count)}, rows.options().dtype(at::kLong));
  const auto status = launch(rows.data_ptr<float>(), count, static_cast<float>(threshold),
                             reinterpret_cast<uint64_t*>(mask.data_ptr<int64_t>()), c10::cuda::getCurrentCUDAStream());
  TORCH_CHECK(status == cudaSuccess, op, " CUDA launch failed: ", cudaGetErrorString(status));
  const auto host_mask = mask.cpu();
  const std::vector<int64_t> kept =
      greedy_nms_walk(reinterpret_cast<const uint64_t*>(host_mask.data_ptr<int64_t>()), count);
  auto out = at::empty({static_cast<int64_t>(kept.size())}, at::kLong);
  std::copy(kept.begin(), kept.end(), out.data_ptr<int64_t>());
  return out.to(rows.device());
}

}  // namespace

at::Tensor nms_bev_cuda(const at::Tensor& boxes, double iou_threshold) {
  return greedy_from_masks(checked_rows(boxes, 7, "nms_bev", "boxes"), iou_threshold, bevfusion_nms_bev_mask_launch,
                           "nms_bev");
}

at::Tensor circle_nms_cuda(const at::Tensor& centers, double distance_threshold) {
  return greedy_from_masks(checked_rows(centers, 2, "circle_nms", "centers"), distance_threshold,
                           bevfusion_circle_nms_mask_launch, "circle_nms");
}

}  // namespace bevfusion

TORCH_LIBRARY_IMPL(bevfusion, CUDA, m) {
  m.impl("nms_bev", &bevfusion::nms_bev_cuda);
  m.impl("circle_nms", &bevfusion::circle_nms_cuda);
}
