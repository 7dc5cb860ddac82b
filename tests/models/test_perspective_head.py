"""PerspectiveSemanticHead: GT boxes projected into the cameras label the feature pixels; its loss trains them."""

import numpy as np
import torch
from rig_helpers import rig_calibration, rig_matrices

from bevfusion.models import PerspectiveSemanticHead
from bevfusion.structures import LiDARBoxes

IMAGE_SIZE = (64, 176)
FEATURE_SIZE = (8, 22)
BACKGROUND = 10


def _head(**kwargs) -> PerspectiveSemanticHead:
    return PerspectiveSemanticHead(
        in_channels=8, num_classes=10, image_size=IMAGE_SIZE, feature_size=FEATURE_SIZE, **kwargs
    )


def _on_front_axis(depth: float, size=(4.5, 1.9, 1.6)) -> list[float]:
    """A box (x, y, z, l, w, h, yaw, vx, vy) centred on the front camera's optical axis at `depth` metres."""
    _, lidar2cam = rig_matrices()
    centre = (np.linalg.inv(lidar2cam[0]) @ [0.0, 0.0, depth, 1.0])[:3]
    return [*centre, *size, 0.0, 0.0, 0.0]


def _centre_pixel(depth: float) -> tuple[int, int]:
    """The feature pixel that shows the front camera's principal point."""
    calib = rig_calibration(IMAGE_SIZE)
    centre = torch.tensor([_on_front_axis(depth)[:3]], dtype=torch.float64)
    u, v, d = (calib.lidar2img[0, 0, :3, :3].double() @ centre.T)[:, 0] + calib.lidar2img[0, 0, :3, 3].double()
    return int(v / d // 8), int(u / d // 8)


def test_a_box_ahead_labels_a_rectangle_around_its_centre_in_the_front_camera_only():
    head = _head()
    lidar2img = rig_calibration(IMAGE_SIZE).lidar2img[0]
    targets = head.targets(lidar2img, LiDARBoxes([_on_front_axis(10.0)]), torch.tensor([3]))
    assert targets.shape == (6, *FEATURE_SIZE)
    assert (targets[1:] == BACKGROUND).all() and set(targets[0].unique().tolist()) == {3, BACKGROUND}
    assert targets[0][_centre_pixel(10.0)] == 3
    rows, cols = (targets[0] == 3).nonzero().T
    rectangle = targets[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert (rectangle == 3).all(), "a box's extent is a rectangle of pixels"
    far = head.targets(lidar2img, LiDARBoxes([_on_front_axis(30.0)]), torch.tensor([3]))
    assert 0 < (far[0] == 3).sum() < (targets[0] == 3).sum(), "a farther box covers fewer pixels"


def test_the_nearest_box_wins_where_extents_overlap_and_a_box_behind_labels_nothing():
    head = _head()
    lidar2img = rig_calibration(IMAGE_SIZE).lidar2img[0]
    boxes = LiDARBoxes([_on_front_axis(25.0, size=(12.0, 2.5, 3.5)), _on_front_axis(12.0), _on_front_axis(-8.0)])
    targets = head.targets(lidar2img, boxes, torch.tensor([2, 0, 7]))
    assert targets[0][_centre_pixel(12.0)] == 0, "the car in front of the bus"
    assert (targets[0] == 2).any(), "the bus shows around the car"
    assert not (targets[0] == 7).any(), "behind the front camera"
    empty = head.targets(lidar2img, LiDARBoxes(torch.zeros(0, 9)), torch.zeros(0, dtype=torch.long))
    assert (empty == BACKGROUND).all()


def test_the_loss_trains_the_classifier_towards_the_projected_classes():
    torch.manual_seed(0)
    head = _head(loss_weight=2.0)
    calib = rig_calibration(IMAGE_SIZE, batch=2)
    boxes = [LiDARBoxes([_on_front_axis(10.0)]), LiDARBoxes([_on_front_axis(15.0)])]
    labels = [torch.tensor([3]), torch.tensor([6])]
    features = torch.zeros(12, 8, *FEATURE_SIZE)
    features[:6, 0] = 1.0  # sample 0's images differ from sample 1's
    features[:, 1] = 1.0
    for camera in (0, 6):  # the object's pixels look different from the background
        features[camera, 2] = (
            head.targets(calib.lidar2img[camera // 6], boxes[camera // 6], labels[camera // 6])[0] != BACKGROUND
        ).float()
    initial = head.loss(features, calib.lidar2img, boxes, labels)
    assert abs(initial.item() - 2.0 * np.log(11)) < 0.5, "near-uniform over 10 classes + background at init"
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
    for _ in range(100):
        optimizer.zero_grad()
        head.loss(features, calib.lidar2img, boxes, labels).backward()
        optimizer.step()
    predicted = head.classifier(features).argmax(1)
    assert predicted[0][_centre_pixel(10.0)] == 3 and predicted[6][_centre_pixel(15.0)] == 6
    assert (predicted[1:6] == BACKGROUND).all()
