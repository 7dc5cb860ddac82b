"""Scene videos: rendered frames -> one MP4 through OpenCV's `VideoWriter`.

The pip OpenCV builds encode MPEG-4 part 2 (`mp4v`) but not H.264 (`avc1` fails with
"Could not find encoder"), so `mp4v` is the default. The file is written under a temporary
name next to the target and renamed into place when the writer closes, so a reader never sees
a half-written video.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import cv2
import numpy as np

from bevfusion.fileio import discard, temporary_sibling

DEFAULT_FPS = 2.0  # nuScenes key frames come at 2 Hz


class SceneVideoWriter:
    """Write equally sized BGR uint8 frames to `path`; use as a context manager or call `close()`.

    The first frame fixes the size; a frame of another size is an error. An exception inside
    the `with` block discards the partial file.
    """

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FPS, fourcc: str = "mp4v") -> None:
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.fourcc = fourcc
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        self._writer: cv2.VideoWriter | None = None
        self._temporary: str | None = None

    def _open(self, width: int, height: int) -> None:
        self._temporary = temporary_sibling(self.path)
        self._writer = cv2.VideoWriter(self._temporary, cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (width, height))
        if not self._writer.isOpened():
            self._discard()
            raise RuntimeError(
                f"SceneVideoWriter: OpenCV cannot write {self.path!r} with fourcc {self.fourcc!r} "
                f"(this OpenCV build lacks the encoder or the container); 'mp4v' with .mp4 works with the pip wheels"
            )

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR uint8 frame `(H, W, 3)`; an odd width or height is padded with one black column or row
        (the MPEG-4 encoder would silently drop it)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"SceneVideoWriter: frames must be HxWx3 uint8 BGR, got {frame.dtype} {frame.shape}")
        size = (frame.shape[1], frame.shape[0])
        if self._size is None:
            self._open(size[0] + size[0] % 2, size[1] + size[1] % 2)
            self._size = size
        elif size != self._size:
            raise ValueError(
                f"SceneVideoWriter: frame {self.frames_written} is {size[0]}x{size[1]}, "
                f"the video is {self._size[0]}x{self._size[1]}"
            )
        padding = ((0, size[1] % 2), (0, size[0] % 2), (0, 0))
        self._writer.write(np.ascontiguousarray(np.pad(frame, padding)))
        self.frames_written += 1

    def close(self) -> int:
        """Finish the file, move it to `path` and return the number of frames; without frames, nothing is written."""
        if self._writer is not None:
            self._writer.release()
            os.replace(self._temporary, self.path)
            self._writer = self._temporary = None
        return self.frames_written

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
        if self._temporary is not None:
            discard(self._temporary)
        self._writer = self._temporary = None

    def __enter__(self) -> SceneVideoWriter:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.close()
        else:
            self._discard()


def write_scene_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = DEFAULT_FPS) -> int:
    """Write `frames` (BGR uint8, one size) to the MP4 `path`; returns the number of frames written."""
    with SceneVideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frames_written
