"""300 px WebP thumbnails of indexed files, in ``<db>/thumbnails``, for galleries and tools.

A thumbnail is made in the decoding worker from the picture it already decoded (no second
decode; reduced-size decoding keeps at least ``THUMBNAIL_SIZE`` px on the shortest side). Its
name is a hash of (path, size, mtime): a modified file gets a new thumbnail, and the indexing
run removes the thumbnails of files it re-embedded or removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable

from common.atomic import write_atomically

THUMBNAIL_DIR = "thumbnails"
THUMBNAIL_SIZE = 300
# Encoder effort 0 of 6: ~1.7 ms for a 300 px picture here, against ~2.6 at effort 1 and ~7
# at the default 4; files stay small (~11 KB for a 640 px photo).
WEBP_QUALITY, WEBP_METHOD = 75, 0


def thumbnail_name(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha1(f"{path}\0{size}\0{mtime!r}".encode(), usedforsecurity=False).hexdigest()[:24]
    return os.path.join(digest[:2], f"{digest}.webp")  # fanned out: no folder of 100k entries


def thumbnail_path(thumbnail_dir: str, record: dict) -> str:
    """Where the thumbnail of a record's file (as it was when indexed) lives."""
    return os.path.join(thumbnail_dir, thumbnail_name(record["path"], record["size_bytes"], record["mtime"]))


def save_thumbnail(image, destination: str) -> None:
    """Write a ``THUMBNAIL_SIZE`` px WebP of ``image`` (a PIL image) atomically."""
    from PIL import Image

    # resize() makes a new picture (thumbnail() would need a copy of the decoded one first, ~1 ms),
    # and reducing_gap=1 box-reduces by the whole factor before the bilinear pass.
    scale = min(1.0, THUMBNAIL_SIZE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0) if scale < 1 else image
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    write_atomically(
        destination, lambda temp: small.save(temp, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD), durable=False
    )


def remove_thumbnails(thumbnail_dir: str, signatures: Iterable[tuple[str, int, float]]) -> None:
    """Delete the thumbnails of these (path, size, mtime) file versions, where they exist."""
    for path, size, mtime in signatures:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(thumbnail_dir, thumbnail_name(path, size, mtime)))
