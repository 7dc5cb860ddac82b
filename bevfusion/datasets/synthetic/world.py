"""One scene's world: the ego's drive, the objects' tracks and the static structure.

Traffic is organised in lanes so nothing collides: every lane moves at one speed (a
platoon), parked objects keep the curb lane, pedestrians walk the sidewalks in two
directions, and each scene gets a construction zone (barriers, cones, an excavator)
and a parked truck, trailer, bus and two-wheelers near the middle of the ego's drive,
so every detection class is seen close up in every scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .catalog import ANNOTATION_MARGIN, build_parts, sample_size
from .layout import LANE_WIDTH, ROAD_HALF_WIDTH, RoadLayout
from .materials import MATERIAL_ID

EGO_LANE_Y = -LANE_WIDTH / 2
EGO_EXTENT = (-1.2, 3.3)  # road-frame x span of the ego body around its rear axle
SCENE_REACH = 90.0  # metres before and after the drive where the world is populated
ANNOTATION_RANGE = 75.0  # objects whose centre is this close to the ego are annotated
TAPER_LENGTH = 10.0  # metres of cones leading into and out of a construction zone


@dataclass
class Track:
    """An object moving at constant velocity in the road frame (a parked one has zero velocity)."""

    name: str  # detection class
    size: tuple[float, float, float]  # annotated l, w, h
    position: np.ndarray  # road-frame (x, y) at t = 0
    velocity: np.ndarray  # road-frame (vx, vy) in m/s
    yaw: float  # road-frame heading
    attribute: str  # nuScenes attribute name, '' for none
    parts: np.ndarray  # (P, 7) parts in the object frame

    def position_at(self, time: float) -> np.ndarray:
        return self.position + self.velocity * time


@dataclass
class SceneWorld:
    name: str
    layout: RoadLayout
    ego_start: float  # road-frame x of the ego's rear axle at t = 0
    ego_speed: float
    duration: float
    sun: tuple[float, float, float] = (0.35, 0.25, 0.9)  # unit vector toward the sun, global frame
    tracks: list[Track] = field(default_factory=list)
    static: np.ndarray = field(default_factory=lambda: np.zeros((0, 8)))  # global cx cy cz hl hw hh yaw material

    def ego_pose(self, time: float) -> tuple[np.ndarray, float]:
        """Global (x, y) of the ego's rear axle and its global yaw at `time`."""
        road = np.array([self.ego_start + self.ego_speed * time, EGO_LANE_Y])
        return self.layout.to_global(road), self.layout.theta

    def boxes(self, time: float) -> np.ndarray:
        """Annotated boxes `(N, 9)` in the global frame: gravity centre, l, w, h, yaw, vx, vy."""
        rows = []
        rotation = _rotation(self.layout.theta)
        for track in self.tracks:
            centre = self.layout.to_global(track.position_at(time))
            velocity = rotation @ track.velocity
            z = track.size[2] / 2 - ANNOTATION_MARGIN
            rows.append([*centre, z, *track.size, track.yaw + self.layout.theta, *velocity])
        return np.asarray(rows, dtype=np.float64).reshape(-1, 9)

    def primitives(self, time: float) -> tuple[np.ndarray, np.ndarray]:
        """All boxes the sensors see at `time`: `(P, 8)` rows as in `static`, and the owner track (-1: static)."""
        boxes = self.boxes(time)
        rows, owners = [self.static], [np.full(len(self.static), -1)]
        for index, (track, box) in enumerate(zip(self.tracks, boxes)):
            parts = track.parts
            cos, sin = math.cos(box[6]), math.sin(box[6])
            centre = np.stack(
                [
                    box[0] + cos * parts[:, 0] - sin * parts[:, 1],
                    box[1] + sin * parts[:, 0] + cos * parts[:, 1],
                    parts[:, 2],
                ],
                1,
            )
            rows.append(np.concatenate([centre, parts[:, 3:6], np.full((len(parts), 1), box[6]), parts[:, 6:7]], 1))
            owners.append(np.full(len(parts), index))
        return np.concatenate(rows), np.concatenate(owners)


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


