"""CI smoke test: tools/train.py, tools/test.py, then tools/demo.py, as real processes, on the tiny synthetic world."""

import json

import cv2
import pytest
from nuscenes.eval.detection.constants import DETECTION_NAMES
from tool_helpers import DEMO, FUSION_TINY, LIDAR_TINY, TEST, TRAIN, run_tool, tiny_config

CASES = {"lidar": LIDAR_TINY, "lidar-cam": FUSION_TINY}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_train_then_test_prints_the_devkit_table(name, tiny_world, tmp_path):
    """Five iterations (CBGS: ten draws of the one training sample at batch 2), validation, the test tool, the demo."""
    config = tiny_config(CASES[name], tiny_world, tmp_path / f"{name}.py")
    work_dir = tmp_path / "work"
    trained = run_tool(TRAIN, str(config), "--work-dir", str(work_dir))
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert "Iter(train) [5/5]" in trained.stdout and "eta: " in trained.stdout
    assert "NuScenes metric/NDS" in trained.stdout
    assert (work_dir / "last_checkpoint").read_text().strip() == str(work_dir / "iter_5.pth")
    assert (work_dir / "best_NuScenes metric_NDS_iter_5.pth").is_file()
    runs = [path for path in work_dir.iterdir() if (path / "vis_data").is_dir()]
    assert len(runs) == 1 and list((runs[0] / "vis_data").glob("events.out.tfevents.*")), "no TensorBoard events"

    results = tmp_path / "results"
    shown_dir = tmp_path / "shown"
    tested = run_tool(
        TEST, str(config), str(work_dir / "iter_5.pth"), "--work-dir", str(results), "--show-dir", str(shown_dir)
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    lines = tested.stdout.splitlines()
    assert any(line.startswith("mAP: ") and "NDS: " in line for line in lines)
    assert any(line.startswith("mATE: ") and "mAAE: " in line for line in lines)
    table = {line.split()[0] for line in lines if line.split() and line.split()[0] in DETECTION_NAMES}
    assert table == set(DETECTION_NAMES)

    submission = json.loads((results / "results_nusc.json").read_text())
    assert len(submission["results"]) == 2  # the two mini_val samples
    boxes = [box for sample in submission["results"].values() for box in sample]
    assert boxes and {"translation", "velocity", "attribute_name", "detection_name"} <= set(boxes[0])
    summary = json.loads((results / "metrics_summary.json").read_text())
    assert summary["eval"]["eval_set"] == "synthetic_val" and 0.0 <= summary["nd_score"] <= 1.0
    assert sorted(path.stem for path in shown_dir.glob("*.png")) == sorted(submission["results"])

    render = tmp_path / "render"
    shown = run_tool(DEMO, str(config), str(work_dir / "iter_5.pth"), "--scene", "1", "--out-dir", str(render))
    assert shown.returncode == 0, shown.stdout[-3000:] + shown.stderr[-3000:]
    assert f"wrote 1 PNGs to {render}" in shown.stdout
    pictures = sorted(render.glob("scene_1_*.png"))
    assert len(pictures) == 1
    picture = cv2.imread(str(pictures[0]))
    height, width = picture.shape[:2]
    # LiDAR-only: the BEV panel over the legend; camera+LiDAR: the six cameras left of it.
    assert width > 3 * height if name == "lidar-cam" else height > width
    assert (render / "scene_1.mp4").stat().st_size > 0
