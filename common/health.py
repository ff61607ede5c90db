"""``--check`` and ``--repair``: is an index whole, and put it right from what is on disk.

The checks are the ones that matter after a crash, a full disk or a hand-edited folder: as
many vectors as metadata rows, one row per path, every vector finite and unit length (search
scores are dot products), the model recorded, every indexed file still present, and each row
holding what this version makes of its own fields (rows indexed by an older version lack what
it has gained since: file-name parts in the search text, the place of a GPS position).

Repair keeps every row that is sound and rebuilds around it: a backend first salvages what its
files still hold (``ImageStore.salvage``), then duplicate paths keep one row, vectors that are
not unit length are renormalised, rows without a usable vector are dropped (their files are
re-embedded by the caller), rows of deleted files are removed unless their folder looks like a
drive not mounted (missing, empty or unreadable, as common.discovery.split_vanished tells: those
rows are only reported), rows an older version wrote are brought up to date from their own
record (``common.refresh``: no file is read, nothing re-embedded), rows whose colour signature
was lost get one from their thumbnail (``common.colors_remade``), and secondary indexes are
rebuilt.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from common.colors_remade import remake_lost_colors
from common.discovery import OutOfReach, is_under_root, split_vanished
from common.output import PATH_ENDS, json_for, say_which_paths_break_lines
from common.refresh import bring_up_to_date, outdated_paths
from common.still_there import look_for_files
from common.store import ImageStore
from common.thumbnails import THUMBNAIL_DIR, ThumbnailCensus, remove_stray_thumbnails, take_thumbnail_census
from common.visible import visible

NORM_TOLERANCE = 1e-3
AUDIT_ROWS = 8192  # vectors measured at a time (a few MB of temporaries)


@dataclass
class HealthReport:
    """What ``--check`` found; healthy when there are no problems."""

    images: int
    model: str
    problems: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    # What is worth knowing and is no problem: files without a thumbnail (their pictures are
    # decoded where they are shown).
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "healthy": self.healthy, "images": self.images, "model": self.model,
            "problems": self.problems, "stale": self.stale, "notes": self.notes,
        }  # fmt: skip

    def write(self, fmt: str, out: TextIO) -> None:
        """Print in any of the search results' formats (common.output.FORMATS): ``jsonl`` is the
        report on one line, ``csv`` a row per problem and per file no longer there, ``paths``
        those files alone, one a line, for scripts (``--check --format paths | xargs ...``)."""
        if fmt == "json":
            out.write(json_for(out, self.to_json(), indent=2) + "\n")
        elif fmt == "jsonl":
            out.write(json_for(out, self.to_json()) + "\n")
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["kind", "detail"])
            if self.healthy:
                writer.writerow(["healthy", f"{self.images} images, model {self.model}"])
            writer.writerows(["problem", problem] for problem in self.problems)
            writer.writerows(["stale", path] for path in self.stale)
            writer.writerows(["note", note] for note in self.notes)
        elif fmt in PATH_ENDS:
            out.writelines(path + PATH_ENDS[fmt] for path in self.stale)
            say_which_paths_break_lines(self.stale, fmt)
        else:
            out.write("\n".join(self.lines()) + "\n")

    def lines(self) -> list[str]:
        notes = [f"note: {visible(note)}" for note in self.notes]
        if self.healthy:
            return [f"healthy: {self.images} images, model {self.model}", *notes]
        return [f"problem: {visible(problem)}" for problem in self.problems] + notes


@dataclass
class VectorAudit:
    """Rows sorted by what is wrong with their vector or path."""

    duplicates: list[str]
    unusable: list[str]  # non-finite or zero vectors: only re-embedding helps
    off_unit: list[str]  # finite but not unit length: renormalising fixes them
    stale: list[str]
    # Rows whose files were not looked for: their drive did not answer (``common.still_there``).
    unlooked: list[OutOfReach] = field(default_factory=list)


def audit_vectors(paths: list[str], vectors: np.ndarray, patience: float | None = None) -> VectorAudit:
    """What is wrong with each row's vector or path; whether a file is there is asked of its
    drive for ``patience`` seconds at most (``common.still_there``)."""
    finite, norms = row_norms(vectors)
    usable = finite & (norms > 0)
    stale, unlooked = look_for_files(paths, patience)
    return VectorAudit(
        duplicates=sorted(p for p, n in Counter(paths).items() if n > 1),
        unusable=sorted({p for p, ok in zip(paths, usable, strict=True) if not ok}),
        off_unit=sorted(
            {p for p, ok, n in zip(paths, usable, norms, strict=True) if ok and abs(n - 1) > NORM_TOLERANCE}
        ),
        stale=stale,
        unlooked=unlooked,
    )


def row_norms(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row is finite, and its length (0 where it is not), ``AUDIT_ROWS`` rows at a
    time: whole-matrix temporaries (the finite rows' copy, their squares) had added 400 MB to
    a check of 100k vectors that take 200."""
    finite = np.zeros(len(vectors), dtype=bool)
    norms = np.zeros(len(vectors))
    for start in range(0, len(vectors), AUDIT_ROWS):
        block = vectors[start : start + AUDIT_ROWS]
        ok = finite[start : start + len(block)] = np.isfinite(block).all(axis=1)
        norms[start : start + len(block)][ok] = np.linalg.norm(block[ok], axis=1)
    return finite, norms