# ----------------------------------------------------------------------------- sampling
def sample_world(rng: np.random.Generator, name: str, duration: float) -> SceneWorld:
    """Sample the world of one scene lasting `duration` seconds."""
    ego_speed = 0.0 if rng.random() < 0.15 else float(rng.uniform(3.0, 11.0))
    ego_start = 0.0
    ego_end = ego_speed * duration
    t_mid, x_mid = duration / 2, ego_speed * duration / 2
    cross_x = x_mid + float(rng.choice([-1, 1]) * rng.uniform(35.0, 60.0))
    x_range = (ego_start - SCENE_REACH, ego_end + SCENE_REACH)
    layout = RoadLayout.around(float(rng.uniform(-math.pi, math.pi)), cross_x, x_range, SCENE_REACH)
    sun_azimuth, sun_elevation = float(rng.uniform(-math.pi, math.pi)), math.radians(float(rng.uniform(25, 75)))
    sun = (
        math.cos(sun_elevation) * math.cos(sun_azimuth),
        math.cos(sun_elevation) * math.sin(sun_azimuth),
        math.sin(sun_elevation),
    )
    world = SceneWorld(name, layout, ego_start, ego_speed, duration, sun)
    builder = _TrackBuilder(rng, world.tracks)

    # Curb lane on the ego's right: the construction zone, then parked vehicles around it.
    zone_start = x_mid + float(rng.uniform(-5.0, 20.0))
    zone = (zone_start, zone_start + float(rng.uniform(14.0, 24.0)))
    builder.construction_zone(zone)
    curb_y = -(ROAD_HALF_WIDTH - LANE_WIDTH / 2)
    taken = [(zone[0] - TAPER_LENGTH - 1.0, zone[1] + TAPER_LENGTH + 4.0), (cross_x - 12.0, cross_x + 12.0)]
    beside_ego = (x_mid - 8.0, x_mid + 8.0)  # keep the big ones from filling the right cameras
    for kind in ("truck", "trailer", "bus"):
        taken.append(builder.parked_near(kind, curb_y, x_mid, taken + [beside_ego]))
    builder.parked_lane(curb_y, x_range, taken)

    # Moving lanes: the ego's lane, the opposite lane and the left curb lane with two-wheelers.
    def reach(speed: float) -> float:
        """Half-length of a lane's platoon so it covers the drive's surroundings all scene long."""
        return SCENE_REACH + (abs(speed) + ego_speed) * duration / 2

    builder.moving_lane(
        EGO_LANE_Y, 1, ego_speed, x_mid, t_mid, reach(0), ego_gap=(x_mid + EGO_EXTENT[0] - 6, x_mid + EGO_EXTENT[1] + 8)
    )
    opposite = 0.0 if rng.random() < 0.15 else float(rng.uniform(4.0, 13.0))
    builder.moving_lane(-EGO_LANE_Y, -1, opposite, x_mid, t_mid, reach(opposite))
    cycle_speed = float(rng.uniform(2.5, 7.0))
    builder.moving_lane(
        ROAD_HALF_WIDTH - LANE_WIDTH / 2, -1, cycle_speed, x_mid, t_mid, reach(cycle_speed), cycles=True
    )

    # Sidewalks: walking pedestrians, standing ones and parked two-wheelers.
    for side in (-1, 1):
        for lane_y, direction in ((8.5, 1), (9.7, -1)):
            speed = float(rng.uniform(0.9, 1.6))
            builder.walkers(side * lane_y, direction, speed, x_mid, t_mid, reach(speed))
        builder.sidewalk_static(side, x_mid, x_range, cross_x)
    world.static = _static_structure(rng, layout, x_range)
    return world


_LANE_MIX = {"car": 0.72, "truck": 0.12, "bus": 0.08, "construction_vehicle": 0.03, "trailer": 0.05}
_PARKED_MIX = {"car": 0.75, "truck": 0.1, "trailer": 0.08, "bus": 0.02, "construction_vehicle": 0.05}
_CYCLE_MIX = {"bicycle": 0.4, "motorcycle": 0.4, "car": 0.2}


