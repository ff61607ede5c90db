"""Re-index of an unchanged tree: how long an incremental run takes when nothing changed.

A tree of small image files is generated once; each store is filled with one row per file
carrying the file's real (size, mtime), exactly as an earlier run would have left it; then the
real indexing entry point runs on the tree. It must decode nothing, and its time is the cost
of walking the tree, reading the stored signatures and diffing them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from common.backends import store_class
from common.discovery import find_image_files
from common.embedding import Embedder
from common.failures import FailureReport
from common.pipeline import index_roots
from common.store import IndexInfo

# A valid 1×1 PNG: the files are real images, though an unchanged run never opens them.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
FILES_PER_FOLDER = 1000
WRITE_BATCH = 20_000


def make_tree(root: Path, files: int) -> Path:
    for i in range(files):
        folder = root / f"album-{i // FILES_PER_FOLDER:04d}"
        if i % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:07d}.png").write_bytes(TINY_PNG)
    return root


def measure_unchanged_reindex(backend: str, tree: Path, embedder: Embedder, workdir: Path) -> dict[str, Any]:
    found = list(find_image_files([str(tree)]))
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
             "search_text": f.path}
            for f in chunk
        ]  # fmt: skip
        store.upsert_images(records, vectors[: len(chunk)])
    store.finish_indexing()
    store.close()

    store = cls.open(db)
    started = time.perf_counter()
    summary = index_roots(store, embedder, [str(tree)], failures=FailureReport(None), progress=False)
    seconds = time.perf_counter() - started
    store.close()
    return {
        "backend": backend,
        "files": len(found),
        "seconds": seconds,
        "stage_seconds": summary.stage_seconds,
        "unchanged": summary.unchanged,
        "embedded": summary.embedded,
        "removed": summary.removed,
    }
