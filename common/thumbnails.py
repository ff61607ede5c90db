"""300 px JPEG thumbnails of indexed files, in ``<db>/thumbnails``, for galleries and tools.

A thumbnail is made in the decoding worker from the picture it already decoded (no second
decode; reduced-size decoding keeps at least ``THUMBNAIL_SIZE`` px on the longest side). Its
name is a hash of (path, size, mtime): a modified file gets a new thumbnail, and the indexing
run removes the thumbnails of files it re-embedded or removed. Databases made before thumbnails
were JPEG hold WebP ones under the same hash: they are still found and still removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from common.atomic import write_atomically

THUMBNAIL_DIR = "thumbnails"
THUMBNAIL_SIZE = 300
# JPEG at quality 80: ~0.35 ms to encode a 300 px picture here and ~13.5 KB for a coco photo.
# WebP at its fastest effort made ~11 KB files but took ~2.2-2.8 ms, a fifth of all the CPU a
# worker spends on a JPEG photo, and that CPU is the model's on a 2-core machine.
THUMBNAIL_FORMAT, JPEG_QUALITY = "JPEG", 80
# Suffix → MIME type of the thumbnails a database may hold under a file's hash: this version's
# first, then those earlier versions made.
THUMBNAIL_SUFFIXES = {".jpg": "image/jpeg", ".webp": "image/webp"}
THUMBNAIL_SUFFIX = next(iter(THUMBNAIL_SUFFIXES))


def thumbnail_name(path: str, size: int, mtime: float, suffix: str = THUMBNAIL_SUFFIX) -> str:
    digest = hashlib.sha1(f"{path}\0{size}\0{mtime!r}".encode(), usedforsecurity=False).hexdigest()[:24]
    return os.path.join(digest[:2], digest + suffix)  # fanned out: no folder of 100k entries


def thumbnail_path(thumbnail_dir: str, record: dict) -> str:
    """Where this version makes the thumbnail of a record's file (as it was when indexed)."""
    return os.path.join(thumbnail_dir, thumbnail_name(record["path"], record["size_bytes"], record["mtime"]))


def find_thumbnail(thumbnail_dir: str, record: dict) -> tuple[str, str] | None:
    """The path and MIME type of a record's thumbnail, made by this version or an earlier one."""
    candidates = _thumbnail_files(thumbnail_dir, record["path"], record["size_bytes"], record["mtime"])
    return next(((path, mime) for path, mime in candidates if os.path.isfile(path)), None)


def _thumbnail_files(thumbnail_dir: str, path: str, size: int, mtime: float) -> Iterator[tuple[str, str]]:
    """Every file a thumbnail of this file version may be (``THUMBNAIL_SUFFIXES``), with its MIME type."""
    for suffix, mime in THUMBNAIL_SUFFIXES.items():
        yield os.path.join(thumbnail_dir, thumbnail_name(path, size, mtime, suffix)), mime


@dataclass
class ThumbnailCensus:
    """What the thumbnails folder holds against what the index does."""

    lacking: list[str]  # the indexed files that have no thumbnail, in path order
    strays: list[str]  # the folder's files that are no indexed file's thumbnail (names within it)


def take_thumbnail_census(thumbnail_dir: str, signatures: dict[str, tuple]) -> ThumbnailCensus:
    """Which files of ``signatures`` (path -> (size, mtime, ...), as indexed) have no thumbnail,
    of this version or an earlier one, and which files of the folder are no indexed file's: made
    by a run stopped before it committed their rows (a full disk, a crash), or left by one
    removing rows without them, or a write cut short. The folder is listed once: at 100k rows
    that took 0.8 s from a cold cache and 0.4 s warm, where a look for each file's thumbnail took
    1.2 and 0.55 s (and more on a network share)."""
    present = set()
    with contextlib.suppress(FileNotFoundError):
        for fan in os.scandir(thumbnail_dir):
            if fan.is_dir():
                present.update(os.path.join(fan.name, entry.name) for entry in os.scandir(fan.path))
    lacking, claimed = [], set()
    for path, (size, mtime, *_) in signatures.items():
        names = {thumbnail_name(path, size, mtime, suffix) for suffix in THUMBNAIL_SUFFIXES}
        if names.isdisjoint(present):
            lacking.append(path)
        claimed |= names
    return ThumbnailCensus(sorted(lacking), sorted(present - claimed))


def remove_stray_thumbnails(thumbnail_dir: str, strays: Iterable[str]) -> int:
    """Delete these files of the thumbnails folder (``ThumbnailCensus.strays``); how many went."""
    removed = 0
    for name in strays:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(thumbnail_dir, name))
            removed += 1
    return removed


