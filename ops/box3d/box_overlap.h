// Rotated box overlap shared by the CPU and CUDA kernels (no PyTorch headers, so nvcc -c works alone).
//
// The BEV intersection of two boxes is box A's rectangle clipped by the four edge half-planes
// of box B (Sutherland-Hodgman), in float64 and relative to A's centre so far-away boxes keep
// their precision. Vertices are interpolated by signed edge distance, and only between
// vertices strictly on opposite sides, so parallel and touching edges never divide by zero.
#pragma once

#include <math.h>

#include "box3d_common.h"

namespace bevfusion {

struct Point2 {
  double x, y;
};

// A convex polygon clipped by a box edge half-plane gains at most one vertex: 4 -> at most 8.
constexpr int kMaxClipVertices = 16;

// The BEV rectangle's corners, counter-clockwise, relative to (origin_x, origin_y).
BEVFUSION_HOST_DEVICE inline void bev_corners(const float* box, double origin_x, double origin_y, Point2* corners) {
  const double cos_yaw = cos(static_cast<double>(box[6]));
  const double sin_yaw = sin(static_cast<double>(box[6]));
  const double half_l = 0.5 * box[3];
  const double half_w = 0.5 * box[4];
  const double along[4] = {half_l, -half_l, -half_l, half_l};
  const double across[4] = {half_w, half_w, -half_w, -half_w};
  for (int i = 0; i < 4; ++i) {
    corners[i].x = box[0] - origin_x + along[i] * cos_yaw - across[i] * sin_yaw;
    corners[i].y = box[1] - origin_y + along[i] * sin_yaw + across[i] * cos_yaw;
  }
}

// Positive when p lies left of the directed edge a -> b (inside, for a counter-clockwise polygon).
BEVFUSION_HOST_DEVICE inline double edge_side(const Point2& a, const Point2& b, const Point2& p) {
  return (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
}

// Keeps the part of the convex polygon `in` left of (or on) the edge a -> b; returns the vertex count.
BEVFUSION_HOST_DEVICE inline int clip_by_edge(const Point2* in, int count, const Point2& a, const Point2& b,
                                              Point2* out) {
  int kept = 0;
  Point2 prev = in[count - 1];
  double prev_side = edge_side(a, b, prev);
  for (int i = 0; i < count && kept < kMaxClipVertices - 1; ++i) {
    const Point2 cur = in[i];
    const double cur_side = edge_side(a, b, cur);
    if ((prev_side < 0.0 && cur_side > 0.0) || (prev_side > 0.0 && cur_side < 0.0)) {
      const double t = prev_side / (prev_side - cur_side);
      out[kept].x = prev.x + t * (cur.x - prev.x);
      out[kept].y = prev.y + t * (cur.y - prev.y);
      ++kept;
    }
    if (cur_side >= 0.0) out[kept++] = cur;
    prev = cur;
    prev_side = cur_side;
  }
  return kept;
}

BEVFUSION_HOST_DEVICE inline double polygon_area(const Point2* vertices, int count) {
  double twice_area = 0.0;
  for (int i = 0; i < count; ++i) {
    const Point2& a = vertices[i];
    const Point2& b = vertices[(i + 1) % count];
    twice_area += a.x * b.y - a.y * b.x;
  }
  return 0.5 * fabs(twice_area);
}

// Area of the intersection of the two boxes' BEV rectangles.
BEVFUSION_HOST_DEVICE inline double bev_intersection_area(const float* box_a, const float* box_b) {
  const double dx = static_cast<double>(box_b[0]) - box_a[0];
  const double dy = static_cast<double>(box_b[1]) - box_a[1];
  const double reach = 0.5 * (sqrt(static_cast<double>(box_a[3]) * box_a[3] + static_cast<double>(box_a[4]) * box_a[4]) +
                              sqrt(static_cast<double>(box_b[3]) * box_b[3] + static_cast<double>(box_b[4]) * box_b[4]));
  if (dx * dx + dy * dy > reach * reach) return 0.0;
  Point2 polygon[kMaxClipVertices];
  Point2 clipped[kMaxClipVertices];
  Point2 edges[4];
  bev_corners(box_a, box_a[0], box_a[1], polygon);
  bev_corners(box_b, box_a[0], box_a[1], edges);
  int count = 4;
  for (int e = 0; e < 4 && count > 0; ++e) {
    count = clip_by_edge(polygon, count, edges[e], edges[(e + 1) % 4], clipped);
    for (int i = 0; i < count; ++i) polygon[i] = clipped[i];
  }
  return count >= 3 ? polygon_area(polygon, count) : 0.0;
}

// Overlap of the boxes' height ranges (z is the gravity centre).
BEVFUSION_HOST_DEVICE inline double height_overlap(const float* box_a, const float* box_b) {
  const double top = fmin(box_a[2] + 0.5 * box_a[5], box_b[2] + 0.5 * box_b[5]);
  const double bottom = fmax(box_a[2] - 0.5 * box_a[5], box_b[2] - 0.5 * box_b[5]);
  return fmax(top - bottom, 0.0);
}

// Rotated IoU in BEV (`bev`) or in 3D; 0 when the union is empty (degenerate boxes).
BEVFUSION_HOST_DEVICE inline float box_iou(const float* box_a, const float* box_b, bool bev) {
  double intersection = bev_intersection_area(box_a, box_b);
  double size_a = static_cast<double>(box_a[3]) * box_a[4];
  double size_b = static_cast<double>(box_b[3]) * box_b[4];
  if (!bev) {
    intersection *= height_overlap(box_a, box_b);
    size_a *= box_a[5];
    size_b *= box_b[5];
  }
  const double union_size = size_a + size_b - intersection;
  return union_size > 0.0 ? static_cast<float>(intersection / union_size) : 0.0f;
}

}  // namespace bevfusion
