"""Writes a synthetic world in the nuScenes layout: tables, LiDAR sweeps, camera images and maps.

Work is split per key frame (the LiDAR sweeps since the previous key frame, the six
cameras and the annotations); each job re-creates its scene's world from the seed, so
jobs run in any order on any number of processes and the output stays byte-identical.
"""

from __future__ import annotations

import math
import multiprocessing
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyquaternion import Quaternion
from tqdm import tqdm

from . import camera, lidar
from .annotate import box_fields, count_points, visibility_tokens
from .catalog import CLASSES
from .map_mask import drivable_mask
from .rig import CAMERAS, IMAGE_HEIGHT, IMAGE_WIDTH, KEYFRAME_HZ, LIDAR, LIDAR_HZ, SENSORS, SensorSpec, pose_matrix
from .tables import Tokens, custom_splits, scene_names, static_tables
from .world import ANNOTATION_RANGE, SceneWorld, sample_world
from .writer import write_bytes, write_image, write_json

SWEEPS_PER_KEYFRAME = LIDAR_HZ // KEYFRAME_HZ
FRAME_US = 1_000_000 // LIDAR_HZ
FIRST_TIMESTAMP_US = 1_700_000_000_000_000
SCENE_SPACING_US = 3_600_000_000  # one hour between scene starts
TABLES = (
    "category",
    "attribute",
    "visibility",
    "instance",
    "sensor",
    "calibrated_sensor",
    "ego_pose",
    "log",
    "scene",
    "sample",
    "sample_data",
    "sample_annotation",
    "map",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate: `scenes` x `samples_per_scene` key frames under `out`, deterministic for `seed`."""

    out: Path
    scenes: int = 10
    samples_per_scene: int = 20
    seed: int = 0
    version: str = "v1.0-mini"
    workers: int = 1

    def __post_init__(self) -> None:
        if self.scenes < 1:
            raise ValueError(f"scenes must be at least 1, got {self.scenes}")
        if self.samples_per_scene < 1:
            raise ValueError(f"samples_per_scene must be at least 1, got {self.samples_per_scene}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if not self.version.startswith("v1.0-"):
            raise ValueError(f"version must look like 'v1.0-<name>', got {self.version!r}")


def generate(config: SyntheticConfig, progress: bool = True) -> Path:
    """Generate the dataset under `config.out` and return that dataroot."""
    out = Path(config.out)
    jobs = [(config, scene, key) for scene in range(config.scenes) for key in range(config.samples_per_scene)]
    bar = tqdm(total=len(jobs), unit="sample", desc="synthetic nuScenes", disable=not progress)
    if config.workers > 1:
        with multiprocessing.get_context("spawn").Pool(config.workers) as pool:
            results = [_tick(bar, result) for result in pool.imap(_key_frame_job, jobs)]
    else:
        results = [_tick(bar, _key_frame_job(job)) for job in jobs]
    bar.close()

    tokens = Tokens(config.seed)
    tables: dict[str, list] = {name: [] for name in TABLES}
    tables.update(static_tables(tokens))
    names = scene_names(config.scenes)
    for scene in range(config.scenes):
        per_key = results[scene * config.samples_per_scene : (scene + 1) * config.samples_per_scene]
        for name, rows in _scene_tables(config, tokens, scene, per_key).items():
            tables[name].extend(rows)
    for name in TABLES:
        write_json(out / config.version / f"{name}.json", tables[name])
    write_json(out / config.version / "splits.json", custom_splits(names))
    return out


def _tick(bar: tqdm, result):
    bar.update(1)
    return result


# ----------------------------------------------------------------------------- naming and records
def scene_world(config: SyntheticConfig, scene: int) -> SceneWorld:
    """The world of scene `scene`: a pure function of the seed and the scene index."""
    duration = (config.samples_per_scene - 1) / KEYFRAME_HZ
    return sample_world(np.random.default_rng([config.seed, scene]), scene_names(config.scenes)[scene], duration)


def _timestamp(scene: int, frame: int) -> int:
    return FIRST_TIMESTAMP_US + scene * SCENE_SPACING_US + frame * FRAME_US


def _logfile(config: SyntheticConfig, scene: int) -> str:
    return f"synthetic-s{config.seed}-{scene:04d}"


def _filename(config: SyntheticConfig, scene: int, channel: str, frame: int) -> str:
    key = frame % SWEEPS_PER_KEYFRAME == 0
    suffix = "pcd.bin" if channel == LIDAR.channel else "jpg"
    folder = "samples" if key else "sweeps"
    return f"{folder}/{channel}/{_logfile(config, scene)}__{channel}__{_timestamp(scene, frame)}.{suffix}"


def _ego_pose(tokens: Tokens, world: SceneWorld, scene: int, channel: str, frame: int) -> dict:
    position, yaw = world.ego_pose(frame / LIDAR_HZ)
    return {
        "token": tokens("ego_pose", scene, channel, frame),
        "timestamp": _timestamp(scene, frame),
        "rotation": Quaternion(axis=[0.0, 0.0, 1.0], radians=yaw).elements.tolist(),
        "translation": [float(position[0]), float(position[1]), 0.0],
    }


def _calibration(tokens: Tokens, scene: int, spec: SensorSpec) -> dict:
    return {
        "token": tokens("calibrated_sensor", scene, spec.channel),
        "sensor_token": tokens("sensor", spec.channel),
        "translation": list(spec.translation),
        "rotation": list(spec.rotation),
        "camera_intrinsic": [list(row) for row in spec.intrinsic],
    }


def _to_global(world: SceneWorld, spec: SensorSpec, frame: int) -> np.ndarray:
    position, yaw = world.ego_pose(frame / LIDAR_HZ)
    return pose_matrix(position, yaw) @ spec.sensor2ego()


# ----------------------------------------------------------------------------- one key frame
def _key_frame_job(job: tuple[SyntheticConfig, int, int]) -> list[dict]:
    """Write the sweeps up to key frame `key`, its camera images (and the map for key 0); return its annotations."""
    config, scene, key = job
    out, tokens, world = Path(config.out), Tokens(config.seed), scene_world(config, scene)
    key_frame = key * SWEEPS_PER_KEYFRAME
    if key == 0:
        write_image(out / "maps" / f"{tokens('map', scene)}.png", drivable_mask(world.layout))
    first = key_frame - SWEEPS_PER_KEYFRAME + 1 if key > 0 else 0
    for frame in range(first, key_frame + 1):
        primitives, _ = world.primitives(frame / LIDAR_HZ)
        rng = np.random.default_rng([config.seed, scene, frame])
        points = lidar.scan(_to_global(world, LIDAR, frame), primitives, world.layout, rng)
        write_bytes(out / _filename(config, scene, LIDAR.channel, frame), points.tobytes())

    time = key_frame / LIDAR_HZ
    boxes = world.boxes(time)
    ego_xy, _ = world.ego_pose(time)
    annotated = np.nonzero(np.hypot(*(boxes[:, :2] - ego_xy).T) <= ANNOTATION_RANGE)[0]
    fields = box_fields(boxes[annotated])
    pose = _ego_pose(tokens, world, scene, LIDAR.channel, key_frame)
    counts = count_points(fields, points, pose, _calibration(tokens, scene, LIDAR))

    primitives, owners = world.primitives(time)
    visible, silhouette = np.zeros(len(boxes), np.int64), np.zeros(len(boxes), np.int64)
    for spec in CAMERAS:
        image, seen, covered = camera.render(
            _to_global(world, spec, key_frame),
            np.array(spec.intrinsic),
            (IMAGE_WIDTH, IMAGE_HEIGHT),
            primitives,
            owners,
            world.layout,
            len(boxes),
            world.sun,
        )
        visible += seen
        silhouette += covered
        write_image(out / _filename(config, scene, spec.channel, key_frame), image)
    visibility = visibility_tokens(visible[annotated], silhouette[annotated])
    return [
        {"track": int(track), **field, "num_lidar_pts": count, "visibility_token": level}
        for track, field, count, level in zip(annotated, fields, counts, visibility)
    ]


# ----------------------------------------------------------------------------- one scene's tables
def _scene_tables(config: SyntheticConfig, tokens: Tokens, scene: int, per_key: list[list[dict]]) -> dict:
    world = scene_world(config, scene)
    keys = config.samples_per_scene
    scene_token, log_token, map_token = tokens("scene", scene), tokens("log", scene), tokens("map", scene)
    sample_tokens = [tokens("sample", scene, key) for key in range(keys)]
    tables: dict[str, list] = defaultdict(list)
    tables["log"].append(
        {
            "token": log_token,
            "logfile": _logfile(config, scene),
            "vehicle": "synthetic",
            "date_captured": "2023-11-14",
            "location": "synthetic-city",
        }
    )
    tables["map"].append(
        {
            "token": map_token,
            "log_tokens": [log_token],
            "category": "semantic_prior",
            "filename": f"maps/{map_token}.png",
        }
    )
    tables["scene"].append(
        {
            "token": scene_token,
            "log_token": log_token,
            "nbr_samples": keys,
            "first_sample_token": sample_tokens[0],
            "last_sample_token": sample_tokens[-1],
            "name": world.name,
            "description": f"Synthetic street, ego at {world.ego_speed:.1f} m/s, {len(world.tracks)} objects",
        }
    )
    for key, token in enumerate(sample_tokens):
        tables["sample"].append(
            {
                "token": token,
                "timestamp": _timestamp(scene, key * SWEEPS_PER_KEYFRAME),
                "prev": sample_tokens[key - 1] if key > 0 else "",
                "next": sample_tokens[key + 1] if key < keys - 1 else "",
                "scene_token": scene_token,
            }
        )
    for spec in SENSORS:
        tables["calibrated_sensor"].append(_calibration(tokens, scene, spec))
        step = 1 if spec.modality == "lidar" else SWEEPS_PER_KEYFRAME
        frames = list(range(0, (keys - 1) * SWEEPS_PER_KEYFRAME + 1, step))
        data_tokens = [tokens("sample_data", scene, spec.channel, frame) for frame in frames]
        for index, frame in enumerate(frames):
            pose = _ego_pose(tokens, world, scene, spec.channel, frame)
            tables["ego_pose"].append(pose)
            camera_spec = spec.modality == "camera"
            tables["sample_data"].append(
                {
                    "token": data_tokens[index],
                    "sample_token": sample_tokens[math.floor(frame / SWEEPS_PER_KEYFRAME + 0.5)],
                    "ego_pose_token": pose["token"],
                    "calibrated_sensor_token": tokens("calibrated_sensor", scene, spec.channel),
                    "timestamp": pose["timestamp"],
                    "fileformat": "jpg" if camera_spec else "pcd",
                    "is_key_frame": frame % SWEEPS_PER_KEYFRAME == 0,
                    "height": IMAGE_HEIGHT if camera_spec else 0,
                    "width": IMAGE_WIDTH if camera_spec else 0,
                    "filename": _filename(config, scene, spec.channel, frame),
                    "prev": data_tokens[index - 1] if index > 0 else "",
                    "next": data_tokens[index + 1] if index < len(frames) - 1 else "",
                }
            )
    tables.update(_annotation_tables(tokens, scene, world, sample_tokens, per_key))
    return tables


def _annotation_tables(
    tokens: Tokens, scene: int, world: SceneWorld, sample_tokens: list[str], per_key: list[list[dict]]
) -> dict[str, list]:
    """`instance` and `sample_annotation` rows with prev/next chains per track."""
    by_track: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for key, key_annotations in enumerate(per_key):
        for annotation in key_annotations:
            by_track[annotation["track"]].append((key, annotation))
    instances, rows = [], []
    for track in sorted(by_track):
        chain = by_track[track]
        spec = world.tracks[track]
        ann_tokens = [tokens("sample_annotation", scene, track, key) for key, _ in chain]
        instances.append(
            {
                "token": tokens("instance", scene, track),
                "category_token": tokens("category", CLASSES[spec.name].category),
                "nbr_annotations": len(chain),
                "first_annotation_token": ann_tokens[0],
                "last_annotation_token": ann_tokens[-1],
            }
        )
        for index, (key, annotation) in enumerate(chain):
            rows.append(
                (
                    key,
                    track,
                    {
                        "token": ann_tokens[index],
                        "sample_token": sample_tokens[key],
                        "instance_token": tokens("instance", scene, track),
                        "visibility_token": annotation["visibility_token"],
                        "attribute_tokens": [tokens("attribute", spec.attribute)] if spec.attribute else [],
                        "translation": annotation["translation"],
                        "size": annotation["size"],
                        "rotation": annotation["rotation"],
                        "prev": ann_tokens[index - 1] if index > 0 else "",
                        "next": ann_tokens[index + 1] if index < len(chain) - 1 else "",
                        "num_lidar_pts": annotation["num_lidar_pts"],
                        "num_radar_pts": 0,
                    },
                )
            )
    return {"instance": instances, "sample_annotation": [row for _, _, row in sorted(rows, key=lambda r: r[:2])]}
