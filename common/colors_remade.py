"""Colour signatures made again for rows that lost theirs, by ``--repair``.

FAISS keeps the signatures in a file of their own; lost or damaged, its rows came back from a
repair with none (all zeros), and every colour search scored them 0.0000 until ``--force``
embedded the whole library again. A signature is counted on a file's thumbnail-sized picture
(``common.workers``), so the stored thumbnail gives it back for ~2 ms a file, nothing embedded;
a file without one is decoded at a thumbnail's size, in a decoding process
(``common.small_pictures``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from common.color import image_signature
from common.store import ImageStore
from common.thumbnails import find_thumbnail

log = logging.getLogger(__name__)

ROWS_AT_A_TIME = 1000  # records, vectors and signatures held at once


def remake_lost_colors(store: ImageStore, thumbnail_dir: str, time_limit: float | None) -> tuple[int, list[str]]:
    """Give each row whose colour signature is gone (all zeros) one again, from its thumbnail or
    its file (each given up on after ``time_limit`` seconds); how many were made, and the paths
    of the files that could not be read for one."""
    from common.small_pictures import small_pictures_of  # the decoding processes, when a file is read

    paths = list(store.get_signatures())
    lost = [path for path, signature in store.get_colors(paths).items() if not np.any(signature)]
    made, unread = 0, []
    for start in range(0, len(lost), ROWS_AT_A_TIME):
        chunk = lost[start : start + ROWS_AT_A_TIME]
        records, vectors = store.get_records_by_path(chunk), store.get_vectors(chunk)
        pictures = {path: _thumbnail_of(records[path], thumbnail_dir) for path in chunk}
        without = [records[path] for path, picture in pictures.items() if picture is None]
        for record, picture, why_not in small_pictures_of(without, time_limit):
            pictures[record["path"]] = picture
            if picture is None:
                log.debug("no colours for %s: %s", record["path"], why_not)
                unread.append(record["path"])
        signatures = {path: image_signature(picture) for path, picture in pictures.items() if picture is not None}
        if signatures:
            store.upsert_images(
                [records[path] for path in signatures],
                np.stack([vectors[path] for path in signatures]),
                np.stack(list(signatures.values())),
            )
            made += len(signatures)
    return made, sorted(unread)


def _thumbnail_of(record: dict[str, Any], thumbnail_dir: str) -> Any:
    """The RGB picture of a record's stored thumbnail, which its colours were counted on; None
    when it has none that can be read."""
    from PIL import Image

    found = find_thumbnail(thumbnail_dir, record)
    if found is None:
        return None
    try:
        with Image.open(found[0]) as thumbnail:
            return thumbnail.convert("RGB")
    except OSError as error:
        log.debug("thumbnail of %s unreadable (%s): decoding the file", record["path"], error)
        return None