def check_store(store: ImageStore, patience: float | None = None) -> HealthReport:
    """Every problem ``store`` has, in words (nothing is changed), and which of its files have
    no thumbnail. A drive that does not answer in ``patience`` seconds is not waited on: its
    files are not looked for, and a note says so."""
    report = HealthReport(images=store.count(), model=store.info.model.describe())
    census = thumbnail_census(store)
    lacking = census.lacking
    if lacking and len(lacking) < report.images:
        report.notes.append(
            f"{len(lacking)} of {report.images} files have no thumbnail (--html and --preview decode them "
            f"instead): --repair makes them: {_examples(lacking)}"
        )
    elif lacking:
        report.notes.append(
            "no file has a thumbnail (indexed with --no-thumbnails, or the thumbnails folder was deleted): "
            "--html and --preview decode the files instead; --repair --thumbnails makes them"
        )
    if census.strays:
        report.notes.append(
            f"{len(census.strays)} file(s) in the thumbnails folder are no indexed file's thumbnail (left by a run "
            "stopped before its commit, or made by one running now): --repair removes them"
        )
    report.problems.extend(store.integrity_problems())
    paths, vectors = store.get_all_vectors()
    if len(paths) != report.images:
        report.problems.append(f"{report.images} metadata rows but {len(paths)} vectors")
    if vectors.shape[1] != store.info.dim:
        report.problems.append(f"vectors are {vectors.shape[1]}-d but the index records {store.info.dim}-d")
        return report
    audit = audit_vectors(paths, vectors, patience)
    for paths_with, what in (
        (audit.duplicates, "path(s) indexed more than once"),
        (audit.unusable, "row(s) with a non-finite or zero vector"),
        (audit.off_unit, "vector(s) not of unit length"),
        (audit.stale, "indexed file(s) no longer exist"),
    ):
        if paths_with:
            report.problems.append(f"{len(paths_with)} {what}: {_examples(paths_with)}")
    outdated = outdated_paths(store, versions_count=False)
    if outdated:
        report.problems.append(
            f"{len(outdated)} row(s) lacking what this version records (search text, places): "
            f"--repair or --index brings them up to date from what they hold, nothing re-embedded: "
            f"{_examples(outdated)}"
        )
    report.stale = audit.stale
    report.notes += [
        f"{len(held.paths)} indexed file(s) under {held.folder} were not looked for: {held.reason()}"
        for held in audit.unlooked
    ]
    return report


@dataclass
class RepairResult:
    actions: list[str] = field(default_factory=list)
    to_reembed: list[str] = field(default_factory=list)  # present files whose rows were dropped
    left_alone: list[OutOfReach] = field(default_factory=list)  # stale rows whose folder may be unmounted


