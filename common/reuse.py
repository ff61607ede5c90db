"""Files whose bytes the index already holds keep their vectors: moved, renamed, copied, touched.

The indexer sees a file as new when its path is new and as changed when its (size, mtime) moved.
Often its bytes did not change at all: a folder was renamed or sorted into others, a library was
copied to a new disk without its times (``cp -r``, many sync and backup tools), a tool touched
the files. Decoding and embedding them again would give the vectors the index already has (the
same bytes, the same model) at the full price: ~50 ms of CPU a photo for ViT-B-32 on a CPU,
hours for a library. So before anything is decoded, a file the size of a stored row is hashed
(sha256, what ``content_hash`` holds); when the hash matches, the new row is that row's vector,
colour signature and everything read from the bytes (pixels' size, format, EXIF, text chunks),
with the file facts (path, names, times) of the file itself, and its thumbnail is a copy of the
stored one. A file of a size no row has is never hashed here, so a library's new photos cost
nothing extra; one that has such a size but other bytes is hashed twice (here and when its record
is made), a few milliseconds beside its decode.

Copies among the files of one run (a library with the same picture in an album folder and a year
folder, as photo exports make them) are found the same way: files of the run that share a size
and the bytes sampled at three places are hashed, the first of each set of equal bytes is read
and embedded, and the others wait until its row is written, then take it as above
(``set_aside_copies`` here, then ``common.pipeline.take_originals_rows``).

Hashing waits for a drive no longer than the decoders do (``common.reading``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.atomic import write_atomically
from common.describe import annotations_from_header, refreshed_record
from common.discovery import FoundFile
from common.metadata import content_hash, file_facts
from common.reading import read_each
from common.store import ImageStore
from common.thumbnails import find_thumbnail, thumbnail_name

log = logging.getLogger(__name__)

# What a warning says when a drive stops answering while files are hashed (``read_each``).
LOOKING_FOR_COPIES = "looking for copies"
LEFT_TO_DECODERS = "left to the decoders"
# Files are looked up and their rows written this many at a time: a copied library of 100k
# photos never holds 100k records in memory, and what was found is kept if the run stops.
REUSE_GROUP = 1000
# How much of a file, at each of three places, tells it from another of the same size.
SAMPLE_BYTES = 64 * 1024


@dataclass
class ReusedFile:
    """A file to index whose bytes a stored row was made from: its new record, vector and colours."""

    file: FoundFile
    record: dict[str, Any]
    vector: np.ndarray
    color: np.ndarray
    source: dict[str, Any]  # the stored record it came from (for its thumbnail)


def files_worth_hashing(files: list[FoundFile], stored_sizes: set[int]) -> list[FoundFile]:
    """The ``files`` that may be copies of stored rows: those of a size some row has."""
    return [f for f in files if f.size in stored_sizes]


class FileHashes:
    """The sha256 of the files hashed in a run, by path (None: it could not be read): a file is
    read for its hash at most once a run, whether it is looked up among stored rows, among the
    run's other files, or both. ``patience``: how long to wait for a drive (``read_each``)."""

    def __init__(self, patience: float | None = None) -> None:
        self.patience = patience
        self.known: dict[str, str | None] = {}

    def of(self, file: FoundFile) -> str | None:
        return self.known.get(file.path)

    def unknown(self, files: list[FoundFile]) -> list[FoundFile]:
        return [f for f in files if f.path not in self.known]

    def add(self, files: list[FoundFile], hashed: Callable[[int], None] = lambda count: None) -> None:
        """Hash the ``files`` not hashed yet (``hashed`` is told how many were, a group at a time)."""
        todo = self.unknown(files)
        for start in range(0, len(todo), REUSE_GROUP):
            group = todo[start : start + REUSE_GROUP]
            digests = read_each(_hashed, group, self.patience, doing=LOOKING_FOR_COPIES, left=LEFT_TO_DECODERS)
            self.known.update((f.path, digest) for f, digest in zip(group, digests, strict=True))
            hashed(len(group))


def find_reusable(
    store: ImageStore,
    candidates: list[FoundFile],
    hashes: FileHashes,
    hashed: Callable[[int], None] = lambda count: None,
) -> Iterator[list[ReusedFile]]:
    """The ``candidates`` whose bytes equal those of a stored row, each with the row it takes,
    ``REUSE_GROUP`` files at a time (``hashed`` is told how many were hashed). A file that
    vanished or cannot be read is left to the decoding stage, which reports it."""
    for start in range(0, len(candidates), REUSE_GROUP):
        group = candidates[start : start + REUSE_GROUP]
        hashes.add(group, hashed)
        yield _reusable(store, group, hashes)


def likely_copies(files: list[FoundFile], patience: float | None = None) -> list[FoundFile]:
    """The ``files`` that may be copies of one another: of a size another of them has, and with
    the same bytes as it at the start, the middle and the end (``sampled_bytes``).

    Only these are hashed whole before indexing. Files of one size are common where nothing is
    compressed (a scanner's TIFFs, BMPs, one camera's raw-like files): hashing all of them would
    read a library twice over before the first is embedded, where reading three samples of each
    tells photos apart (their headers' times, their first pixels) and leaves only copies, or
    files alike where sampled (a white margin), to hash whole."""
    sizes = Counter(f.size for f in files)
    same_size = [f for f in files if sizes[f.size] > 1]
    samples = read_each(sampled_bytes, same_size, patience, doing=LOOKING_FOR_COPIES, left=LEFT_TO_DECODERS)
    keys = Counter((f.size, sample) for f, sample in zip(same_size, samples, strict=True) if sample is not None)
    return [f for f, sample in zip(same_size, samples, strict=True) if sample is not None and keys[f.size, sample] > 1]


