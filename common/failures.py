"""The failures report: every file a run skipped, with why, as JSON Lines next to the database.

Each line is ``{"path", "reason", "stage", "time"}``; the report is rewritten by every indexing
run, so it always describes the latest run. Failures are also logged, one line each.
"""

from __future__ import annotations

import json
import logging
import os
import time

log = logging.getLogger(__name__)

FAILURES_FILE = "failures.jsonl"


class FailureReport:
    """Collects a run's skipped files and appends each to the report as it happens."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.entries: list[dict[str, object]] = []
        self._handle = None
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    @property
    def count(self) -> int:
        return len(self.entries)

    def add(self, path: str, reason: str, stage: str) -> None:
        entry = {"path": path, "reason": reason, "stage": stage, "time": time.time()}
        self.entries.append(entry)
        log.warning("skipped %s: %s", path, reason)
        if self._handle:
            self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None


def read_failures(path: str) -> list[dict[str, object]]:
    """Load a failures report (for tests and tools)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
