"""Files still being written, left for a ``--watch``'s next look.

A watch looks at folders that photos are being copied, downloaded or exported into: a file
found half-written reads as truncated, is reported as skipped, and is read again once it
changes, so every import into a watched folder printed "skipped" lines for files that were
fine a second later. A file written in the last ``SETTLE_SECONDS`` is therefore left for a later
look. Where its modification time is in the future (a clock behind the file server's), how long
the looks have found it unchanged counts instead, so such a file waits seconds, not until the
clocks agree. A copy that stalls for longer is read, found truncated and read again once it
changes, as before. immich's folder watcher waits the same way (chokidar's
``awaitWriteFinish``: 2 seconds without a change).
"""

from __future__ import annotations

import time

from common.discovery import FoundFile

# How recently written a file must be to wait: copies write every fraction of a second, and
# cameras' and phones' import tools finish a file well within this.
SETTLE_SECONDS = 2.0


class Settling:
    """What one watch's looks saw of files too fresh to read: when each was first seen as it is,
    to tell a file left alone for ``seconds`` (read it) from one still being written."""

    def __init__(self, seconds: float = SETTLE_SECONDS) -> None:
        self.seconds = seconds
        # path → (its signature, when a look first found it so), for the files left waiting
        self.waiting: dict[str, tuple[tuple[int, float, float | None], float]] = {}

    def settled(self, files: list[FoundFile]) -> tuple[list[FoundFile], list[FoundFile]]:
        """``files`` (new or changed) in two: those to read now, and those written in the last
        ``seconds`` (by their times, or by this clock since a look first found them as they
        are: a clock that runs behind the file server's) left for a later look."""
        now = time.time()
        ready: list[FoundFile] = []
        fresh: list[FoundFile] = []
        waiting = {}
        for file in files:
            written = max(file.mtime, file.sidecar_mtime or file.mtime)
            signature, first_seen = self.waiting.get(file.path, (None, now))
            if signature != file.signature:
                first_seen = now
            if now - written < self.seconds and now - first_seen < self.seconds:
                fresh.append(file)
                waiting[file.path] = (file.signature, first_seen)
            else:
                ready.append(file)
        self.waiting = waiting
        return ready, fresh
