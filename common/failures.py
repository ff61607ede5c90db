"""The failures report: every file that is not indexed because reading it failed, with why.

It lives next to the database as JSON Lines, one file per line::

    {"path", "reason", "stage", "time", "size", "mtime", "retry"[, "time_limit", "reader"]}

``size`` and ``mtime`` name the version of the file that failed, and ``retry`` says when it is
worth reading again: ``"next-run"`` for what may pass by itself (the file vanished, was locked,
memory ran out, a bug of ours) and ``"when-changed"`` for what the same bytes would do again (a
corrupt, unsupported or hostile file, a decoder crash, a timeout). An indexing run leaves a
``"when-changed"`` file alone while its size and mtime stay the same — a broken file does not
cost every run its decode, and a 200-megapixel picture does not cost every run its time limit —
and lists it again; a timeout is retried when the run allows it more time (``time_limit``), and
any of them once the decoders differ from those that failed (``reader``: an upgrade of imagedb,
Pillow, pillow-heif or PyAV may read what the old ones could not).

Like the store, the report is per folder: a run decides again about the files under the folders
it indexes and keeps what earlier runs said about other folders. Failures are also logged, one
line each, up to ``LINES_AT_MOST`` a run (then one line saying the rest are in the report; -v
logs each): a library with thousands of broken files is not a screenful of them per thousand.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from functools import cache
from typing import Any

from common.atomic import write_atomically
from common.discovery import FoundFile, is_under_root
from common.warning_lines import LINES_AT_MOST, WarningLines

log = logging.getLogger(__name__)

FAILURES_FILE = "failures.jsonl"
RETRY_NEXT_RUN = "next-run"
RETRY_WHEN_CHANGED = "when-changed"


class FailureReport:
    """A run's skipped files, appended to the report as they happen, on top of what it keeps.

    Nothing is written until ``begin``: a run that stops before it leaves the report as it was.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []  # this run's failures, earlier ones it repeats included
        self.repeated = 0  # of those, failures an earlier run found and this run did not try again
        self._earlier = {entry["path"]: entry for entry in read_failures(path)} if path else {}
        self._handle = None
        where = f"are in {path}" if path else "are not named"
        self._lines = WarningLines(
            log, f"skipped more files: those after the first {LINES_AT_MOST} {where} (-v names each)"
        )

    @property
    def count(self) -> int:
        return len(self.entries)

    def paths(self) -> set[str]:
        return {str(entry["path"]) for entry in self.entries}

    def earlier_paths(self) -> set[str]:
        """The files earlier runs reported."""
        return set(self._earlier)

    def begin(self, roots: Iterable[str]) -> None:
        """Start this run's report: earlier failures outside ``roots`` are kept as they were."""
        if not self.path:
            return
        roots = list(roots)
        kept = [e for e in self._earlier.values() if not any(is_under_root(str(e["path"]), r) for r in roots)]
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)

        def write(temp: str) -> None:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.writelines(_line(entry) for entry in kept)

        write_atomically(self.path, write, durable=False)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def earlier_failure(self, file: FoundFile, time_limit: float | None) -> dict[str, Any] | None:
        """How this very version of ``file`` failed before, if reading it again would fail alike.

        A timeout counts only while this run gives a file no more time than the one that ran out.
        """
        entry = self._earlier.get(file.path)
        if entry is None or entry.get("retry") != RETRY_WHEN_CHANGED:
            return None
        if (entry.get("size"), entry.get("mtime")) != (file.size, file.mtime):
            return None
        limit = entry.get("time_limit")
        if limit is not None and (not time_limit or time_limit > limit):
            return None
        if entry.get("reader") != reader_versions():  # other decoders: they may read it now
            return None
        return entry

    def repeat(self, entry: dict[str, Any]) -> None:
        """List again an earlier failure of a file this run leaves alone (logged at debug level)."""
        log.debug("not read again (failed before, unchanged since): %s: %s", entry["path"], entry["reason"])
        self.repeated += 1
        self._record(dict(entry))

    def add(
        self,
        path: str,
        reason: str,
        stage: str,
        *,
        file: FoundFile | None = None,
        lasting: bool = False,
        time_limit: float | None = None,
    ) -> None:
        """Report a file this run failed to read; ``lasting``: the same bytes would fail again."""
        entry: dict[str, Any] = {"path": path, "reason": reason, "stage": stage, "time": time.time()}
        if file is not None:
            entry.update(size=file.size, mtime=file.mtime)
        entry["retry"] = RETRY_WHEN_CHANGED if lasting and file is not None else RETRY_NEXT_RUN
        if time_limit:
            entry["time_limit"] = time_limit
        if entry["retry"] == RETRY_WHEN_CHANGED:
            entry["reader"] = reader_versions()
        self._say(path, reason)
        self._record(entry)

    def _say(self, path: str, reason: str) -> None:
        """Name a skipped file on stderr, up to ``LINES_AT_MOST`` a run (every one with -v)."""
        self._lines.say("skipped %s: %s", path, reason)

    def add_copy_of(self, failure: dict[str, Any], file: FoundFile) -> None:
        """Report ``file``, a byte-for-byte copy of the file of this run's lasting ``failure``,
        as failing alike: the same bytes given to the same decoders fail the same way, so it is
        not read (a copied broken download, a hostile file, a picture over the time limit)."""
        reason = f"the same bytes as {failure['path']}, which failed: {failure['reason']}"
        self.add(file.path, reason, failure["stage"], file=file, lasting=True, time_limit=failure.get("time_limit"))

    def _record(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        if self._handle:
            self._handle.write(_line(entry))
            self._handle.flush()

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None


@cache
def reader_versions() -> str:
    """What read the files: this project's decoding revision and its decoders' versions."""
    from importlib.metadata import PackageNotFoundError, version

    from common.decoding import DECODING_REVISION

    parts = [f"imagedb decoding {DECODING_REVISION}"]
    for package in ("Pillow", "pillow-heif", "pillow-jxl-plugin", "av", "rawpy"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} missing")
    return ", ".join(parts)


def _line(entry: dict[str, Any]) -> str:
    line = json.dumps(entry, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a path not valid UTF-8: JSON's \u escapes keep it, json.loads reads it back
        line = json.dumps(entry)
    return line + "\n"


def read_failures(path: str) -> list[dict[str, Any]]:
    """Load a failures report; a line a crash cut short (or any line that is not an entry) is skipped."""
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                entries.append(entry)
    return entries
