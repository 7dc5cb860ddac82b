"""The nuScenes-like sensor rig: a 32-beam LIDAR_TOP and six 1600x900 cameras.

Mounting positions and intrinsics are close to the real nuScenes car (Renault Zoe). The
LiDAR is yawed by -90 degrees relative to the ego frame, as on the real car, so a frame
mix-up between ego and LiDAR shows up as a 90 degree error rather than hiding.
Frames: ego x forward, y left, z up; camera x right, y down, z forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyquaternion import Quaternion

IMAGE_WIDTH, IMAGE_HEIGHT = 1600, 900
LIDAR_CHANNEL = "LIDAR_TOP"


@dataclass(frozen=True)
class SensorSpec:
    channel: str
    modality: str  # 'lidar' or 'camera'
    translation: tuple[float, float, float]  # sensor origin in the ego frame
    rotation: tuple[float, float, float, float]  # quaternion (w, x, y, z), sensor -> ego
    intrinsic: tuple[tuple[float, float, float], ...] = ()  # 3x3 for cameras

    def sensor2ego(self) -> np.ndarray:
        matrix = np.eye(4)
        matrix[:3, :3] = Quaternion(self.rotation).rotation_matrix
        matrix[:3, 3] = self.translation
        return matrix


def _camera(
    channel: str, yaw_deg: float, translation, focal: float, cx: float, cy: float, pitch_deg: float = 0.0
) -> SensorSpec:
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    forward = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), -math.sin(pitch)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(forward, right)
    rotation = Quaternion(matrix=np.stack([right, down, forward], 1))
    return SensorSpec(
        channel,
        "camera",
        tuple(translation),
        tuple(float(v) for v in rotation.elements),
        ((focal, 0.0, cx), (0.0, focal, cy), (0.0, 0.0, 1.0)),
    )


LIDAR = SensorSpec(
    LIDAR_CHANNEL,
    "lidar",
    (0.943713, 0.0, 1.84023),
    tuple(float(v) for v in Quaternion(axis=[0, 0, 1], degrees=-90).elements),
)
CAMERAS: tuple[SensorSpec, ...] = (
    _camera("CAM_FRONT", 0.0, (1.70, 0.016, 1.51), 1266.4, 816.3, 491.5, 0.5),
    _camera("CAM_FRONT_RIGHT", -55.0, (1.55, -0.49, 1.49), 1260.8, 808.0, 495.3, 0.4),
    _camera("CAM_FRONT_LEFT", 55.0, (1.52, 0.49, 1.51), 1272.6, 826.6, 479.8, 0.3),
    _camera("CAM_BACK", 180.0, (0.03, 0.0, 1.57), 809.2, 829.2, 481.8, 0.2),
    _camera("CAM_BACK_LEFT", 110.0, (1.04, 0.71, 1.56), 1256.7, 817.8, 451.9, 0.5),
    _camera("CAM_BACK_RIGHT", -110.0, (1.03, -0.71, 1.56), 1259.5, 807.3, 501.2, 0.3),
)
SENSORS: tuple[SensorSpec, ...] = (LIDAR, *CAMERAS)

# HDL-32E: 32 beams from -30.67 to +10.67 degrees, ~1085 firings per turn at 20 Hz.
LIDAR_ELEVATIONS_DEG = np.linspace(-30.67, 10.67, 32)
LIDAR_AZIMUTH_STEPS = 1085
LIDAR_MAX_RANGE = 80.0
LIDAR_HZ, KEYFRAME_HZ = 20, 2


def pose_matrix(translation, yaw: float) -> np.ndarray:
    """4x4 ego -> global for a flat ego pose (z = 0 at the ground)."""
    matrix = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    matrix[:2, :2] = [[c, -s], [s, c]]
    matrix[:2, 3] = translation[:2]
    return matrix