def thumbnail_picture(image):
    """``image`` (a PIL image) shrunk to ``THUMBNAIL_SIZE`` px on its longest side, if larger."""
    from PIL import Image

    # resize() makes a new picture (thumbnail() would need a copy of the decoded one first, ~1 ms),
    # and reducing_gap=1 box-reduces by the whole factor before the bilinear pass.
    size = thumbnail_size(image.width, image.height)
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0) if size != image.size else image


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) of a ``width`` x ``height`` picture's thumbnail: ``THUMBNAIL_SIZE`` px
    on its longest side, never enlarged (the workers' Pillow and the GPU's resize alike)."""
    scale = min(1.0, THUMBNAIL_SIZE / max(width, height))
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def save_thumbnail(image, destination: str) -> None:
    """Write a ``THUMBNAIL_SIZE`` px JPEG of ``image`` (an RGB PIL image) atomically."""
    small = thumbnail_picture(image)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    write_atomically(destination, lambda temp: small.save(temp, THUMBNAIL_FORMAT, quality=JPEG_QUALITY), durable=False)


def save_encoded_thumbnail(data: bytes, destination: str) -> None:
    """Write a thumbnail already encoded as a JPEG (on a GPU: common.device_decoding) atomically."""

    def write(temp: str) -> None:
        with open(temp, "wb") as file:
            file.write(data)

    os.makedirs(os.path.dirname(destination), exist_ok=True)
    write_atomically(destination, write, durable=False)


def jpeg_of(picture) -> bytes:
    """``picture`` (a PIL image) as a JPEG in memory, encoded as thumbnails are."""
    import io

    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, THUMBNAIL_FORMAT, quality=JPEG_QUALITY)
    return buffer.getvalue()


def remove_thumbnails(thumbnail_dir: str, signatures: Iterable[tuple[str, int, float]]) -> None:
    """Delete the thumbnails of these (path, size, mtime) file versions, where they exist."""
    for path, size, mtime in signatures:
        for thumbnail, _ in _thumbnail_files(thumbnail_dir, path, size, mtime):
            with contextlib.suppress(FileNotFoundError):
                os.remove(thumbnail)


# A file with no thumbnail is decoded for its picture (``picture_of_file``): at least this many
# pixels on its shortest side, and not at all past this size where the format cannot shrink as
# it decodes (JPEG can: DCT scaling).
STAND_IN_SIDE = 224
STAND_IN_MAX_PIXELS = 50_000_000
SHRINKING_FORMATS = {"JPEG", "MPO"}
# What stands in for a missing thumbnail: a record's picture, or None and why not.
StandIn = Callable[[dict], tuple[Any, "str | None"]]


def picture_of_file(record: dict) -> tuple[Any, str | None]:
    """A record's file itself, decoded at a thumbnail's size (``decode_image``'s reduced-size
    paths), standing in for the thumbnail the index holds none of (``--no-thumbnails``) in
    ``--preview`` and ``--html``; or None and why not.

    A file that has no reduced-size path and is larger than ``STAND_IN_MAX_PIXELS`` is not
    decoded: a 200-megapixel HEIC without a stored thumbnail takes over 20 s, and a search waits
    for its pictures. A JPEG shrinks as it decodes (``draft``), whatever its size.
    """
    pixels = (record.get("width") or 0) * (record.get("height") or 0)
    if record.get("format") not in SHRINKING_FORMATS and pixels > STAND_IN_MAX_PIXELS:
        return None, f"the file is too large ({pixels / 1e6:.0f} megapixels) to decode for a picture here"
    picture, why_not = small_picture_of(record["path"])
    return picture, None if why_not is None else f"the file cannot be read: {why_not}"


class PicturesOfFiles:
    """``picture_of_file`` for the results a search shows (``--preview``, ``--html``), each file
    given ``time_limit`` seconds (``--time-limit``; None: no limit) to be read and decoded.

    A file on a drive that stopped answering (a network share gone, a sleeping disk, a stalled
    FUSE mount) blocks the read of it, and the search waited for its picture for good, where
    indexing gives up on such a file after the time limit. The read runs in a daemon thread, so
    one that never returns holds up neither the search nor the process's exit. Past the limit,
    the other files of that folder are not read either: they are on the same drive, and a page
    of results would otherwise wait the limit for each."""

    def __init__(self, time_limit: float | None, read: StandIn | None = None) -> None:
        self.time_limit = time_limit or None
        self.read = read or picture_of_file
        self.stalled_folders: set[str] = set()

    def __call__(self, record: dict) -> tuple[Any, str | None]:
        if self.time_limit is None:
            return self.read(record)
        folder = os.path.dirname(record["path"])
        if folder in self.stalled_folders:
            return None, f"another file in its folder did not answer in {self.time_limit:g} s"
        import threading

        answer: list[tuple[Any, str | None]] = []

        def read() -> None:
            try:
                answer.append(self.read(record))
            except Exception as error:  # a decoder's own error: that picture's line, not a crash
                answer.append((None, f"the file cannot be read: {error}"))

        reading = threading.Thread(target=read, name="imagedb-picture", daemon=True)
        reading.start()
        reading.join(self.time_limit)
        if not answer:
            self.stalled_folders.add(folder)
            return None, f"the file did not answer in {self.time_limit:g} s (--time-limit)"
        return answer[0]


def small_picture_of(path: str, side: int = STAND_IN_SIDE) -> tuple[Any, str | None]:
    """The file at ``path`` decoded with at least ``side`` px on its shortest side (reduced-size
    paths where its format has one) and shrunk to a thumbnail's size; or None and why not, in the
    decoder's words (``picture_of_file`` here, ``common.small_pictures`` in a worker)."""
    from common.decoding import DecodeError, decode_image

    why_not = not_a_file(path)
    if why_not:
        return None, why_not
    try:
        decoded = decode_image(path, side)
    except DecodeError as error:
        return None, str(error)
    except OSError as error:
        return None, error.strerror or str(error)
    return thumbnail_picture(decoded.image), None


def not_a_file(path: str) -> str | None:
    """Why ``path`` is no file to decode for its picture, or None: no longer a regular file.
    Opened, a named pipe put where a photo was waits for a writer forever. (One that is gone, or
    cannot be read, the decoder says so of, in its words.)"""
    import stat

    from common.discovery import kind_of_file

    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"no longer a file but {kind_of_file(path, st)}"
    return None
