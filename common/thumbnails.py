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

THUMBNAIL_DIR = "thumbnails"
THUMBNAIL_SIZE = 300
# Encoder effort 1 of 6: a quarter of the default's time for files about as small (~12 KB).
WEBP_QUALITY, WEBP_METHOD = 75, 1


def thumbnail_name(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha1(f"{path}\0{size}\0{mtime!r}".encode(), usedforsecurity=False).hexdigest()[:24]
    return os.path.join(digest[:2], f"{digest}.webp")  # fanned out: no folder of 100k entries


def thumbnail_path(thumbnail_dir: str, record: dict) -> str:
    """Where the thumbnail of a record's file (as it was when indexed) lives."""
    return os.path.join(thumbnail_dir, thumbnail_name(record["path"], record["size_bytes"], record["mtime"]))


def save_thumbnail(image, destination: str) -> None:
    """Write a ``THUMBNAIL_SIZE`` px WebP of ``image`` (a PIL image) atomically."""
    from PIL import Image

    small = image.copy()
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temp = f"{destination}.tmp-{os.getpid()}"
    try:
        small.save(temp, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        os.replace(temp, destination)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def remove_thumbnails(thumbnail_dir: str, signatures: Iterable[tuple[str, int, float]]) -> None:
    """Delete the thumbnails of these (path, size, mtime) file versions, where they exist."""
    for path, size, mtime in signatures:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(thumbnail_dir, thumbnail_name(path, size, mtime)))
