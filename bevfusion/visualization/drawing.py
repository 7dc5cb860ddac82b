"""Drawing primitives shared by the camera and BEV views: solid or dashed segments, labels, the legend.

Predictions are drawn solid and labelled with class and score; ground truth is drawn dashed and
thinner, in the same class colours, so both can be told apart on any background.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .palette import TEXT_COLOR, Color, class_color

FONT = cv2.FONT_HERSHEY_SIMPLEX
DASH_PIXELS = 6


def draw_segment(
    image: np.ndarray, start: Sequence[float], end: Sequence[float], color: Color, thickness: int, dashed: bool
) -> None:
    """A line from `start` to `end` (pixels), solid or dashed (dashes and gaps of `DASH_PIXELS`)."""
    start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    if not dashed:
        cv2.line(image, _point(start), _point(end), color, thickness, cv2.LINE_AA)
        return
    length = float(np.hypot(*(end - start)))
    for offset in np.arange(0.0, length, 2 * DASH_PIXELS):
        first = start + (end - start) * (offset / length)
        second = start + (end - start) * (min(offset + DASH_PIXELS, length) / length)
        cv2.line(image, _point(first), _point(second), color, thickness, cv2.LINE_AA)


def _point(pixel: np.ndarray) -> tuple[int, int]:
    return int(round(pixel[0])), int(round(pixel[1]))


def draw_label(image: np.ndarray, text: str, anchor: tuple[int, int], color: Color, scale: float = 0.4) -> None:
    """`text` on a box of `color` whose bottom-left corner is at `anchor`, shifted to stay inside the image."""
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, 1)
    left = int(np.clip(anchor[0], 0, max(0, image.shape[1] - width - 2)))
    bottom = int(np.clip(anchor[1], height + baseline + 2, image.shape[0] - 1))
    cv2.rectangle(image, (left, bottom - height - baseline - 2), (left + width + 2, bottom), color, cv2.FILLED)
    cv2.putText(image, text, (left + 1, bottom - baseline - 1), FONT, scale, TEXT_COLOR, 1, cv2.LINE_AA)


def draw_caption(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5) -> None:
    """White text with a dark outline (readable on images and on the BEV) at `origin` (bottom-left)."""
    cv2.putText(image, text, origin, FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


LEGEND_HEIGHT = 28  # pixels of the strip under the frame


def legend_strip(width: int, class_names: Sequence[str], title: str = "") -> np.ndarray:
    """A `(LEGEND_HEIGHT, width, 3)` BGR strip: the prediction/ground-truth line styles, the colours of
    `class_names`, and `title` at the right end."""
    strip = np.zeros((LEGEND_HEIGHT, width, 3), dtype=np.uint8)
    baseline, x = LEGEND_HEIGHT - 9, 10
    for style, dashed in (("prediction", False), ("ground truth", True)):
        draw_segment(strip, (x, baseline - 5), (x + 30, baseline - 5), (255, 255, 255), 1 if dashed else 2, dashed)
        x = _caption_after(strip, style, x + 36, baseline) + 18
    for name in class_names:
        cv2.rectangle(strip, (x, baseline - 10), (x + 18, baseline), class_color(name), cv2.FILLED)
        x = _caption_after(strip, name, x + 24, baseline) + 14
    if title:
        (text_width, _), _ = cv2.getTextSize(title, FONT, 0.45, 1)
        draw_caption(strip, title, (max(x, width - text_width - 10), baseline), 0.45)
    return strip


def _caption_after(image: np.ndarray, text: str, x: int, baseline: int) -> int:
    """Draw `text` from `x`; return the x where it ends."""
    draw_caption(image, text, (x, baseline), 0.45)
    return x + cv2.getTextSize(text, FONT, 0.45, 1)[0][0]