def sampled_bytes(file: FoundFile) -> bytes | None:
    """A digest of ``file``'s bytes at its start, middle and end (``SAMPLE_BYTES`` each; the
    whole file when it is smaller than that); None when it cannot be read now."""
    try:
        with open(file.path, "rb") as handle:
            if file.size <= 3 * SAMPLE_BYTES:
                return hashlib.sha256(handle.read()).digest()
            digest = hashlib.sha256()
            for offset in (0, (file.size - SAMPLE_BYTES) // 2, file.size - SAMPLE_BYTES):
                handle.seek(offset)
                digest.update(handle.read(SAMPLE_BYTES))
            return digest.digest()
    except OSError:
        return None


def set_aside_copies(files: list[FoundFile], hashes: FileHashes) -> tuple[list[FoundFile], dict[str, list[FoundFile]]]:
    """Split ``files`` (hashed where they may be copies) into those to read and the copies to set
    aside: of each set with the same bytes, the first in ``files``' order is read and the others,
    listed under its path, take its row once it is written (``take_originals_rows``)."""
    first_of: dict[str, str] = {}  # hash → the path of the first file with it
    to_read: list[FoundFile] = []
    copies: dict[str, list[FoundFile]] = {}
    for file in files:
        digest = hashes.of(file)
        original = first_of.setdefault(digest, file.path) if digest else file.path
        if original == file.path:
            to_read.append(file)
        else:
            copies.setdefault(original, []).append(file)
    return to_read, copies


def _hashed(file: FoundFile) -> str | None:
    """The sha256 of a file, None for one that cannot be read now."""
    try:
        return content_hash(file.path)
    except OSError:
        return None


def _reusable(store: ImageStore, files: list[FoundFile], hashes: FileHashes) -> list[ReusedFile]:
    by_hash = store.get_records_by_content_hash({h for f in files if (h := hashes.of(f))})
    matched = [(f, by_hash[hashes.of(f)]) for f in files if hashes.of(f) in by_hash]
    if not matched:
        return []
    sources = sorted({source["path"] for _, source in matched})
    vectors, colors = store.get_vectors(sources), store.get_colors(sources)
    # Each copy's header and sidecar are read (its own XMP), on threads as its bytes were hashed.
    records = read_each(_record_for_copy_of, matched, hashes.patience, doing=LOOKING_FOR_COPIES, left=LEFT_TO_DECODERS)
    reused = []
    for (file, source), record in zip(matched, records, strict=True):
        if record is not None and source["path"] in vectors and source["path"] in colors:
            reused.append(ReusedFile(file, record, vectors[source["path"]], colors[source["path"]], source))
    return reused


def _record_for_copy_of(match: tuple[FoundFile, dict[str, Any]]) -> dict[str, Any] | None:
    file, source = match
    return record_for_copy(source, file)


def record_for_copy(source: dict[str, Any], file: FoundFile) -> dict[str, Any] | None:
    """The record of ``file``, whose bytes ``source`` was made from: what the bytes say is the
    same, what the file system and its XMP sidecar say is the file's own (and what this version
    records beyond the stored row, worked out from it: ``refreshed_record``). None when it cannot
    be stat'ed or opened now, or it changed since it was hashed (then it is decoded, which settles
    what it is)."""
    try:
        facts = file_facts(file.path)
    except OSError:
        return None
    if (facts["size_bytes"], facts["mtime"]) != (file.size, file.mtime):
        return None
    annotations = annotations_from_header(file.path)
    if annotations is None:
        return None
    return refreshed_record({**source, **facts, "indexed_at": time.time()}, read=annotations)


def copy_thumbnail(thumbnail_dir: str, reused: ReusedFile) -> None:
    """Give the file the thumbnail of the row it came from, if there is one (same bytes, same picture).

    A hard link where the file system allows it (no bytes copied; the source's own removal, when
    its file is gone, leaves this one), else a copy. A thumbnail that cannot be made costs a
    gallery picture, never the row.
    """
    found = find_thumbnail(thumbnail_dir, reused.source)
    if found is None:
        return
    source_path, _ = found
    suffix = os.path.splitext(source_path)[1]  # a WebP one of an older version stays WebP
    path, size, mtime = reused.record["path"], reused.record["size_bytes"], reused.record["mtime"]
    destination = os.path.join(thumbnail_dir, thumbnail_name(path, size, mtime, suffix))
    if destination == source_path:
        return
    try:
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        try:
            os.link(source_path, destination)
        except FileExistsError:
            return
        except OSError:  # a file system without hard links
            write_atomically(destination, lambda temp: shutil.copyfile(source_path, temp), durable=False)
    except OSError as error:
        log.warning("no thumbnail for %s: %s", path, error.strerror or error)