def repair_store(
    store: ImageStore,
    actions: list[str],
    dropped: list[str],
    time_limit: float | None,
    make_thumbnails: Callable[[list[str]], list[str]] | None = None,
) -> RepairResult:
    """Make ``store`` pass ``check_store`` again, keeping every sound row (see the module docstring).

    ``actions`` and ``dropped`` are what the backend's salvage already did and dropped; rows whose
    colour signatures it lost get them again from their thumbnails (``common.colors_remade``),
    their files decoded where they have none, each given up on after ``time_limit`` seconds.
    ``make_thumbnails`` makes those wanted of the missing thumbnails it is given, and says so:
    called before the colours are counted, so that a file that lost both is decoded once. Files
    of the thumbnails folder that are no row's are removed once the rows are committed.
    """
    result = RepairResult(actions=list(actions))
    paths, vectors = store.get_all_vectors()
    audit = audit_vectors(paths, vectors, time_limit or None)
    outdated = outdated_paths(store)

    keep_once = [p for p in audit.duplicates if p not in audit.unusable]
    rewrite = sorted(set(keep_once) | set(audit.off_unit))
    records = store.get_records_by_path(rewrite)  # one per path
    colors = store.get_colors(rewrite)  # read before any row is deleted
    if audit.duplicates or audit.unusable:
        store.delete_images(sorted(set(audit.duplicates) | set(audit.unusable)))
    if rewrite:
        first = {p: i for i, p in reversed(list(enumerate(paths)))}
        fixed = vectors[[first[p] for p in rewrite]].astype(np.float32)
        fixed /= np.linalg.norm(fixed, axis=1, keepdims=True)
        store.upsert_images([records[p] for p in rewrite], fixed, np.stack([colors[p] for p in rewrite]))
    if audit.duplicates:
        result.actions.append(f"kept one row for each of {len(audit.duplicates)} path(s) indexed more than once")
    if audit.off_unit:
        result.actions.append(f"renormalised {len(audit.off_unit)} vector(s) to unit length")
    if audit.unusable:
        result.actions.append(f"dropped {len(audit.unusable)} row(s) without a usable vector")
    unlooked = [held.folder for held in audit.unlooked]  # their drives are not asked again
    result.to_reembed = sorted(
        p for p in set(dropped) | set(audit.unusable)
        if not any(is_under_root(p, folder) for folder in unlooked) and os.path.exists(p)
    )  # fmt: skip

    removable, result.left_alone = split_vanished(audit.stale, roots=[])
    result.left_alone += audit.unlooked
    if removable:
        store.delete_images(removable)
        result.actions.append(f"removed {len(removable)} row(s) of deleted files")
    refreshed = bring_up_to_date(store, outdated)  # the rows deleted above are not found
    if refreshed:
        result.actions.append(f"brought {refreshed} row(s) an older version wrote up to date from what they hold")
    # One listing of the folder, once this repair's rows are the ones it commits: which files lack
    # a thumbnail, and which thumbnails are no row's (those of the rows just removed included).
    census = thumbnail_census(store)
    if make_thumbnails is not None:
        result.actions += make_thumbnails(census.lacking)
    colored, unread = remake_lost_colors(store, thumbnails_of(store), time_limit)
    if colored:
        result.actions.append(
            f"made the colour signatures of {colored} file(s) again, from their thumbnails (else the files; nothing embedded)"
        )
    if unread:
        result.actions.append(
            f"{len(unread)} file(s) could not be read for their colours (colour searches score them 0 until "
            f"--index --force reads them): {_examples(unread)}"
        )
    store.commit()
    store.rebuild_indexes()
    result.actions.append("rebuilt the secondary indexes")
    # Under the indexing lock no run is making thumbnails of rows not committed yet: a file no
    # row claims is left over (the thumbnails made above are rows').
    removed = remove_stray_thumbnails(thumbnails_of(store), census.strays)
    if removed:
        result.actions.append(f"removed {removed} file(s) of the thumbnails folder that were no indexed file's")
    return result


def thumbnail_census(store: ImageStore) -> ThumbnailCensus:
    """Which indexed files have no thumbnail (as they were when indexed), and which files of
    the thumbnails folder belong to no row."""
    return take_thumbnail_census(thumbnails_of(store), store.get_signatures())


def thumbnails_of(store: ImageStore) -> str:
    """The folder of ``store``'s thumbnails, in its own."""
    return os.path.join(store.db_path, THUMBNAIL_DIR)


def _examples(paths: list[str], shown: int = 3) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more
