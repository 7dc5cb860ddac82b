"""A test-loop hook that writes a picture of every sample's detections (`tools/test.py --show-dir`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from bevfusion.registry import HOOKS
from bevfusion.visualization import FrameStyle, render_data_sample, save_image


@HOOKS.register_module()
class DetectionVisualizationHook(Hook):
    """After each test iteration, render every sample (cameras and BEV, as `tools/demo.py` does) to a PNG.

    Args:
        out_dir: where the PNGs go, one per sample, named by its token (or `<batch>_<index>`).
        score_threshold: the lowest prediction score drawn.
        show_ground_truth: draw the sample's ground truth dashed, when it has any.
    """

    priority = "LOW"

    def __init__(self, out_dir: str, score_threshold: float = 0.1, show_ground_truth: bool = True) -> None:
        self.out_dir = out_dir
        self.style = FrameStyle(score_threshold=score_threshold)
        self.show_ground_truth = show_ground_truth

    def before_test(self, runner) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.class_names = tuple(model.heads["object"].class_names)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict | None = None, outputs: Sequence = ()) -> None:
        inputs = data_batch["inputs"]
        for index, result in enumerate(outputs):
            sample_inputs = {key: values[index] for key, values in inputs.items()}
            frame = render_data_sample(sample_inputs, result, self.class_names, self.style, self.show_ground_truth)
            name = result.metainfo.get("token", f"{batch_idx}_{index}")
            save_image(os.path.join(self.out_dir, f"{name}.png"), frame)
