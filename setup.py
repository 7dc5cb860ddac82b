"""Install the `bevfusion` package and build its native ops as `bevfusion.ops._C`.

The C++ (OpenMP) kernels are always built. CUDA kernels are added only when a GPU is
visible or FORCE_CUDA=1, the usual rule in this ecosystem. `ops/` installs as
`bevfusion.ops`, never as a bare top-level `ops`.
"""

import glob
import os

from setuptools import find_packages, setup

# Arch list sm_70..sm_90 plus PTX, so newer GPUs JIT the kernels instead of failing with
# "no kernel image is available" (the anchors stop at sm_86). CUDA 13 dropped Volta, so
# with a CUDA 13 torch the list starts at sm_75.
CUDA_ARCH_LIST = "7.0;7.5;8.0;8.6;8.9;9.0+PTX"
CUDA13_ARCH_LIST = "7.5;8.0;8.6;8.9;9.0+PTX"


def _want_cuda() -> bool:
    import torch

    return os.environ.get("FORCE_CUDA", "0") == "1" or torch.cuda.is_available()


def _extensions():
    from torch.utils.cpp_extension import CppExtension, CUDAExtension

    cpu_sources = sorted(path for path in glob.glob("ops/**/*.cpp", recursive=True) if not path.endswith("_cuda.cpp"))
    cxx_flags = ["-O3", "-fopenmp"]
    if not _want_cuda():
        return [
            CppExtension(
                "bevfusion.ops._C",
                cpu_sources,
                extra_compile_args={"cxx": cxx_flags},
                extra_link_args=["-fopenmp"],
            )
        ]
    import torch

    cuda_major = int((torch.version.cuda or "0").split(".")[0])
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", CUDA13_ARCH_LIST if cuda_major >= 13 else CUDA_ARCH_LIST)
    cuda_sources = sorted(glob.glob("ops/**/*_cuda.cpp", recursive=True) + glob.glob("ops/**/*.cu", recursive=True))
    return [
        CUDAExtension(
            "bevfusion.ops._C",
            cpu_sources + cuda_sources,
            define_macros=[("WITH_CUDA", None)],
            extra_compile_args={"cxx": cxx_flags, "nvcc": ["-O3", "--use_fast_math"]},
            extra_link_args=["-fopenmp"],
        )
    ]


def _build_ext():
    from torch.utils.cpp_extension import BuildExtension

    return BuildExtension.with_options(use_ninja=True)


packages = find_packages(include=["bevfusion", "bevfusion.*"])
packages += ["bevfusion.ops"] + ["bevfusion.ops." + p for p in find_packages("ops")]

setup(
    name="bevfusion",
    version="0.1.0",
    description="Camera + LiDAR BEV 3D detection that runs on CPU and CUDA",
    python_requires=">=3.10",
    packages=packages,
    package_dir={"bevfusion.ops": "ops"},
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "mmengine>=0.10,<0.11",
        "nuscenes-devkit>=1.1.11",
        "numpy>=1.24,<2",
        "opencv-python>=4.8",
        "scipy>=1.10",
        "shapely>=2.0",
        "matplotlib>=3.7",
        "tqdm>=4.60",
    ],
    extras_require={"test": ["pytest>=8", "ruff>=0.8"], "spconv": ["spconv>=2.3"]},
    ext_modules=_extensions(),
    cmdclass={"build_ext": _build_ext()},
    zip_safe=False,
)
