"""Index folders into a store: scan → diff against the store → decode → embed → write.

Each stage is a small generator so they compose (clip-retrieval's reader → mapper → writer):
``read_images`` decodes and describes files, ``embed_batches`` turns them into vectors a
batch at a time, and ``write_batches`` upserts them in groups, committing at least every
``commit_seconds`` so an interrupted run keeps what it already embedded. Only files whose
(size, mtime) changed since they were indexed are decoded at all (one whose XMP sidecar alone
changed takes its stored vector: its bytes are those of its row), and of those not the ones
whose bytes a stored row was made from (moved, copied, touched: ``common.reuse``), and copies
among the run's own files are embedded once; the model is only loaded when a file is left: a run
over an unchanged or reorganised tree never imports torch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.defaults import DEFAULT_COMMIT_SECONDS, DEFAULT_TIME_LIMIT, default_batch_size
from common.device_decoding import DeviceJpegDecoder, EncodedJpeg
from common.discovery import (
    BROKEN_LINK,
    EMPTY,
    NOT_ANSWERING,
    UNREADABLE,
    Exclusions,
    FoundFile,
    OutOfReach,
    Walk,
    absolute,
    files_in_words,
    has_storable_name,
    is_under_root,
    no_answer_in,
    normalise_root,
    roots_in_words,
    split_vanished,
)
from common.embedding import Embedder
from common.failures import RETRY_WHEN_CHANGED, FailureReport
from common.live_clips import LiveClips
from common.reading import answer_within, answers_within
from common.records import RECORD_VERSION, REFRESHABLE_SINCE
from common.refresh import refresh_rows
from common.reuse import (
    FileHashes,
    copy_thumbnail,
    files_worth_hashing,
    find_reusable,
    likely_copies,
    set_aside_copies,
)
from common.settling import Settling
from common.still_there import SilentDrives
from common.store import ImageStore
from common.takeout import in_trash, takeout_json_of
from common.thumbnails import remove_thumbnails
from common.workers import (
    DecodePool,
    ReadResult,
    default_worker_count,
    read_file,
    read_for_model_device,
    read_prepared,
    start_decoding_server,
)

log = logging.getLogger(__name__)

STAGES = ("scan", "reuse", "model", "decode", "embed", "write", "finish")


@dataclass
class ChangePlan:
    """What a run must do, decided from ``stat`` and the store alone."""

    new: list[FoundFile] = field(default_factory=list)
    changed: list[FoundFile] = field(default_factory=list)
    unchanged: list[FoundFile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # indexed, still there, but not found: skipped
    # Indexed, under a root the walk got no answer from (``Walk.silent``): not looked at, kept.
    unlooked: dict[str, list[str]] = field(default_factory=dict)  # root → paths
    # Unchanged files whose rows an older imagedb described: read again, their vectors kept ...
    reread: list[FoundFile] = field(default_factory=list)
    # ... or, when what this version adds follows from what the rows hold, brought up to date
    # from that (common.refresh): nothing read.
    refresh: list[FoundFile] = field(default_factory=list)

    @property
    def to_index(self) -> list[FoundFile]:
        return self.new + self.changed


@dataclass
class IndexSummary:
    """The counts a run reports on its closing line (and tests assert on)."""

    new: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    # Rows kept though their files were not found: their folder looks like a drive not mounted.
    out_of_reach: list[OutOfReach] = field(default_factory=list)
    # The roots that are files (``--index photo.jpg``), as the walk found them.
    named_files: set[str] = field(default_factory=set)
    # Of the new and updated rows, those whose file had the bytes of a stored row (moved, copied,
    # touched): they took its vector instead of being decoded and embedded (common.reuse).
    reused: int = 0
    # Of the updated rows, those of unchanged files read again because an older imagedb described
    # them (common.records.RECORD_VERSION): new records, their stored vectors kept.
    reread: int = 0
    # Of the updated rows, those of unchanged files an older imagedb described, brought up to date
    # from what they hold (common.refresh): nothing read, nothing embedded.
    refreshed: int = 0
    # Of the new and updated rows, Live Photo clips that took their still's vector (common.live_clips).
    from_stills: int = 0
    # Of the failed, the files an earlier run failed on that were left alone (unchanged since).
    failed_before: int = 0
    seconds: float = 0.0
    # What stopped it, if anything did (Ctrl-C, or SIGTERM as cli.Terminated): raised again once
    # the run is summed up, so the exit status says which (130 or 143).
    stopped_by: KeyboardInterrupt | None = None
    # Where the time went: scan (walk + diff), reuse (hashing files that may be copies of indexed
    # ones or of each other, storing the rows they take), model (loading it, when a file needs
    # embedding), decode (decode, describe, preprocess), embed (forward passes), write (upserts
    # and commits), finish (secondary indexes).
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    # CPU time spent reading files (decode, describe, crop, colour, thumbnail), summed over the
    # workers: on a machine where the model runs on the CPU too, time the model did not get.
    read_cpu_seconds: float = 0.0
    # JPEGs decoded where the model runs (--jpeg-decoder model or both; common.device_decoding).
    decoded_on_device: int = 0

    @contextlib.contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] += time.perf_counter() - started

    @property
    def interrupted(self) -> bool:
        return self.stopped_by is not None

    @property
    def embedded(self) -> int:
        """Rows whose vector the model made in this run."""
        return self.new + self.updated - self.reused - self.reread - self.refreshed - self.from_stills

    @property
    def images_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    @property
    def kept_out_of_reach(self) -> int:
        return sum(len(held.paths) for held in self.out_of_reach)

    def line(self) -> str:
        rate = f" ({self.images_per_second:.1f} images/s)" if self.embedded else ""
        held = f", {self.kept_out_of_reach} out of reach" if self.out_of_reach else ""
        reused = f"; {self.reused} had the bytes of indexed files: vectors reused" if self.reused else ""
        reread = f"; {self.reread} read again for what this version records: vectors kept" if self.reread else ""
        refreshed = (
            f"; {self.refreshed} brought up to date from their rows: nothing decoded or embedded"
            if self.refreshed
            else ""
        )
        live = f"; {self.from_stills} Live Photo clip(s) took their still's vector" if self.from_stills else ""
        return ("interrupted: " if self.interrupted else "") + (
            f"{self.new} new, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged, "
            f"{self.failed} failed{held} in {self.seconds:.1f} s{rate}{reused}{reread}{refreshed}{live}"
        )


@dataclass
class ReadImage:
    """A decoded file: its record (no vector yet) and the model-ready pixels."""

    record: dict[str, Any]
    pixels: Any  # a uint8 crop; an EncodedJpeg until decode_on_device decodes it
    color: np.ndarray | None  # None until then too


def plan_changes(
    found: Iterable[FoundFile],
    indexed: dict[str, tuple[int, float, float | None]],
    force: bool,
    silent: Collection[str] = (),
) -> ChangePlan:
    """Sort files into new / changed / unchanged, and indexed paths that vanished into removed.

    ``force`` treats every unchanged file as changed, so it is re-embedded and its row replaced.
    A path counts as removed only if it no longer exists at all: a file that is present but was
    skipped (unreadable, briefly locked) keeps its row, since nothing indexed is ever lost. One
    under a ``silent`` root (read once ``found`` is: ``Walk.silent``) is not looked for at all
    (its drive does not answer): unlooked, kept.
    """
    plan = ChangePlan()
    seen: set[str] = set()
    for file in found:
        seen.add(file.path)
        signature = indexed.get(file.path)
        if signature is None:
            plan.new.append(file)
        elif force or signature != file.signature:
            plan.changed.append(file)
        else:
            plan.unchanged.append(file)
    silent = sorted(silent, key=len, reverse=True)  # the innermost root a path is under holds it
    for path in sorted(p for p in indexed if p not in seen):
        root = next((root for root in silent if is_under_root(path, root)), None)
        if root is not None:
            plan.unlooked.setdefault(root, []).append(path)
        else:
            (plan.not_found if os.path.lexists(path) else plan.removed).append(path)
    return plan


def roots_named_within(
    roots: list[str], silent: dict[str, str], patience: float | None
) -> tuple[list[str], dict[str, str]]:
    """``roots`` as records name them (``normalise_root``: an accented name is looked for on the
    disk), and the ``silent`` roots, with those whose drive did not answer that look in
    ``patience`` seconds (named as given, absolute): a watch's later look at a share gone since."""
    asked = [root for root in roots if root not in silent]
    answers = answers_within([functools.partial(normalise_root, root) for root in asked], patience)
    named = {root: name for root, (answered, name) in zip(asked, answers, strict=True) if answered and name}
    for root in asked:
        if root not in named:
            named[root] = absolute(root)
            silent[named[root]] = no_answer_in(patience)
    return [named.get(root, root) for root in roots], silent


