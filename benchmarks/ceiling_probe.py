"""The model-only ceiling, measured also in a process that keeps torch's default OpenMP threads.

The CLI lets idle torch threads sleep (``common.embedding.let_idle_torch_threads_sleep``) so the
decoding workers can use those moments while indexing. A forward pass on its own is a few percent
slower that way, so a ceiling measured only in the indexing process would flatter the ratio
indexing / ceiling. The probe holds the same model in a second process, started before that
setting, and the benchmark reads indexing against the faster of the two ceilings. The probe waits
on a pipe between measurements, its threads asleep, so it takes nothing from the indexing runs.

``python -m benchmarks.ceiling_probe SPEC_JSON DEVICE BATCH PRECISION``: prints ``ready``, then one
JSON line of ``model_ceiling`` for each line it reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.stats import REPO
from common.embedding import ModelSpec


class CeilingProbe:
    """A child process holding the model with torch's default OpenMP settings."""

    def __init__(self, spec: ModelSpec, device: str, batch: int, precision: str = "auto") -> None:
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.ceiling_probe",
                json.dumps(spec.to_dict()),
                device,
                str(batch),
                precision,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        if self._read_line() != "ready":
            raise RuntimeError("the ceiling probe did not start")

    def _read_line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the ceiling probe exited ({self.process.wait()})")
        return line.strip()

    def measure(self) -> dict[str, float]:
        assert self.process.stdin is not None
        self.process.stdin.write("measure\n")
        self.process.stdin.flush()
        return json.loads(self._read_line())

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)

    def __enter__(self) -> CeilingProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def faster_ceiling(here: dict[str, float], probe: dict[str, float]) -> dict[str, float]:
    """The higher of the two ceilings, with both kept for the report."""
    return {
        "images_per_second": max(here["images_per_second"], probe["images_per_second"]),
        "sleeping_threads_images_per_second": here["images_per_second"],
        "default_threads_images_per_second": probe["images_per_second"],
    }


def main() -> None:
    import torch  # noqa: F401  (first, so libgomp starts with its defaults: see the module docstring)

    from benchmarks.photo_bench import model_ceiling
    from common.embedding import Embedder

    spec, device, batch, precision = ModelSpec(**json.loads(sys.argv[1])), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    embedder = Embedder(spec, device, precision=precision)
    print("ready", flush=True)
    for _ in sys.stdin:
        print(json.dumps(model_ceiling(embedder, batch)), flush=True)


if __name__ == "__main__":
    main()
