"""Camera rendering: textured ground and sky, then every visible box face through a z-buffer.

The ground never hides a box (all geometry stands on it and the camera is above it), so
the background carries no depth and is rendered at half resolution; box faces are
rasterised at full resolution with per-pixel depth from the face plane, shaded by a sun
and textured per material. The id buffer tells which object each pixel shows, which
gives the visibility of each annotation.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from .layout import RoadLayout
from .materials import ACCENT_RGB, BASE_RGB, TEXTURE_ID, TEXTURES

NEAR = 0.15
HAZE_RGB = np.array([205.0, 212.0, 220.0])
SKY_TOP_RGB = np.array([95.0, 140.0, 205.0])
HAZE_DISTANCE = 260.0
_AXES_SIGNS = [(axis, sign) for axis in range(3) for sign in (-1.0, 1.0)]
_FACE_CORNERS = {  # for the face normal to `axis`, the other two axes' signs in a cyclic order
    0: [(1, 2), ((-1, -1), (1, -1), (1, 1), (-1, 1))],
    1: [(0, 2), ((-1, -1), (1, -1), (1, 1), (-1, 1))],
    2: [(0, 1), ((-1, -1), (1, -1), (1, 1), (-1, 1))],
}


def render(
    cam2global: np.ndarray,
    intrinsic: np.ndarray,
    size: tuple[int, int],
    primitives: np.ndarray,
    owners: np.ndarray,
    layout: RoadLayout,
    num_objects: int,
    sun: tuple[float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one camera: RGB uint8 `(H, W, 3)`, and per object its visible and silhouette pixel counts.

    `owners` gives each primitive's object index (-1 for static structure); an object's
    primitives must be consecutive.
    """
    width, height = size
    image = render_background(cam2global, intrinsic, size, layout)
    inverse_depth = np.zeros((height, width))  # z-buffer holding 1/z; 0 is infinitely far
    ids = np.zeros((height, width), dtype=np.int64)  # object index + 1; 0 for ground, sky and structure
    stamp = np.full((height, width), -1, dtype=np.int64)  # last object whose silhouette covered the pixel
    silhouette = np.zeros(num_objects, dtype=np.int64)
    rotation = cam2global[:3, :3]
    inverse_k = np.linalg.inv(intrinsic)
    primitives, owners = _in_view(primitives, owners, rotation, cam2global[:3, 3], intrinsic, size)
    faces = _visible_faces(primitives, cam2global)
    for index, face, corners, normal, offset in zip(*faces):
        box, owner = primitives[index], owners[index]
        rasterised = _rasterise(corners, intrinsic, size)
        if rasterised is None:
            continue
        (x0, y0), mask = rasterised
        rows, cols = slice(y0, y0 + mask.shape[0]), slice(x0, x0 + mask.shape[1])
        if owner >= 0:
            silhouette[owner] += int((mask & (stamp[rows, cols] != owner)).sum())
            np.copyto(stamp[rows, cols], owner, where=mask)
        # On a plane, 1/z is affine in the pixel coordinates: n . (K^-1 [u, v, 1]) / (n . p).
        slope = (normal @ inverse_k) / offset
        inverse_z = (
            slope[0] * np.arange(x0, x0 + mask.shape[1])[None, :]
            + slope[1] * np.arange(y0, y0 + mask.shape[0])[:, None]
            + slope[2]
        )
        write = mask & (inverse_z > inverse_depth[rows, cols])
        if not write.any():
            continue
        np.copyto(inverse_depth[rows, cols], inverse_z, where=write)
        np.copyto(ids[rows, cols], owner + 1, where=write)
        centre = corners.mean(0) - normal * box[3 + face // 2]
        cos, sin = math.cos(box[6]), math.sin(box[6])
        axes = rotation.T @ np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        colours = _face_colours(int(box[7]), float(np.dot(sun, rotation @ normal)), float(corners[:, 2].mean()))
        if len(colours) == 1:
            np.copyto(image[rows, cols], colours[0], where=write[..., None])
        else:
            accent = _texture_mask(int(box[7]), (x0, y0), inverse_z, inverse_k, centre, axes, box[3:6])
            np.copyto(image[rows, cols], colours[accent.astype(np.int64)], where=write[..., None])
    visible = np.bincount(ids.ravel(), minlength=num_objects + 1)[1:]
    return image, visible, silhouette


def _in_view(primitives, owners, rotation, origin, intrinsic, size):
    """Primitives whose bounding sphere meets the camera frustum within haze range."""
    centres = (primitives[:, :3] - origin) @ rotation
    radius = np.linalg.norm(primitives[:, 3:6], axis=1)
    width, height = size
    fx, fy, cx, cy = intrinsic[0, 0], intrinsic[1, 1], intrinsic[0, 2], intrinsic[1, 2]
    keep = (centres[:, 2] + radius > NEAR) & (np.linalg.norm(centres, axis=1) - radius < HAZE_DISTANCE)
    for axis, low, high, focal, principal in ((0, 0, width, fx, cx), (1, 0, height, fy, cy)):
        for bound, sign in (((low - principal) / focal, 1.0), ((high - principal) / focal, -1.0)):
            normal = np.zeros(3)
            normal[axis], normal[2] = sign, -sign * bound
            keep &= centres @ (normal / np.linalg.norm(normal)) > -radius
    return primitives[keep], owners[keep]


def _visible_faces(primitives: np.ndarray, cam2global: np.ndarray):
    """Front faces of all primitives in the camera frame: primitive index, face id, corners (4, 3), normal, n . p."""
    rotation, origin = cam2global[:3, :3], cam2global[:3, 3]
    cos, sin = np.cos(primitives[:, 6]), np.sin(primitives[:, 6])
    zeros, ones = np.zeros_like(cos), np.ones_like(cos)
    box_axes = np.stack(
        [np.stack([cos, sin, zeros], 1), np.stack([-sin, cos, zeros], 1), np.stack([zeros, zeros, ones], 1)], 1
    )  # (P, axis, xyz) in the global frame
    axes = box_axes @ rotation  # (P, axis, xyz) in the camera frame
    centres = (primitives[:, :3] - origin) @ rotation
    half = primitives[:, 3:6]
    scaled = axes * half[:, :, None]
    normals = np.stack([sign * axes[:, axis] for axis, sign in _AXES_SIGNS], 1)  # (P, 6, 3)
    corners = np.empty((len(primitives), 6, 4, 3))
    for face, (axis, sign) in enumerate(_AXES_SIGNS):
        (a, b), signs = _FACE_CORNERS[axis]
        for corner, (sa, sb) in enumerate(signs):
            corners[:, face, corner] = centres + sign * scaled[:, axis] + sa * scaled[:, a] + sb * scaled[:, b]
    offsets = np.einsum("pfi,pfi->pf", normals, corners.mean(2))
    index, face = np.nonzero(offsets < 0)
    return index, face, corners[index, face], normals[index, face], offsets[index, face]


def _rasterise(corners: np.ndarray, intrinsic: np.ndarray, size: tuple[int, int]):
    """Top-left pixel and boolean mask of the pixels a face covers, clipped to the near plane and the image."""
    polygon = corners if corners[:, 2].min() >= NEAR else _clip_near(corners)
    if len(polygon) < 3:
        return None
    projected = polygon @ intrinsic.T
    uv = projected[:, :2] / projected[:, 2:3]
    width, height = size
    low_x, low_y = uv.min(0)
    high_x, high_y = uv.max(0)
    if high_x < 0 or high_y < 0 or low_x > width - 1 or low_y > height - 1:
        return None
    x0, y0 = int(max(low_x, 0)), int(max(low_y, 0))
    x1, y1 = int(math.ceil(min(high_x, width - 1))), int(math.ceil(min(high_y, height - 1)))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    points = np.round((uv - [x0, y0]) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, points, 1, lineType=cv2.LINE_8, shift=4)
    return (x0, y0), mask.view(bool)


def _clip_near(polygon: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon (camera frame) to z >= NEAR."""
    out = []
    for index in range(len(polygon)):
        current, following = polygon[index], polygon[(index + 1) % len(polygon)]
        inside_now, inside_next = current[2] >= NEAR, following[2] >= NEAR
        if inside_now:
            out.append(current)
        if inside_now != inside_next:
            fraction = (NEAR - current[2]) / (following[2] - current[2])
            out.append(current + fraction * (following - current))
    return np.array(out).reshape(-1, 3)


def _face_colours(material: int, sun: float, depth: float) -> np.ndarray:
    """uint8 colours of a face, `(1, 3)` for a plain material or base and accent `(2, 3)`: sun light and haze."""
    light = 0.55 + 0.45 * max(sun, 0.0)
    haze = 1 - math.exp(-max(depth, 0.0) / HAZE_DISTANCE)
    colours = (
        [BASE_RGB[material]]
        if TEXTURES[TEXTURE_ID[material]] == "plain"
        else [BASE_RGB[material], ACCENT_RGB[material]]
    )
    return np.array([np.clip(c * light * (1 - haze) + HAZE_RGB * haze, 0, 255) for c in colours], dtype=np.uint8)


def _texture_mask(material: int, top_left, inverse_z, inverse_k, centre, axes, half) -> np.ndarray:
    """Where a face's rectangle of pixels shows the accent colour (windows, stripes, bands, ribs).

    The texture is a function of the box-frame position: `along` (x + y) and `up` (height
    above the box bottom), both affine in (u, v) divided by 1/z on a plane.
    """
    texture = TEXTURES[TEXTURE_ID[material]]
    height, width = inverse_z.shape
    us = np.arange(top_left[0], top_left[0] + width, dtype=np.float32)[None, :]
    vs = np.arange(top_left[1], top_left[1] + height, dtype=np.float32)[:, None]
    depth = (1.0 / inverse_z).astype(np.float32)
    rays = (inverse_k.T @ axes).astype(np.float32)  # row r: coefficient of (u, v, 1)[r] in box-frame coordinates
    along_coeff, up_coeff = rays[:, 0] + rays[:, 1], rays[:, 2]
    along = (us * along_coeff[0] + vs * along_coeff[1] + along_coeff[2]) * depth - float((centre @ axes[:, :2]).sum())
    up = (us * up_coeff[0] + vs * up_coeff[1] + up_coeff[2]) * depth - float(centre @ axes[:, 2] - half[2])
    if texture == "windows":
        column, floor = np.mod(along, 3.0), np.mod(up, 3.2)
        return (column > 0.8) & (column < 2.2) & (floor > 1.0) & (floor < 2.4) & (up > 3.0)
    if texture == "stripes":
        return np.mod(along + up, 0.5) < 0.25
    relative_up = up / float(2 * half[2])
    if texture == "band":
        return (relative_up > 0.35) & (relative_up < 0.65)
    if texture == "window_band":
        return (relative_up > 0.5) & (relative_up < 0.85) & (np.mod(along, 2.0) < 1.6)
    return np.mod(along, 0.6) < 0.12  # ribs


@functools.lru_cache(maxsize=16)
def _half_resolution_rays(intrinsic: tuple, size: tuple[int, int]) -> np.ndarray:
    """Camera-frame rays (z = 1) through the centres of a half-resolution pixel grid."""
    width, height = size
    us, vs = np.meshgrid(np.arange(width // 2) * 2 + 0.5, np.arange(height // 2) * 2 + 0.5)
    pixels = np.stack([us, vs, np.ones_like(us)], -1)
    return (pixels @ np.linalg.inv(np.array(intrinsic)).T).astype(np.float32)


def render_background(
    cam2global: np.ndarray, intrinsic: np.ndarray, size: tuple[int, int], layout: RoadLayout
) -> np.ndarray:
    """Ground (map materials with tile noise, hazy far away) and sky, rendered at half size and upsampled."""
    width, height = size
    dirs = _half_resolution_rays(tuple(map(tuple, intrinsic)), size) @ cam2global[:3, :3].T.astype(np.float32)
    origin = cam2global[:3, 3]
    length = np.linalg.norm(dirs, axis=-1)
    down = dirs[..., 2] < -1e-6
    colour = np.empty(dirs.shape, dtype=np.float64)
    sky_mix = np.clip(dirs[~down, 2] / length[~down] * 3.0, 0, 1)[:, None]
    colour[~down] = HAZE_RGB * (1 - sky_mix) + SKY_TOP_RGB * sky_mix
    ground_dirs = dirs[down]
    t = np.minimum(-origin[2] / ground_dirs[:, 2], 2000.0)
    ground = origin[:2] + ground_dirs[:, :2] * t[:, None]
    cells = np.floor(ground * 2.0).astype(np.int64)
    noise = ((cells[:, 0] * 73856093) ^ (cells[:, 1] * 19349663)) % 1000 / 1000.0
    haze = (1 - np.exp(-t * length[down] / HAZE_DISTANCE))[:, None]
    ground_colour = BASE_RGB[layout.ground_material(ground)] * (0.9 + 0.2 * noise[:, None])
    colour[down] = ground_colour * (1 - haze) + HAZE_RGB * haze
    return cv2.resize(colour.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