def set_aside_trashed(plan: ChangePlan, indexed: Collection[str]) -> int:
    """Take out of ``plan`` the files that were in Google Photos' trash when they were exported
    (their Takeout JSON's ``trashed``: ``common.takeout.in_trash``): what their owner deleted is
    not indexed, and the row of one indexed before goes. Only files to read or to bring up to
    date with a sidecar are looked at (their JSON read: a few kB); an unchanged one was looked
    at when it was indexed. How many were set aside."""
    count = 0
    for name in ("new", "changed", "reread", "refresh"):
        kept, trashed = [], []
        for file in getattr(plan, name):
            in_the_trash = file.sidecar_mtime is not None and in_trash(takeout_json_of(file.path))
            (trashed if in_the_trash else kept).append(file)
        setattr(plan, name, kept)
        plan.removed += [file.path for file in trashed if file.path in indexed]
        count += len(trashed)
    return count


def split_described_before(
    unchanged: list[FoundFile], versions: dict[str, int | None]
) -> tuple[list[FoundFile], list[FoundFile], list[FoundFile]]:
    """Of the ``unchanged`` files, those whose rows an older version described (``versions``:
    path → the version), in two: the ones to bring up to date from what their rows hold (since
    ``REFRESHABLE_SINCE``) and the ones to read again; then the rest, up to date."""
    refresh, reread, current = [], [], []
    for file in unchanged:
        if file.path not in versions:
            current.append(file)
        elif (versions[file.path] or 0) >= REFRESHABLE_SINCE:
            refresh.append(file)
        else:
            reread.append(file)
    return refresh, reread, current


