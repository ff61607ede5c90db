"""Small measuring helpers shared by the benchmark phases."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]  # the checkout: the scripts and models the benchmarks run


def latency_stats(seconds: list[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds, plus the sample count."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "n": len(ms),
    }


def time_each(items: list[Any], call: Callable[[Any], Any]) -> list[float]:
    """Wall time of ``call(item)`` for each item, one at a time."""
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - started)
    return times


def run_child(command: list[str], what: str, **options: Any) -> subprocess.CompletedProcess:
    """Run a benchmark child process; a failure stops the run with the child's own error."""
    done = subprocess.run(command, capture_output=True, text=True, check=False, **options)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-2000:]}")
    return done


def directory_bytes(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(folder, name))
    return total


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux's ru_maxrss survives execve, so a worker spawned by a large parent would report the
    parent's peak; VmHWM belongs to the new address space and is the honest figure.
    """
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if platform.system() == "Darwin" else peak * 1024)


def environment() -> dict[str, Any]:
    """What a reader needs to judge the numbers: machine, versions, date."""
    import open_clip
    import torch

    from common.cpu_precision import bf16_speed_over_fp32, cpu_model_name
    from common.embedding import cpu_bf16_instructions

    # AMX or AVX512-BF16: the CLI's default precision there is bf16 where it was measured faster.
    bf16_instructions = cpu_bf16_instructions()
    bf16_speed = bf16_speed_over_fp32() if bf16_instructions is not None else None
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_model_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "openmp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "cpu_bf16_hardware": bf16_instructions is not None,
        "cpu_bf16_instructions": bf16_instructions,
        "cpu_bf16_speed_over_fp32": bf16_speed,  # one of ViT-B-32's blocks (common.cpu_precision)
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "lancedb": installed_version("lancedb"),  # --backends faiss runs where LanceDB is not installed
        "faiss": installed_version("faiss"),
    }


def installed_version(module: str) -> str:
    """The module's own version, whichever package installed it (faiss-cpu or faiss-gpu)."""
    import importlib

    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return "not installed"