class _TrackBuilder:
    """Adds tracks to a scene; speeds and gaps keep them from overlapping."""

    def __init__(self, rng: np.random.Generator, tracks: list[Track]) -> None:
        self.rng = rng
        self.tracks = tracks

    def add(
        self, name: str, position, yaw: float, velocity=(0.0, 0.0), attribute: str = "", rider: bool = False, size=None
    ) -> Track:
        size = size or sample_size(self.rng, name, rider)
        parts = np.asarray(build_parts(self.rng, name, size, rider), dtype=np.float64)
        track = Track(name, size, np.asarray(position, float), np.asarray(velocity, float), yaw, attribute, parts)
        self.tracks.append(track)
        return track

    def _pick(self, mix: dict[str, float]) -> str:
        names = list(mix)
        return names[self.rng.choice(len(names), p=np.array(list(mix.values())) / sum(mix.values()))]

    def construction_zone(self, zone: tuple[float, float]) -> None:
        """A closed curb lane: barriers along the lane line, a cone taper at each end, an excavator inside."""
        start, end = zone
        line_y = -(LANE_WIDTH + 0.4)  # barriers stand just right of the lane line
        x = start
        while x < end:  # barriers stand with their long side (the box width) along the road
            size = sample_size(self.rng, "barrier")
            yaw = math.pi / 2 + float(self.rng.normal(0, 0.03))
            self.add("barrier", (x + size[1] / 2, line_y), yaw, size=size)
            x += size[1] + float(self.rng.uniform(0.15, 0.6))
        curb_y = -(ROAD_HALF_WIDTH - 0.6)
        for fraction in np.linspace(0.0, 1.0, int(self.rng.integers(4, 7))):
            for x0, x1 in ((start - TAPER_LENGTH, start - 1.0), (x + TAPER_LENGTH, x + 1.0)):
                position = (x0 + fraction * (x1 - x0) + self.rng.normal(0, 0.1), curb_y + fraction * (line_y - curb_y))
                self.add("traffic_cone", position, float(self.rng.uniform(-math.pi, math.pi)))
        size = sample_size(self.rng, "construction_vehicle")
        size = (min(size[0], end - start - 2.0), *size[1:])
        heading = float(self.rng.choice([0.0, math.pi]) + self.rng.normal(0, 0.1))
        self.add(
            "construction_vehicle",
            ((start + end) / 2, line_y - 0.4 - size[1] / 2),  # clear of the barriers
            heading,
            attribute="vehicle.parked",
            size=size,
        )

    def parked_near(self, name: str, lane_y: float, x_mid: float, taken: list) -> tuple[float, float]:
        """One parked `name` within 30 m of the middle of the drive, clear of `taken` intervals; returns its span."""
        size = sample_size(self.rng, name)
        for _ in range(50):
            x = x_mid + float(self.rng.uniform(-30.0, 30.0))
            span = (x - size[0] / 2 - 1.0, x + size[0] / 2 + 1.0)
            if not _overlaps(span, taken):
                break
        attribute = "vehicle.stopped" if name == "bus" else "vehicle.parked"
        self.add(
            name, (x, lane_y + self.rng.normal(0, 0.1)), float(self.rng.normal(0, 0.04)), attribute=attribute, size=size
        )
        return span

    def parked_lane(self, lane_y: float, x_range: tuple[float, float], taken: list) -> None:
        x = x_range[0]
        while x < x_range[1]:
            name = self._pick(_PARKED_MIX)
            size = sample_size(self.rng, name)
            span = (x, x + size[0])
            if self.rng.random() < 0.25 or _overlaps(span, taken):
                x += float(self.rng.uniform(3.0, 10.0))
                continue
            heading = 0.0 if self.rng.random() < 0.8 else math.pi
            self.add(
                name,
                (x + size[0] / 2, lane_y + self.rng.normal(0, 0.15)),
                heading + self.rng.normal(0, 0.04),
                attribute="vehicle.parked",
                size=size,
            )
            x += size[0] + float(self.rng.uniform(0.8, 4.0))

    def moving_lane(
        self,
        lane_y: float,
        direction: int,
        speed: float,
        x_mid: float,
        t_mid: float,
        reach: float,
        cycles: bool = False,
        ego_gap: tuple[float, float] | None = None,
    ) -> None:
        """A platoon at one speed; positions are drawn around `x_mid` at time `t_mid`."""
        x = x_mid - reach + float(self.rng.uniform(0, 10))
        gap_scale = 1.0 + 0.6 * speed
        while x < x_mid + reach:
            name = self._pick(_CYCLE_MIX if cycles else _LANE_MIX)
            rider = name in ("bicycle", "motorcycle")
            size = sample_size(self.rng, name, rider)
            span = (x, x + size[0])
            if ego_gap is not None and _overlaps(span, [ego_gap]):
                x = ego_gap[1]
                continue
            centre = x + size[0] / 2
            velocity = np.array([direction * speed, 0.0])
            start = np.array([centre, lane_y + self.rng.normal(0, 0.12)]) - velocity * t_mid
            if rider:
                attribute = "cycle.with_rider"
            else:
                attribute = "vehicle.moving" if speed > 0.3 else "vehicle.stopped"
            yaw = (0.0 if direction > 0 else math.pi) + float(self.rng.normal(0, 0.01))
            self.add(name, start, yaw, velocity, attribute, rider, size)
            x += size[0] + float(self.rng.uniform(2.0, 6.0)) * gap_scale

    def walkers(self, lane_y: float, direction: int, speed: float, x_mid: float, t_mid: float, reach: float) -> None:
        x = x_mid - reach + float(self.rng.uniform(0, 5))
        while x < x_mid + reach:
            velocity = np.array([direction * speed, 0.0])
            start = np.array([x, lane_y + self.rng.normal(0, 0.08)]) - velocity * t_mid
            yaw = (0.0 if direction > 0 else math.pi) + float(self.rng.normal(0, 0.05))
            self.add("pedestrian", start, yaw, velocity, "pedestrian.moving")
            x += float(self.rng.uniform(8.0, 40.0))

    def sidewalk_static(self, side: int, x_mid: float, x_range: tuple[float, float], cross_x: float) -> None:
        """Standing pedestrians near the buildings and parked two-wheelers at the curb."""
        avoid = [(cross_x - 11.5, cross_x + 11.5)]
        for index in range(int(self.rng.integers(3, 8))):
            x = x_mid + float(self.rng.uniform(-25, 25)) if index < 2 else float(self.rng.uniform(*x_range))
            if not _overlaps((x - 1, x + 1), avoid):
                avoid.append((x - 0.8, x + 0.8))
                self.add(
                    "pedestrian",
                    (x, side * 10.6),
                    float(self.rng.uniform(-math.pi, math.pi)),
                    attribute="pedestrian.standing",
                )
        kinds = ["bicycle", "motorcycle"] + [str(self.rng.choice(["bicycle", "motorcycle"])) for _ in range(3)]
        taken: list = [(cross_x - 11.5, cross_x + 11.5)]
        for index, name in enumerate(kinds):
            size = sample_size(self.rng, name)
            x = x_mid + float(self.rng.uniform(-20, 20)) if index < 2 else float(self.rng.uniform(*x_range))
            span = (x - size[0] / 2 - 0.3, x + size[0] / 2 + 0.3)
            if _overlaps(span, taken):
                continue
            taken.append(span)
            heading = float(self.rng.choice([0.0, math.pi]) + self.rng.normal(0, 0.08))
            self.add(name, (x, side * 7.65), heading, attribute="cycle.without_rider", size=size)


