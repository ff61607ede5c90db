"""Re-index of an unchanged tree: how long an incremental run takes when nothing changed.

A tree of small image files is generated once, one in ``BROKEN_EVERY`` of them broken (a real
library has some). Each store is filled with one row per good file carrying the file's real
(size, mtime), and a first real indexing run reads the broken ones, fails and records them:
exactly as an earlier run would have left it. Then the real indexing entry point runs on the
tree again. It must read nothing, broken files included, and its time is the cost of walking the
tree, reading the stored signatures and earlier failures and diffing them. The whole command a
user runs (``imagedb-<backend>.py --index TREE`` in a fresh process) is timed too: with nothing to
embed it must not load the model, so it costs the interpreter, the store's imports and that diff.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.stats import REPO, run_child, time_each
from common.backends import store_class
from common.discovery import find_image_files
from common.embedding import Embedder
from common.failures import FAILURES_FILE, FailureReport
from common.pipeline import index_roots
from common.records import RECORD_VERSION
from common.store import IndexInfo

# A valid 1×1 PNG: the files are real images, though an unchanged run never opens them.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
FILES_PER_FOLDER = 1000
BROKEN_EVERY = 100
WRITE_BATCH = 20_000
CLI_REPEATS = 3


def make_tree(root: Path, files: int) -> Path:
    for i in range(files):
        folder = root / f"album-{i // FILES_PER_FOLDER:04d}"
        if i % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        if i % BROKEN_EVERY == BROKEN_EVERY - 1:
            (folder / f"IMG_{i:07d}.jpg").write_bytes(b"a download that never finished")
        else:
            (folder / f"IMG_{i:07d}.png").write_bytes(TINY_PNG)
    return root


def measure_unchanged_reindex(
    backend: str, tree: Path, embedder: Embedder, workdir: Path, cli_repeats: int = CLI_REPEATS
) -> dict[str, Any]:
    everything = list(find_image_files([str(tree)]))
    found = [f for f in everything if f.path.endswith(".png")]
    cls = store_class(backend)
    db = str(workdir / f"reindex-{backend}")
    store = cls.create(db, IndexInfo(embedder.spec, embedder.dim))
    vectors = np.zeros((WRITE_BATCH, embedder.dim), dtype=np.float32)
    vectors[:, 0] = 1.0
    for start in range(0, len(found), WRITE_BATCH):
        chunk = found[start : start + WRITE_BATCH]
        records = [
            {"path": f.path, "folder": os.path.dirname(f.path), "filename": os.path.basename(f.path),
             "extension": "png", "size_bytes": f.size, "mtime": f.mtime, "width": 1, "height": 1,
             "search_text": f.path, "record_version": RECORD_VERSION}
            for f in chunk
        ]  # fmt: skip
        store.upsert_images(records, vectors[: len(chunk)])
    store.finish_indexing()
    report = os.path.join(db, FAILURES_FILE)
    with _quiet("common.failures"):  # one warning per broken file, as a user's first run shows
        first = index_roots(store, lambda: embedder, [str(tree)], failures=FailureReport(report), progress=False)
    assert first.failed == len(everything) - len(found) and first.embedded == 0, first.line()
    store.close()

    store = cls.open(db)
    started = time.perf_counter()
    failures = FailureReport(report)
    summary = index_roots(store, lambda: embedder, [str(tree)], failures=failures, progress=False)
    seconds = time.perf_counter() - started
    failures.close()
    store.close()
    return {
        "backend": backend,
        "files": len(everything),
        "failed": summary.failed,
        "read_cpu_seconds": summary.read_cpu_seconds,
        "seconds": seconds,
        "cli_seconds": time_unchanged_cli_run(backend, db, tree, cli_repeats),
        "stage_seconds": summary.stage_seconds,
        "unchanged": summary.unchanged,
        "embedded": summary.embedded,
        "removed": summary.removed,
    }


def time_unchanged_cli_run(backend: str, db: str, tree: Path, repeats: int) -> float:
    """Seconds a user waits for ``--index TREE`` on the unchanged tree, process start to exit (median)."""
    command = [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--db", db, "--index", str(tree), "-q"]
    return statistics.median(time_each([command] * repeats, lambda c: run_child(c, " ".join(c))))


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    level = logging.getLogger(logger).level
    logging.getLogger(logger).setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger(logger).setLevel(level)
