"""Every .cu file compiles with nvcc alone (they include no PyTorch headers), for sm_80 and sm_90."""

import os
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


def _cuda_include_dir() -> Path | None:
    nvcc = shutil.which("nvcc")
    candidates = [os.environ.get("CUDA_HOME"), "/usr/local/cuda", nvcc and Path(nvcc).resolve().parents[1]]
    for root in filter(None, candidates):
        if (Path(root) / "include" / "cuda_runtime.h").exists():
            return Path(root) / "include"
    return None


CUDA_BINDINGS = sorted((REPO / "ops").rglob("*_cuda.cpp"))


@pytest.mark.slow
@pytest.mark.skipif(_cuda_include_dir() is None, reason="CUDA toolkit headers not installed")
@pytest.mark.parametrize("source", CUDA_BINDINGS, ids=lambda path: str(path.relative_to(REPO)))
def test_cuda_binding_compiles_against_torch_headers(source: Path):
    """The torch-side CUDA registrations, which a CPU build never compiles, at least type-check."""
    import sysconfig

    from torch.utils.cpp_extension import include_paths

    includes = [*include_paths(), str(_cuda_include_dir()), sysconfig.get_paths()["include"], str(source.parent)]
    command = ["g++", "-fsyntax-only", "-std=c++20", "-DWITH_CUDA", *(f"-I{path}" for path in includes), str(source)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
