"""Rows brought up to date from what they hold: no file decoded, nothing embedded.

A new imagedb may record more about a file than the one that indexed it (``RECORD_VERSION``).
What it adds often follows from fields the row already holds: the place from the GPS position,
the search text from names and EXIF. Such rows are rewritten from their own record
(``common.describe.refreshed_record``) with their stored vector and colours, ``REFRESH_GROUP``
at a time: a library of 100k photos is brought up to date without decoding a file, where reading
them again would cost decoding every one. What needs the file but not its pixels (XMP, from
``XMP_SINCE``: the packet in its header and its sidecar) is read by ``--index``, which does this
for the rows of its folders; ``--repair`` does it for every row from their records alone, and
``--check`` lists the rows that lack something.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from common.color import COLOR_DIM
from common.defaults import DEFAULT_COMMIT_SECONDS
from common.describe import refreshed_record, xmp_columns
from common.records import XMP_SINCE
from common.store import ImageStore

# Rows read and rewritten at a time: what a stopped run loses, and what is held in memory
# (records and vectors: ~10 MB for ViT-B-32). At 20k rows, LanceDB took 4.4 s in groups of
# 5,000 against 6.4 s in groups of 1,000.
REFRESH_GROUP = 5000


def outdated_records(records: Iterable[dict[str, Any]], *, versions_count: bool = True) -> list[dict[str, Any]]:
    """The ``records`` this version would write otherwise, each brought up to date. With
    ``versions_count`` False, a record that differs only in the version that wrote it (nothing
    it holds would change) is not counted."""
    outdated = []
    for record in records:
        fresh = refreshed_record(record)
        differs = {column for column, value in fresh.items() if value != record.get(column)}
        if not versions_count:
            differs.discard("record_version")
        if differs:
            outdated.append(fresh)
    return outdated


def rewrite_records(store: ImageStore, records: list[dict[str, Any]]) -> int:
    """Store ``records`` in place of their rows, keeping each row's vector and colours; how many
    were written (a row deleted meanwhile has no vector left and is skipped)."""
    paths = [r["path"] for r in records]
    vectors, colors = store.get_vectors(paths), store.get_colors(paths)
    kept = [r for r in records if r["path"] in vectors]
    if kept:
        store.upsert_images(
            kept,
            np.stack([vectors[r["path"]] for r in kept]),
            np.stack([colors.get(r["path"], np.zeros(COLOR_DIM, np.float32)) for r in kept]),
        )
    return len(kept)


def xmp_read_for(record: dict[str, Any]) -> dict[str, Any] | None:
    """The XMP columns of a row described before ``XMP_SINCE``, read from its file's header and
    sidecar (not its pixels: well under a millisecond a file); None for a row that has them."""
    version = record.get("record_version")
    return xmp_columns(record["path"]) if version is not None and version < XMP_SINCE else None


def refresh_rows(store: ImageStore, paths: list[str], commit_seconds: float = DEFAULT_COMMIT_SECONDS) -> int:
    """Bring the rows of ``paths`` up to date from their own records, ``REFRESH_GROUP`` at a time,
    committed at least every ``commit_seconds`` (as indexing commits: a FAISS commit writes the
    whole index) and at the end; how many were rewritten."""
    rewritten = 0
    last_commit = time.monotonic()
    for start in range(0, len(paths), REFRESH_GROUP):
        records = store.get_records_by_path(paths[start : start + REFRESH_GROUP])
        rewritten += rewrite_records(store, [refreshed_record(r, read=xmp_read_for(r)) for r in records.values()])
        if time.monotonic() - last_commit >= commit_seconds:
            store.commit()
            last_commit = time.monotonic()
    store.commit()
    return rewritten
