"""Every .cu file compiles with nvcc alone (they include no PyTorch headers), for sm_80 and sm_90."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CUDA_SOURCES = sorted((REPO / "ops").rglob("*.cu"))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", CUDA_SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_cuda_source_compiles(source: Path, arch: str, tmp_path: Path):
    result = subprocess.run(
        [
            "nvcc",
            "-c",
            "-std=c++17",
            f"-arch={arch}",
            "-I",
            str(source.parent),
            str(source),
            "-o",
            str(tmp_path / "k.o"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "k.o").stat().st_size > 0


def test_cuda_sources_exist_for_every_op_folder():
    op_folders = {path.parent for path in (REPO / "ops").rglob("*.cpp") if path.parent.name != "csrc"}
    with_cuda = {path.parent for path in CUDA_SOURCES}
    assert op_folders <= with_cuda, f"op folders without a CUDA kernel: {sorted(map(str, op_folders - with_cuda))}"