def _overlaps(span: tuple[float, float], intervals: list) -> bool:
    return any(span[0] < hi and lo < span[1] for lo, hi in intervals)


def _static_structure(rng: np.random.Generator, layout: RoadLayout, x_range: tuple[float, float]) -> np.ndarray:
    """Buildings behind the sidewalks, walls in the gaps, trees and street lights (global frame)."""
    rows = []  # road-frame cx cy cz hl hw hh yaw material
    cross = (layout.cross_x - 12.0, layout.cross_x + 12.0)
    buildings = ("building_brick", "building_concrete", "building_glass")
    for side in (-1, 1):
        x = x_range[0] - 20
        while x < x_range[1] + 20:
            if cross[0] <= x < cross[1]:
                x = cross[1]
                continue
            length = min(float(rng.uniform(10, 40)), cross[0] - x if x < cross[0] else math.inf)  # stop at the street
            if length > 4.0:
                if rng.random() < 0.85:
                    depth, height = float(rng.uniform(8, 20)), float(rng.uniform(5, 28))
                    front = ROAD_HALF_WIDTH + 5.0 + float(rng.uniform(0, 3))
                    material = MATERIAL_ID[buildings[rng.integers(3)]]
                    rows.append(
                        [
                            x + length / 2,
                            side * (front + depth / 2),
                            height / 2,
                            length / 2,
                            depth / 2,
                            height / 2,
                            0.0,
                            material,
                        ]
                    )
                else:
                    height = float(rng.uniform(1.2, 2.5))
                    rows.append(
                        [
                            x + length / 2,
                            side * (ROAD_HALF_WIDTH + 4.8),
                            height / 2,
                            length / 2,
                            0.15,
                            height / 2,
                            0.0,
                            MATERIAL_ID["wall"],
                        ]
                    )
            x += length + float(rng.uniform(0, 6))
        for x in np.arange(x_range[0], x_range[1], float(rng.uniform(8, 20))):  # trees in the grass strip
            if not _overlaps((x - 2, x + 2), [cross]) and rng.random() < 0.7:
                trunk, crown = float(rng.uniform(2.0, 3.0)), float(rng.uniform(1.0, 1.6))
                y = side * (ROAD_HALF_WIDTH + 4.5)
                rows.append([x, y, trunk / 2, 0.15, 0.15, trunk / 2, 0.0, MATERIAL_ID["bark"]])
                rows.append(
                    [x, y, trunk + crown, crown, crown, crown, float(rng.uniform(0, 1.5)), MATERIAL_ID["foliage"]]
                )
        for x in np.arange(x_range[0], x_range[1], float(rng.uniform(18, 30))):
            if not _overlaps((x - 1, x + 1), [(layout.cross_x - 11.5, layout.cross_x + 11.5)]):
                rows.append([x, side * (ROAD_HALF_WIDTH + 0.25), 3.5, 0.12, 0.12, 3.5, 0.0, MATERIAL_ID["pole"]])
    rows_array = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
    rows_array[:, 0:2] = layout.to_global(rows_array[:, 0:2])
    rows_array[:, 6] += layout.theta
    return rows_array
