"""Colour signatures made again for rows that lost theirs, by ``--repair``.

FAISS keeps the signatures in a file of their own; lost or damaged, its rows came back from a
repair with none (all zeros), and every colour search scored them 0.0000 until ``--force``
embedded the whole library again. A signature is counted on a file's thumbnail-sized picture
(``common.workers``), so the stored thumbnail gives it back for ~2 ms a file, nothing embedded;
a file without one is decoded at a thumbnail's size (``picture_of_file``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from common.color import image_signature
from common.store import ImageStore
from common.thumbnails import find_thumbnail, picture_of_file

log = logging.getLogger(__name__)

ROWS_AT_A_TIME = 1000  # records, vectors and signatures held at once


def remake_lost_colors(store: ImageStore, thumbnail_dir: str) -> tuple[int, list[str]]:
    """Give each row whose colour signature is gone (all zeros) one again, from its thumbnail or
    its file; how many were made, and the paths of the files that could not be read for one."""
    paths = list(store.get_signatures())
    lost = [path for path, signature in store.get_colors(paths).items() if not np.any(signature)]
    made, unread = 0, []
    for start in range(0, len(lost), ROWS_AT_A_TIME):
        chunk = lost[start : start + ROWS_AT_A_TIME]
        records, vectors = store.get_records_by_path(chunk), store.get_vectors(chunk)
        signatures = {}
        for path in chunk:
            picture = _picture_of(records[path], thumbnail_dir)
            if picture is None:
                unread.append(path)
            else:
                signatures[path] = image_signature(picture)
        if signatures:
            store.upsert_images(
                [records[path] for path in signatures],
                np.stack([vectors[path] for path in signatures]),
                np.stack(list(signatures.values())),
            )
            made += len(signatures)
    return made, unread


def _picture_of(record: dict[str, Any], thumbnail_dir: str) -> Any:
    """The RGB picture a record's colours are counted on: its thumbnail, else its file decoded at
    a thumbnail's size; None when neither can be read."""
    from PIL import Image

    found = find_thumbnail(thumbnail_dir, record)
    if found is not None:
        try:
            with Image.open(found[0]) as thumbnail:
                return thumbnail.convert("RGB")
        except OSError as error:
            log.debug("thumbnail of %s unreadable (%s): decoding the file", record["path"], error)
    picture, why_not = picture_of_file(record)
    if picture is None:
        log.debug("no colours for %s: %s", record["path"], why_not)
    return picture
