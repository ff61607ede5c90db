"""Rows brought up to date from what they hold: no file decoded, nothing embedded.

A new imagedb may record more about a file than the one that indexed it (``RECORD_VERSION``).
What it adds often follows from fields the row already holds: the place from the GPS position,
the search text from names and EXIF. Such rows are rewritten from their own record
(``common.describe.refreshed_record``) with their stored vector and colours, ``REFRESH_GROUP``
at a time: a library of 100k photos is brought up to date without decoding a file, where reading
them again would cost decoding every one. What needs the file but not its pixels (before
``HEADER_SINCE``: the XMP and IPTC in its header, and its sidecar) is read by ``--index``, which
does this for the rows of its folders; ``--repair`` does it for every row from their records
alone, and ``--check`` lists the rows that lack something.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from common.color import COLOR_DIM
from common.defaults import DEFAULT_COMMIT_SECONDS
from common.describe import annotations_from_header, lacks_header_columns, refreshed_record
from common.reading import read_each
from common.store import ImageStore

log = logging.getLogger(__name__)

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


def outdated_paths(store: ImageStore, *, versions_count: bool = True) -> list[str]:
    """The paths, sorted, of the rows this version would write otherwise (``outdated_records``),
    read ``REFRESH_GROUP`` records at a time: a pass over the whole library whose memory does
    not grow with it."""
    return sorted(
        {
            record["path"]
            for records in store.get_all_records_in_chunks(REFRESH_GROUP)
            for record in outdated_records(records, versions_count=versions_count)
        }
    )


def bring_up_to_date(store: ImageStore, paths: list[str]) -> int:
    """Rewrite the rows of ``paths`` from their own records alone (no file read),
    ``REFRESH_GROUP`` at a time; how many were rewritten (a row deleted meanwhile is not)."""
    rewritten = 0
    for start in range(0, len(paths), REFRESH_GROUP):
        records = store.get_records_by_path(paths[start : start + REFRESH_GROUP]).values()
        rewritten += rewrite_records(store, outdated_records(records))
    return rewritten


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


def refresh_rows(
    store: ImageStore,
    paths: list[str],
    commit_seconds: float = DEFAULT_COMMIT_SECONDS,
    patience: float | None = None,
) -> int:
    """Bring the rows of ``paths`` up to date from their own records and, where they lack them,
    their files' headers, ``REFRESH_GROUP`` at a time, committed at least every
    ``commit_seconds`` (as indexing commits) and at the end; how many were rewritten. A row whose
    file cannot be read keeps what it holds, and its version says it still lacks them (the next
    --index tries again).

    Headers are read on threads (``common.reading``), giving up on a drive that answers nothing
    for ``patience`` seconds. On this project's SSD the threads gain nothing (0.23 ms a JPEG
    either way with its pages evicted; cached, 0.14-0.16 ms alone against 0.20-0.22 on four
    threads, which share the GIL), but a spinning disk or a network share makes each read wait
    milliseconds, which they overlap, and a drive that stops answering must not hang the run."""
    rewritten = 0
    unread: list[str] = []
    last_commit = time.monotonic()
    for start in range(0, len(paths), REFRESH_GROUP):
        records = list(store.get_records_by_path(paths[start : start + REFRESH_GROUP]).values())
        lacking = [r for r in records if lacks_header_columns(r)]
        paths_lacking = [r["path"] for r in lacking]
        read = read_each(
            annotations_from_header, paths_lacking, patience, doing="reading headers", left="left as they are"
        )
        annotations = {path: found for path, found in zip(paths_lacking, read, strict=True) if found is not None}
        unread += [path for path in paths_lacking if path not in annotations]
        rewritten += rewrite_records(store, [refreshed_record(r, read=annotations.get(r["path"])) for r in records])
        if time.monotonic() - last_commit >= commit_seconds:
            store.commit()
            last_commit = time.monotonic()
    store.commit()
    if unread:
        log.warning(
            "%d file(s) could not be read for what photo software wrote in them (XMP, IPTC), e.g. %s: "
            "their rows keep what they hold, and the next --index reads them again", len(unread), unread[0],
        )  # fmt: skip
    return rewritten
