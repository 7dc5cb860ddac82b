"""nuScenes table contents: tokens, the fixed vocabularies and the splits.

Tokens are 32 hex digits derived from the seed and the record's identity (md5), so a
seed always yields the same tables, byte for byte.
"""

from __future__ import annotations

import hashlib

from nuscenes.utils.splits import mini_train, mini_val

from .rig import SENSORS

# All nuScenes v1.0 categories, so category-based tooling (devkit, converters) sees the usual vocabulary.
CATEGORIES = (
    ("animal", "All animals."),
    ("human.pedestrian.adult", "Adult pedestrian."),
    ("human.pedestrian.child", "Child pedestrian."),
    ("human.pedestrian.construction_worker", "Construction worker."),
    ("human.pedestrian.personal_mobility", "Person on a personal mobility device."),
    ("human.pedestrian.police_officer", "Police officer."),
    ("human.pedestrian.stroller", "Stroller."),
    ("human.pedestrian.wheelchair", "Wheelchair."),
    ("movable_object.barrier", "Temporary road barrier."),
    ("movable_object.debris", "Movable debris."),
    ("movable_object.pushable_pullable", "Pushable or pullable object."),
    ("movable_object.trafficcone", "Traffic cone."),
    ("static_object.bicycle_rack", "Bicycle rack."),
    ("vehicle.bicycle", "Bicycle."),
    ("vehicle.bus.bendy", "Bendy bus."),
    ("vehicle.bus.rigid", "Rigid bus."),
    ("vehicle.car", "Passenger car, van or SUV."),
    ("vehicle.construction", "Construction vehicle."),
    ("vehicle.emergency.ambulance", "Ambulance."),
    ("vehicle.emergency.police", "Police vehicle."),
    ("vehicle.motorcycle", "Motorcycle or scooter."),
    ("vehicle.trailer", "Trailer."),
    ("vehicle.truck", "Truck."),
)
ATTRIBUTE_NAMES = (
    ("vehicle.moving", "Vehicle is moving."),
    ("vehicle.stopped", "Vehicle with a driver, stopped (for example at a light)."),
    ("vehicle.parked", "Vehicle parked without a driver."),
    ("cycle.with_rider", "Bicycle or motorcycle with a rider."),
    ("cycle.without_rider", "Bicycle or motorcycle without a rider."),
    ("pedestrian.sitting_lying_down", "Pedestrian sitting or lying down."),
    ("pedestrian.standing", "Pedestrian standing."),
    ("pedestrian.moving", "Pedestrian moving."),
)
# nuScenes visibility: token '1'..'4' for the fraction of the object visible across the six cameras.
VISIBILITY = (
    ("1", "v0-40", 0.4, "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", 0.6, "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", 0.8, "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", 1.01, "visibility of whole object is between 80 and 100%"),
)
# The official v1.0-mini scene names, validation scenes first so that a 2-scene set is mini_val.
OFFICIAL_SCENE_NAMES = tuple(mini_val) + tuple(mini_train)
CUSTOM_TRAIN, CUSTOM_VAL = "synthetic_train", "synthetic_val"


class Tokens:
    """Deterministic tokens: md5 of the seed and a record's identity."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, kind: str, *key) -> str:
        return hashlib.md5(f"synthetic-nuscenes/{self.seed}/{kind}/{'/'.join(map(str, key))}".encode()).hexdigest()


def scene_names(count: int) -> list[str]:
    """Official mini names for the first ten scenes, then `scene-synth-NNNN`."""
    return [OFFICIAL_SCENE_NAMES[i] if i < len(OFFICIAL_SCENE_NAMES) else f"scene-synth-{i:04d}" for i in range(count)]


def custom_splits(names: list[str]) -> dict[str, list[str]]:
    """`splits.json` content: mini_val scenes and every fifth extra scene validate, the rest train."""
    extra_val = {name for index, name in enumerate(names) if index >= len(OFFICIAL_SCENE_NAMES) and index % 5 == 0}
    val = [name for name in names if name in mini_val or name in extra_val]
    return {CUSTOM_TRAIN: [name for name in names if name not in val], CUSTOM_VAL: val}


def visibility_token(fraction: float) -> str:
    return next(token for token, _, upper, _ in VISIBILITY if fraction < upper)


def static_tables(tokens: Tokens) -> dict[str, list[dict]]:
    """The tables that do not depend on the scenes: category, attribute, visibility, sensor."""
    return {
        "category": [
            {"token": tokens("category", name), "name": name, "description": text} for name, text in CATEGORIES
        ],
        "attribute": [
            {"token": tokens("attribute", name), "name": name, "description": text} for name, text in ATTRIBUTE_NAMES
        ],
        "visibility": [{"token": token, "level": level, "description": text} for token, level, _, text in VISIBILITY],
        "sensor": [
            {"token": tokens("sensor", s.channel), "channel": s.channel, "modality": s.modality} for s in SENSORS
        ],
    }
