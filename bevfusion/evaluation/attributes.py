"""The nuScenes attribute a detection's class and speed imply.

The model predicts no attributes, so, like the official baselines (and mmdetection3d's
`NuScenesMetric`), the submission derives one from the predicted velocity: a vehicle faster
than 0.2 m/s is moving, otherwise parked (a bus stopped); a two-wheeler moving has a rider,
a still one none; a pedestrian moving or standing; barriers and cones carry none.
"""

from __future__ import annotations

MOVING_SPEED = 0.2  # m/s: above this a box counts as moving

_VEHICLES = ("car", "truck", "trailer", "bus", "construction_vehicle")
_CYCLES = ("bicycle", "motorcycle")
_NO_ATTRIBUTE = ("barrier", "traffic_cone")


def motion_attribute(detection_name: str, speed: float) -> str:
    """The devkit `attribute_name` for a `detection_name` moving at `speed` (m/s)."""
    moving = speed > MOVING_SPEED
    if detection_name in _VEHICLES:
        if moving:
            return "vehicle.moving"
        return "vehicle.stopped" if detection_name == "bus" else "vehicle.parked"
    if detection_name in _CYCLES:
        return "cycle.with_rider" if moving else "cycle.without_rider"
    if detection_name == "pedestrian":
        return "pedestrian.moving" if moving else "pedestrian.standing"
    if detection_name in _NO_ATTRIBUTE:
        return ""
    raise ValueError(f"motion_attribute: {detection_name!r} is not a nuScenes detection class")