def say_where_moved_files_came_from(sources: Iterable[str], roots: list[str], patience: float | None) -> None:
    """Files moved here from a folder this run does not index (a library folder renamed or
    sorted elsewhere, a drive's photos copied to another) take their old rows' vectors, and the
    old rows stay: their folder is not looked at, and may be a drive not mounted (a Mac's
    /Volumes/Photos is not there at all then). Every search then listed each photo twice, once at
    a path that is gone, and nothing had said why: say so, by folder, and how to drop them.

    Whether the old files are there is asked of their drive for ``patience`` seconds at most:
    photos copied off a NAS that is switched off now are indexed without waiting on it."""
    answered, lines = answer_within(lambda: where_moved_files_came_from(sources, roots), patience)
    if not answered:
        log.info(
            "files moved here took the vectors of indexed ones; whether the old files are still there was not "
            "told in %g s (a drive not answering?): their rows stay", patience,
        )  # fmt: skip
    for line in lines or []:
        log.warning("%s", line)


def where_moved_files_came_from(sources: Iterable[str], roots: list[str]) -> list[str]:
    """What ``say_where_moved_files_came_from`` says, a line a folder (the drive looked at)."""
    gone = sorted(
        path for path in set(sources)
        if not any(is_under_root(path, root) for root in roots) and not os.path.lexists(path)
    )  # fmt: skip
    deleted, held = split_vanished(gone, roots=[])
    lines = [
        f"{count} file(s) were moved here from {folder}, which this run does not index: their old rows stay, "
        f"listed beside the new ones; --index {folder} drops them"
        for folder, count in Counter(map(os.path.dirname, deleted)).items()
    ]
    return lines + [
        f"{len(out.paths)} file(s) were moved here from {out.folder}: {out.reason()}; their old rows stay, listed "
        f"beside the new ones; if it is gone for good, --forget {out.folder} drops them"
        for out in held
    ]


def how_to_drop(held: OutOfReach, roots: list[str]) -> str:
    """What to do when the files kept out of reach were in fact deleted."""
    if held.why == NOT_ANSWERING:
        return f"they are looked at again at the next --index (if the drive is gone for good, --forget {held.folder} drops them)"
    if held.why == UNREADABLE:
        return "they are dropped once it can be read again and they are not in it"
    if held.why == BROKEN_LINK:
        return "if they were deleted, remove the link (or index with --force) to drop them"
    if held.why == EMPTY and held.folder not in roots:
        return "if they were deleted, remove the empty folder (or index with --force) to drop them"
    return "if they were deleted, index with --force to drop them"


def read_in_process(paths: Iterable[str], embedder: Embedder, thumbnail_dir: str | None) -> Iterator[ReadResult]:
    """Reader without worker processes (``--workers 0``)."""
    for path in paths:
        yield read_prepared(path, embedder.min_side, embedder.prepare, thumbnail_dir)


def read_images(
    results: Iterable[ReadResult], report: Callable[[ReadResult], None], summary: IndexSummary
) -> Iterator[ReadImage]:
    """Reader: the decoded files, as they come (their records complete, with the place of their
    GPS position: ``common.workers.read_prepared``); the ones that failed go to the failures report.

    With worker processes, the "decode" stage time is what the main process waits for them.
    """
    iterator = iter(results)
    while True:
        with summary.timing("decode"):
            result = next(iterator, None)
        if result is None:
            return
        summary.read_cpu_seconds += result.cpu_seconds
        if result.reason is not None:
            report(result)
            continue
        yield ReadImage(result.record, result.crop, result.color)


def report_failure(
    result: ReadResult,
    files: dict[str, FoundFile],
    failures: FailureReport,
    drives: SilentDrives | None = None,
    pool: DecodePool | None = None,
) -> None:
    """Put a file that could not be read in the failures report.

    A file that ran past the time limit is left alone by later runs with no more time (a 200 MP
    HEIC would time out again), unless its drive does not answer now (``drives``): then the
    drive failed, not the file (a VPN that went down during the run), and the next run reads it
    again; left alone, it was not indexed until it changed. The files under the folder that does
    not answer that ``pool`` has not sent to a worker yet are not: each would wait out the time
    limit in turn (a library's thousands: hours). They are reported alike, read by the next run."""
    reason, lasting, limit = result.reason or "", result.lasting, result.timed_out_after
    folder = drives.folder_not_answering(result.path) if limit is not None and drives is not None else None
    if folder is not None:
        reason = f"{reason}; {folder} does not answer (a drive not answering?): the next run reads it again"
        lasting, limit = False, None
    failures.add(
        result.path, reason, stage=result.stage or "decode", file=files.get(result.path), lasting=lasting,
        time_limit=limit,
    )  # fmt: skip
    for path in pool.leave_out_under(folder) if pool is not None and folder is not None else []:
        failures.add(
            path, f"not read: {folder} does not answer (a drive not answering?): the next run reads it again",
            stage="read", file=files.get(path),
        )  # fmt: skip


