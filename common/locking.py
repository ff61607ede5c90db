"""One indexing process per database at a time.

Two writers would interleave commits (for FAISS, each would write its own generation and the
last manifest switch would drop the other's rows). Searches take no lock: LanceDB readers see
the last committed version and the FAISS manifest switches atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from common.store import StoreError

LOCK_FILE = ".imagedb-index.lock"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def indexing_lock(db_path: str, wait: bool = False) -> Iterator[None]:
    """Hold the database's indexing lock: refuse at once naming the process that has it, or
    with ``wait``, wait for that process to finish."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no advisory locks to take
        yield
        return
    os.makedirs(db_path, exist_ok=True)
    path = os.path.join(db_path, LOCK_FILE)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            if not wait:
                raise StoreError(
                    f"{db_path} is being indexed by {holder}; run again when it has finished (or add --wait)"
                ) from None
            log.info("waiting for %s to finish indexing %s", holder, db_path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
