"""One indexing process per database at a time, and who else has a database open.

Two writers would interleave commits (for FAISS, each would write its own generation and the
last manifest switch would drop the other's rows). Searches do not wait for an indexing run:
LanceDB readers see the last committed version and the FAISS manifest switches atomically. A
LanceDB store holds the readers' lock (``ReadersLock``, shared) so that a writer knows when no
one can still be reading an older version (a search opening then waits the moment the writer
takes to delete them).
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


READERS_FILE = ".imagedb-readers.lock"


class ReadersLock:
    """Held shared by every process that has a database open, so a writer can tell whether
    anyone else is reading it.

    A LanceDB reader reads the version that was the latest when it opened the table, for as long
    as it runs; a writer that finds no other holder (``no_other_reader``) may delete every older
    version at once instead of keeping them for a reader that might still be using one. Where
    the lock cannot be taken (not a POSIX system, a read-only folder) nobody is known to be
    alone, and writers keep the versions readers may use.
    """

    def __init__(self, db_path: str) -> None:
        self._handle = None
        try:
            import fcntl

            handle = open(os.path.join(db_path, READERS_FILE), "a+b")  # noqa: SIM115 - held until release()
        except (ImportError, OSError):
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_SH)
        except OSError:
            handle.close()
            return
        self._handle = handle

    @contextlib.contextmanager
    def no_other_reader(self) -> Iterator[bool]:
        """Whether this process is the database's only reader; while the answer is True, nobody
        else can start reading (they wait for the block to end)."""
        if self._handle is None:
            yield False
            return
        import fcntl

        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            # A failed conversion gives up the shared lock too (flock(2)): taken again.
            fcntl.flock(self._handle, fcntl.LOCK_SH)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(self._handle, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