def decode_on_device(
    images: Iterable[ReadImage],
    decoder: DeviceJpegDecoder,
    batch_size: int,
    read_here: Callable[[str], ReadResult],
    failed: Callable[[ReadResult], None],
    summary: IndexSummary,
) -> Iterator[ReadImage]:
    """Mapper: the JPEGs the workers handed over as bytes (``common.device_decoding``), decoded
    ``batch_size`` at a time where the model runs into crops and colours (their thumbnails
    written); one the device cannot decode is read here as a worker reads it (``read_here``),
    and if that fails too it goes to ``failed``. The rest pass through as they are, in order."""

    def finish(batch: list[ReadImage]) -> Iterator[ReadImage]:
        handed = [i for i, image in enumerate(batch) if isinstance(image.pixels, EncodedJpeg)]
        with summary.timing("decode"):
            made = decoder.read([batch[i].pixels for i in handed], [batch[i].record for i in handed])
        finished: list[ReadImage | None] = list(batch)
        for i, read in zip(handed, made, strict=True):
            if read is not None:
                finished[i] = ReadImage(batch[i].record, read.crop, read.color)
                summary.decoded_on_device += 1
                continue
            with summary.timing("decode"):
                result = read_here(batch[i].record["path"])
            summary.read_cpu_seconds += result.cpu_seconds
            if result.reason is not None:
                failed(result)
                finished[i] = None
            else:
                finished[i] = ReadImage(result.record, result.crop, result.color)
        yield from (image for image in finished if image is not None)

    batch: list[ReadImage] = []
    for image in images:
        batch.append(image)
        if len(batch) >= batch_size:
            yield from finish(batch)
            batch = []
    if batch:
        yield from finish(batch)


@dataclass
class EmbeddedBatch:
    """What the writer stores for a batch: records, their CLIP vectors and colour signatures."""

    records: list[dict[str, Any]]
    vectors: np.ndarray
    colors: np.ndarray


def embed_batches(
    images: Iterable[ReadImage],
    embedder: Embedder,
    batch_size: int,
    summary: IndexSummary,
    keep: KeptVectors | None = None,
    live: LiveClips | None = None,
) -> Iterator[EmbeddedBatch]:
    """Mapper: group read images into batches and embed each batch in one forward pass; the
    files ``keep`` names take their stored vectors instead, and a Live Photo's clip its still's
    (``live``: ``common.live_clips``), held until that is made."""
    taken: list[tuple[ReadImage, np.ndarray]] = []  # clips with their stills' vectors, not yet written

    def embed(batch: list[ReadImage]) -> EmbeddedBatch:
        paths = [b.record["path"] for b in batch]
        vectors = keep.stored_vectors(paths) if keep else {}
        summary.reread += len(vectors)
        fresh = [b for b in batch if b.record["path"] not in vectors]
        if fresh:
            with summary.timing("embed"):
                made = embedder.embed_prepared([b.pixels for b in fresh])
            vectors.update(zip((b.record["path"] for b in fresh), made, strict=True))
        if live is not None:
            taken.extend(live.stills_embedded(vectors))
        summary.from_stills += len(taken)
        batch, clips = batch + [image for image, _ in taken], [vector for _, vector in taken]
        taken.clear()
        return EmbeddedBatch(
            [b.record for b in batch],
            np.stack([vectors[p] for p in paths] + clips),
            np.stack([b.color for b in batch]),
        )

    batch: list[ReadImage] = []
    for image in images:
        still = live.still_of_clip(image.record) if live is not None else None
        if still is not None:
            vector = live.vector_of_still(still)
            if vector is not None:
                taken.append((image, vector))
                continue
            if still in live.awaited:
                live.hold(still, image)
                continue
        batch.append(image)
        if len(batch) >= batch_size:
            yield embed(batch)
            batch = []
    if batch or taken:
        yield embed(batch)
    left = live.held() if live is not None else []  # their stills failed: embedded themselves
    for start in range(0, len(left), batch_size):
        yield embed(left[start : start + batch_size])


