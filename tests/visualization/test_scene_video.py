"""Scene videos through OpenCV's VideoWriter: the MP4 opens, holds every frame at the frame size, appears only whole."""

import os

import cv2
import numpy as np
import pytest

from bevfusion.visualization import SceneVideoWriter, write_scene_video


def _frames(count: int, height: int, width: int) -> list[np.ndarray]:
    """Frames of distinct brightness, so decoded frames can be told apart."""
    return [np.full((height, width, 3), 30 * (index + 1), np.uint8) for index in range(count)]


def _read_back(path) -> tuple[float, list[np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return count, frames


def test_a_scene_video_holds_every_frame_in_order(tmp_path):
    path = tmp_path / "videos" / "scene-0103.mp4"
    assert write_scene_video(_frames(7, 48, 64), path, fps=2) == 7
    count, frames = _read_back(path)
    assert count == 7 and len(frames) == 7
    assert all(frame.shape == (48, 64, 3) for frame in frames)
    brightness = [float(frame.mean()) for frame in frames]
    np.testing.assert_allclose(brightness, [30.0 * (index + 1) for index in range(7)], atol=4.0)
    assert sorted(os.listdir(path.parent)) == ["scene-0103.mp4"]


def test_odd_frame_sizes_are_padded_rather_than_cropped_by_the_encoder(tmp_path):
    path = tmp_path / "odd.mp4"
    write_scene_video(_frames(3, 49, 65), path)
    _, frames = _read_back(path)
    assert len(frames) == 3 and frames[0].shape == (50, 66, 3)


def test_a_frame_of_another_size_is_refused_and_the_partial_video_is_discarded(tmp_path):
    path = tmp_path / "scene.mp4"
    with pytest.raises(ValueError, match=r"frame 2 is 32x48, the video is 64x48"):
        with SceneVideoWriter(path) as writer:
            for frame in _frames(2, 48, 64) + _frames(1, 48, 32):
                writer.write(frame)
    assert os.listdir(tmp_path) == []


def test_frames_must_be_colour_uint8(tmp_path):
    with pytest.raises(ValueError, match="HxWx3 uint8 BGR"):
        write_scene_video([np.zeros((48, 64), np.uint8)], tmp_path / "gray.mp4")
    with pytest.raises(ValueError, match="HxWx3 uint8 BGR"):
        write_scene_video([np.zeros((48, 64, 3), np.float32)], tmp_path / "float.mp4")


def test_an_unknown_codec_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="cannot write.*fourcc 'ZZZZ'"):
        with SceneVideoWriter(tmp_path / "scene.mp4", fourcc="ZZZZ") as writer:
            writer.write(_frames(1, 48, 64)[0])
    assert os.listdir(tmp_path) == []
