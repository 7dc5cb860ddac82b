"""The programmatic entry: `init_model(config, checkpoint)` and `inference_detector(model, sample)`.

```python
model = init_model("configs/bevfusion/bevfusion_lidar-cam_synthetic_tiny.py", "epoch_6.pth")
result = inference_detector(model, info_entry, data_root="data/synthetic")  # or a RawSample
result.boxes, result.scores, result.names  # LiDAR frame
```
"""

from .inference import InferenceResult, inference_detector, prepare_sample
from .model import init_model
from .raw_sample import RawSample

__all__ = ["InferenceResult", "RawSample", "inference_detector", "init_model", "prepare_sample"]