@dataclass
class KeptVectors:
    """The files read again only for their records (``ChangePlan.reread``): their vectors come
    from the store, a batch at a time, and the model does not see them."""

    store: ImageStore
    paths: set[str]

    def stored_vectors(self, paths: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of ``paths`` to keep (a row deleted meanwhile: embedded)."""
        kept = [p for p in paths if p in self.paths]
        return self.store.get_vectors(kept) if kept else {}


def set_aside_earlier_failures(
    files: Iterable[FoundFile], failures: FailureReport, time_limit: float | None
) -> list[FoundFile]:
    """The files to read: a file whose very version failed before, in a way that would recur,
    is listed as failed again instead (``--retry-failed`` or ``--force`` reads it anyway)."""
    to_read = []
    for file in files:
        earlier = failures.earlier_failure(file, time_limit)
        if earlier is None:
            to_read.append(file)
        else:
            failures.repeat(earlier)
    return to_read


# Embedded batches are written to the store in groups of about this many rows, and whenever a
# commit is due (``--commit-every``). One write is a transaction with a fixed cost: at 100k rows a
# LanceDB upsert takes ~12-20 ms for 32 rows and ~30-45 ms for 512 (an append, for new files, ~4
# and ~12-27 ms), FAISS 6 ms and 14 ms. On a GPU, 20 ms is a whole batch's forward pass, so
# writing batch by batch would halve the speed; past 512 rows the cost grows with the rows (a
# LanceDB append of 2,048 takes 85-110 ms), so larger groups save nothing.
# Each LanceDB write is a version whose manifest lists every file the table has, so the writes
# must not come often either: written every 2 seconds, a first index of 100k photos on a CPU made
# 1,700 versions, 270 MB of manifests.
WRITE_GROUP_ROWS = 512


def write_batches(
    store: ImageStore,
    batches: Iterable[EmbeddedBatch],
    indexed_before: set[str],
    summary: IndexSummary,
    commit_seconds: float = DEFAULT_COMMIT_SECONDS,
) -> None:
    """Writer: store the batches in groups of ``WRITE_GROUP_ROWS`` and make them durable at least
    every ``commit_seconds`` (0: each batch, written on its own), which bounds what a crash costs
    (a LanceDB write is a commit of its own; FAISS commits what it holds). Files not in
    ``indexed_before`` (the store's paths under the run's roots when it began) are added, the
    others upserted.

    When reading or embedding stops the run (Ctrl-C, a model gone wrong), the batches it holds
    are still written: what was embedded is kept.
    """
    held: list[EmbeddedBatch] = []
    last_commit = time.monotonic()

    def write_held() -> None:
        if not held:
            return
        records = [record for batch in held for record in batch.records]
        vectors, colors = np.concatenate([b.vectors for b in held]), np.concatenate([b.colors for b in held])
        added = write_rows(store, records, vectors, colors, indexed_before)
        held.clear()
        summary.new += added
        summary.updated += len(records) - added

    source = iter(batches)
    while True:
        try:
            batch = next(source, None)
            if batch is not None and not np.all(np.isfinite(batch.vectors)):
                raise RuntimeError("the model produced non-finite vectors; refusing to write them")
        except BaseException:
            with summary.timing("write"):
                write_held()
            raise
        if batch is None:
            break
        held.append(batch)
        commit_due = time.monotonic() - last_commit >= commit_seconds
        if commit_due or sum(len(b.records) for b in held) >= WRITE_GROUP_ROWS:
            with summary.timing("write"):
                write_held()
                if commit_due:
                    store.commit()
                    last_commit = time.monotonic()
    with summary.timing("write"):
        write_held()
        store.commit()


def write_rows(
    store: ImageStore,
    records: list[dict[str, Any]],
    vectors: np.ndarray,
    colors: np.ndarray,
    indexed_before: set[str],
) -> int:
    """Store rows: those of files not in ``indexed_before`` are added (no row to replace), the
    others upserted; returns how many were added."""
    new = np.array([r["path"] not in indexed_before for r in records])
    for rows, write in ((new, store.add_images), (~new, store.upsert_images)):
        if rows.any():
            write([r for r, chosen in zip(records, rows, strict=True) if chosen], vectors[rows], colors[rows])
    return int(new.sum())


def take_stored_vectors(
    store: ImageStore,
    candidates: list[FoundFile],
    hashes: FileHashes,
    indexed_before: set[str],
    summary: IndexSummary,
    thumbnail_dir: str | None,
    progress: bool | None,
) -> tuple[set[str], set[str]]:
    """Store the ``candidates`` whose bytes a stored row was made from, with that row's vector
    (``common.reuse``); returns their paths, and those of the rows they took. A group's
    thumbnails are copied before its rows are written, and the rows are committed before
    anything is removed: a run stopped at any point leaves rows that are right, and the next run
    finds what it did not do."""
    taken: set[str] = set()
    sources: set[str] = set()
    with _hashing_bar(len(candidates), progress) as bar:
        for group in find_reusable(store, candidates, hashes, hashed=bar.update):
            if not group:
                continue
            if thumbnail_dir:
                for reused in group:
                    copy_thumbnail(thumbnail_dir, reused)
            vectors, colors = np.stack([r.vector for r in group]), np.stack([r.color for r in group])
            added = write_rows(store, [r.record for r in group], vectors, colors, indexed_before)
            store.commit()
            summary.new += added
            summary.updated += len(group) - added
            summary.reused += len(group)
            taken.update(r.file.path for r in group)
            sources.update(r.source["path"] for r in group)
    return taken, sources


def split_unstorable_names(files: list[FoundFile]) -> tuple[list[FoundFile], list[FoundFile]]:
    """``files`` as (those a store can name, those whose name it cannot hold:
    ``common.discovery.has_storable_name``)."""
    storable = [f for f in files if has_storable_name(f.path)]
    if len(storable) == len(files):
        return files, []
    return storable, [f for f in files if not has_storable_name(f.path)]


def set_aside_copies_among(
    files: list[FoundFile], hashes: FileHashes, progress: bool | None
) -> tuple[list[FoundFile], dict[str, list[FoundFile]]]:
    """The ``files`` to read, and the copies among them set aside until their original's row is
    written (``common.reuse.set_aside_copies``): only files that may be copies of one another
    are hashed (``common.reuse.likely_copies``)."""
    likely = likely_copies(files, hashes.patience)
    with _hashing_bar(len(hashes.unknown(likely)), progress) as bar:
        hashes.add(likely, hashed=bar.update)
    to_read, copies = set_aside_copies(files, hashes)
    if copies:
        log.info(
            "%d file(s) have the bytes of others found in this run: each picture is read and embedded "
            "once, its copies take its row", sum(len(c) for c in copies.values()),
        )  # fmt: skip
    return to_read, copies


def take_originals_rows(
    store: ImageStore,
    copies: dict[str, list[FoundFile]],
    hashes: FileHashes,
    indexed_before: set[str],
    summary: IndexSummary,
    failures: FailureReport,
    thumbnail_dir: str | None,
) -> list[FoundFile]:
    """Once the originals are written, their ``copies`` take their rows; returns the copies
    still to read. A copy of a file that failed in a way its bytes would fail again (corrupt,
    unsupported, a decoder crash, a timeout) is reported as failing alike without being read;
    one whose original failed for a passing reason (vanished, locked), or that changed since it
    was hashed, is read."""
    waiting = [copy for group in copies.values() for copy in group]
    taken, _ = take_stored_vectors(store, waiting, hashes, indexed_before, summary, thumbnail_dir, progress=False)
    failed = {entry["path"]: entry for entry in failures.entries}
    left = []
    for original, group in copies.items():
        for copy in group:
            if copy.path in taken:
                continue
            failure = failed.get(original)
            if failure is not None and failure.get("retry") == RETRY_WHEN_CHANGED:
                failures.add_copy_of(failure, copy)
            else:
                left.append(copy)
    return left


@contextlib.contextmanager
def _hashing_bar(total: int, progress: bool | None) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(
        total=total, unit="file", desc="hashing", leave=False, disable=True if not total else _disabled(progress)
    ) as bar:
        yield bar


def _disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` setting: None lets it decide (a terminal shows bars)."""
    return None if progress is None else not progress


def index_roots(
    store: ImageStore,
    load_embedder: Callable[[], Embedder],
    roots: list[str],
    *,
    force: bool = False,
    batch_size: int | None = None,
    failures: FailureReport,
    commit_seconds: float = DEFAULT_COMMIT_SECONDS,
    progress: bool | None = None,
    retry_failed: bool = False,
    workers: int | None = 0,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    thumbnail_dir: str | None = None,
    exclude: Iterable[str] = (),
    jpeg_decoder: str = "workers",
    settling: Settling | None = None,
    silent_roots: Mapping[str, str] | None = None,
) -> IndexSummary:
    """Bring ``store`` in line with the image files under ``roots``; other roots are untouched.

    A root whose drive gives no answer for ``time_limit`` seconds, or is in ``silent_roots``
    (root → why, found so by an earlier look), is walked no further (``common.discovery.Walk``):
    the rows of its files not seen are kept as they are, and the run goes on with the others.

    What ``exclude``'s patterns name, and system folders (``Exclusions``), are left out, and
    the rows of their files go as those of deleted files do.

    With ``workers`` > 0, files are decoded in that many worker processes, where a decoder that
    crashes costs only its file and one that runs past ``time_limit`` seconds is given up on;
    with 0 they are decoded in this process (no isolation, no time limit); None: as many as suit
    the device the model runs on (``default_worker_count``). ``batch_size`` None: as suits that
    device too (``common.defaults.default_batch_size``). ``jpeg_decoder``: where JPEGs are
    decoded: "workers" (as every other file), "model" (where the model runs:
    ``common.device_decoding``) or "both" (each JPEG by the workers while this process has
    read files waiting, else where the model runs: ``DecodePool``'s lighter reader).

    A file that failed in an earlier run and has not changed since is not read again unless
    ``force`` or ``retry_failed`` (see common.failures); it counts as failed again.

    A file with the bytes of a stored row (moved, renamed, copied, touched) takes that row's
    vector instead of being decoded and embedded, unless ``force`` (see common.reuse).

    With ``settling`` (a ``--watch``'s), new and changed files written in the last moments are
    left for its next look (``common.settling``): their rows, if any, stay as they are.

    ``load_embedder`` is called once there is a file to read, never for an unchanged tree:
    loading a model (importing torch, reading its weights) costs seconds, walking 100k files
    about one.
    """
    from tqdm import tqdm

    started = time.monotonic()
    summary = IndexSummary()
    patience = time_limit or None  # for a drive that stops answering: as long as the decoders wait
    roots, silent_roots = roots_named_within(roots, dict(silent_roots or {}), patience)
    database = normalise_root(store.db_path)
    with summary.timing("scan"):
        stored = store.get_signatures()
        indexed = {p: s for p, s in stored.items() if any(is_under_root(p, r) for r in roots)}
        exclusions = Exclusions(exclude)
        walk = Walk(roots, skip=[database], exclude=exclusions, patience=patience, silent=silent_roots)
        plan = plan_changes(walk.files(), indexed, force, walk.silent)
        if not force:  # --force: the index is to match what is there now (and every file is embedded)
            plan.removed, summary.out_of_reach = split_vanished(plan.removed, roots)
            described_before = store.get_record_versions_before(RECORD_VERSION) if plan.unchanged else {}
            if described_before:
                plan.refresh, plan.reread, plan.unchanged = split_described_before(plan.unchanged, described_before)
    # Files the user (or the system-folder rule) now excludes are there, but their rows go.
    plan.removed += [p for p in plan.not_found if exclusions.excludes(p, roots)]
    if any(is_under_root(database, root) for root in roots):
        # Rows of the database's own files (thumbnails indexed before its folder was skipped) go.
        plan.removed += [p for p in indexed if is_under_root(p, database) and p not in plan.removed]
    trashed = set_aside_trashed(plan, indexed)
    summary.unchanged = len(plan.unchanged)
    summary.named_files = walk.named_files
    summary.out_of_reach += [
        OutOfReach(root, NOT_ANSWERING, walk.silent[root], paths) for root, paths in plan.unlooked.items()
    ]
    indexed_before = set(indexed)  # rows to replace, not add (write_rows)
    failures.begin([root for root in roots if root not in walk.silent])  # the others' are kept
    to_read, reread = plan.to_index, plan.reread
    if not (force or retry_failed):  # only worker processes enforce a time limit
        limit = time_limit if workers != 0 else None
        to_read = set_aside_earlier_failures(to_read, failures, limit)
        reread = set_aside_earlier_failures(reread, failures, limit)
    fresh: list[FoundFile] = []
    if settling is not None:
        to_read, fresh = settling.settled(to_read)
    found = (*plan.new, *plan.changed, *plan.unchanged, *plan.reread, *plan.refresh)
    log.info(
        "found %s %s: %d to index, %d unchanged, %d to remove%s%s",
        files_in_words(f.path for f in found), roots_in_words(roots, walk.named_files), len(to_read), len(plan.unchanged), len(plan.removed),
        f", {len(reread)} to read again for what this version records (vectors kept)" if reread else "",
        f", {len(plan.refresh)} to bring up to date from their rows (nothing decoded)" if plan.refresh else "",
    )  # fmt: skip
    if fresh:
        log.info("%d file(s) written in the last %g s: left for the next look", len(fresh), settling.seconds)
    if exclusions.left_out:
        log.info("left out by name: %s", exclusions.report())
    if trashed:
        log.info(
            "left out %d file(s) in Google Photos' trash (their Takeout JSON says so): deleted by their owner", trashed
        )
    for root, why in walk.silent.items():
        if root not in plan.unlooked:
            log.warning("%s not indexed in full: %s", root, why)
    for held in summary.out_of_reach:
        log.warning(
            "kept the rows of %d file(s) not found under %s: %s; %s",
            len(held.paths), held.folder, held.reason(), how_to_drop(held, roots),
        )  # fmt: skip
    if failures.repeated:
        log.info(
            "%d file(s) failed in an earlier run and have not changed since: not read again "
            "(--retry-failed reads them)", failures.repeated,
        )  # fmt: skip
    hashes = FileHashes(patience)
    copies: dict[str, list[FoundFile]] = {}
    if to_read and not force:  # --force: every file is to be embedded again
        # A name no store can hold is neither given a stored row nor grouped with its copies: it
        # is read, where the worker reports it (an original of copies, it would fail them too).
        to_read, unstorable = split_unstorable_names(to_read)
        with summary.timing("reuse"):
            worth_hashing = files_worth_hashing(to_read, {signature[0] for signature in stored.values()})
            if worth_hashing:
                reused, sources = take_stored_vectors(
                    store, worth_hashing, hashes, indexed_before, summary, thumbnail_dir, progress
                )  # fmt: skip
                to_read = [f for f in to_read if f.path not in reused]
                if reused:
                    log.info(
                        "%d file(s) have the bytes of indexed ones (moved, renamed, copied, touched, or a sidecar of theirs edited): "
                        "their rows take the stored vectors, nothing decoded or embedded", len(reused),
                    )  # fmt: skip
                    say_where_moved_files_came_from(sources, roots, patience)
            to_read, copies = set_aside_copies_among(to_read, hashes, progress)
        to_read += unstorable
    if plan.removed:  # after the reuse: a moved file takes the vector of its old path's row
        with summary.timing("write"):
            summary.removed = store.delete_images(plan.removed)
            store.commit()
        if thumbnail_dir:
            remove_thumbnails(thumbnail_dir, [(p, *indexed[p][:2]) for p in plan.removed])
    if plan.refresh:
        with summary.timing("write"):
            refreshed = refresh_rows(store, [f.path for f in plan.refresh], commit_seconds, patience)
        summary.updated += refreshed
        summary.refreshed += refreshed
    keep = KeptVectors(store, {f.path for f in reread}) if reread else None
    to_read = to_read + reread  # after the reuse and copies steps, which would find their own rows
    if to_read:
        # The rows whose stored vectors are those of their files as they are: a Live Photo's clip
        # read now may take its still's (common.live_clips).
        current = {f.path for f in (*plan.unchanged, *plan.refresh, *reread)}
        if workers != 0:
            start_decoding_server()  # it starts while the model loads
        with summary.timing("model"):
            embedder = load_embedder()
        workers = default_worker_count(embedder.device) if workers is None else workers
        batch_size = default_batch_size(embedder.device) if batch_size is None else batch_size
        use_pool = workers > 0 and embedder.pixel_recipe is not None
        decoder = None
        if jpeg_decoder in ("model", "both") and embedder.pixel_recipe is not None:
            decoder = DeviceJpegDecoder.try_on(embedder.pixel_recipe, embedder.device, thumbnail_dir)
            if decoder is not None and embedder.device == "cpu":
                log.warning(
                    "the model runs on the CPU: JPEGs are decoded in this one process, slower than by the workers"
                    if jpeg_decoder == "model"
                    else "the model runs on the CPU: JPEGs the workers leave are decoded in this one process"
                )
        # The workers' reader, and the lighter one they take while this process keeps up (DecodePool).
        reader, lighter_reader = read_file, None
        if decoder is not None:
            both = jpeg_decoder == "both"
            reader, lighter_reader = (read_file, read_for_model_device) if both else (read_for_model_device, None)
        pool = None
        if use_pool:
            pool = DecodePool(
                # No more workers than files: a --watch round that finds one new photo on a
                # 32-core GPU host starts one process, not 31 (copies come later, fewer or as many).
                min(workers, len(to_read)),
                embedder.pixel_recipe,
                reader=reader,
                time_limit=time_limit,
                thumbnail_dir=thumbnail_dir,
                yield_to_model=embedder.device == "cpu",
                lighter_reader=lighter_reader,
            )

        def read_here(path: str) -> ReadResult:
            return read_prepared(path, embedder.min_side, embedder.prepare, thumbnail_dir)

        drives = SilentDrives(patience)

        def report(files: dict[str, FoundFile]) -> Callable[[ReadResult], None]:
            return lambda result: report_failure(result, files, failures, drives, pool)

        def read_embed_write(files: list[FoundFile]) -> None:
            paths = [f.path for f in files]
            if pool is not None:
                results = pool.read(paths, window=max(2 * batch_size, 4 * workers))
            elif decoder is not None:
                results = (read_for_model_device(path, decoder.recipe, thumbnail_dir) for path in paths)
            else:
                results = read_in_process(paths, embedder, thumbnail_dir)
            bar = tqdm(results, total=len(paths), unit="img", desc="indexing", leave=False, disable=_disabled(progress))
            try:
                by_path = {f.path: f for f in files}
                read = read_images(bar, report(by_path), summary)
                if decoder is not None:
                    read = decode_on_device(read, decoder, batch_size, read_here, report(by_path), summary)
                live = LiveClips((p for p in paths if keep is None or p not in keep.paths), current, store.get_vectors)
                embedded = embed_batches(read, embedder, batch_size, summary, keep, live)
                write_batches(store, embedded, indexed_before, summary, commit_seconds)
            finally:
                bar.close()

        try:
            read_embed_write(to_read)
            if copies:  # the originals' rows are written (and committed): the copies take them
                with summary.timing("reuse"):
                    left = take_originals_rows(store, copies, hashes, indexed_before, summary, failures, thumbnail_dir)
                if left:
                    read_embed_write(left)
        except KeyboardInterrupt as stop:
            # Ctrl-C: the batch in flight is dropped, every batch already written is kept, so
            # running the same command again resumes where this run stopped (copies not yet
            # written find their original's row then).
            summary.stopped_by = stop
            with summary.timing("write"):
                store.commit()
        finally:
            if pool is not None:
                pool.close()
            if decoder is not None:
                decoder.close()
    if thumbnail_dir and not summary.interrupted:  # re-embedded files' old versions (a failed one keeps its row)
        failed = failures.paths()
        outdated = [  # a thumbnail is named for its file's (path, size, mtime): a sidecar edit keeps it
            (f.path, *indexed[f.path][:2])
            for f in plan.changed
            if indexed[f.path][:2] != (f.size, f.mtime) and f.path not in failed
        ]
        remove_thumbnails(thumbnail_dir, outdated)
    summary.failed = failures.count
    summary.failed_before = failures.repeated
    if not summary.interrupted:  # after an interrupt, secondary indexes catch up on the next run
        with summary.timing("finish"):
            store.finish_indexing()
    summary.seconds = time.monotonic() - started
    log.debug(
        "time per stage: %s; reading files took %.2f s of CPU; %d JPEG(s) decoded where the model runs",
        ", ".join(f"{k} {v:.2f} s" for k, v in summary.stage_seconds.items()), summary.read_cpu_seconds,
        summary.decoded_on_device,
    )  # fmt: skip
    return summary
