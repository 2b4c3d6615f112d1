"""Ship racetrace.pth at the root of site-packages, in wheels and in editable installs, and
build the optional C scanner of trace lines.

The .pth file is what makes `RACETRACE=1 python app.py` work without a code change. setuptools
has no declarative way to put a file at the root of site-packages, so (like pytest-cov) we copy
it into the build tree for wheels, and append it to the wheel that an editable install builds.

The scanner (`analyzers/core/_scan.c`, see `analyzers/core/scan.py`) is optional, like
coverage.py's CTracer: where it cannot be built (no C compiler, no Python headers) setuptools
warns and installs racetrace without it, and the loader decodes every line with msgspec.
"""

import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path(__file__).parent / "racetrace.pth"


class build_py_with_pth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib, PTH.name)), preserve_mode=0)


class editable_wheel_with_pth(editable_wheel):
    def _create_wheel_file(self, bdist_wheel):  # type: ignore[no-untyped-def]
        wheel_path = super()._create_wheel_file(bdist_wheel)
        try:
            from wheel.wheelfile import WheelFile
        except ImportError:  # setuptools >= 70 vendors it
            from setuptools._vendor.wheel.wheelfile import WheelFile  # type: ignore[no-redef]
        # WheelFile rewrites RECORD on close, so uninstalling removes the .pth too.
        with WheelFile(wheel_path, "a") as wheel:
            wheel.write(str(PTH), PTH.name)
        return wheel_path


SCANNER = Extension(
    "racetrace.analyzers.core._scan",
    sources=["analyzers/core/_scan.c"],
    extra_compile_args=["-std=c99"] if sys.platform != "win32" else [],
    optional=True,
)

setup(
    cmdclass={"build_py": build_py_with_pth, "editable_wheel": editable_wheel_with_pth},
    ext_modules=[SCANNER],
)
