"""``--stats``: what an index holds, at a glance (with ``--where``, what the matching rows hold).

Once a library is indexed it is a folder of opaque files, and the questions people then ask are
about the whole of it: did my phone's HEICs get in, which years are there, how many photos have
a position and from which countries, which folders are the big ones, how many files failed.
The counts come from a few typed record columns (``ImageStore.get_columns``), never from the
vectors or whole records, so a 100k-row index answers in a fraction of a second.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from common.camera_names import camera_name
from common.failures import FAILURES_FILE, read_failures
from common.output import human_size, json_for, place_name, stars
from common.records import RECORD_VERSION
from common.store import ImageStore
from common.thumbnails import THUMBNAIL_DIR
from common.visible import visible
from common.xmp import LIST_SEPARATOR

# The columns the overview counts.
OVERVIEW_COLUMNS = [
    "path", "folder", "size_bytes", "media_type", "format", "date_taken", "make", "model", "lens",
    "gps_latitude", "city", "state", "country", "indexed_at", "rating", "keywords", "people", "location",
    "creator", "copyright", "favorite",
]  # fmt: skip
# Entries the table lists of each kind but years (all listed); the other formats give every one.
TABLE_TOP = 10


@dataclass
class Tally:
    """The files of one kind counted by value (a year, a camera, a country, …)."""

    name: str  # "years", "cameras", …: the key in JSON and the first CSV column
    counts: list[tuple[str, int]]  # value and files, in the order they are listed
    without: int  # files with no value (undated, no camera recorded, no place)
    without_label: str  # what those files are, in words ("undated")
    chronological: bool = False  # listed in value order, every one (years), not the commonest first

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "without": self.without}


@dataclass
class Overview:
    """Counts of what an index holds, and of the files it could not read."""

    db_path: str
    backend: str
    model: str
    where: str | None
    total: int  # rows in the whole index
    files: int  # rows counted (those matching ``where``)
    images: int
    videos: int
    size_bytes: int
    first_taken: str | None
    last_taken: str | None
    # Rows dated two days ahead or more (a camera whose clock was never set, or set a century ahead):
    # they head every "newest first" listing. ``future_from`` is the date they are after.
    dated_in_future: int
    future_from: str
    with_position: int
    favorites: int  # starred in Google Photos (a Takeout JSON's ``favorited``)
    last_indexed: float | None
    older_rows: int  # rows an older imagedb described: the next --index brings them up to date
    failed: int | None  # files the failures report lists (unreadable, skipped); None with ``where``
    index_bytes: int
    thumbnail_bytes: int
    tallies: list[Tally] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "db": self.db_path, "backend": self.backend, "model": self.model, "where": self.where,
            "total": self.total, "files": self.files, "images": self.images, "videos": self.videos,
            "size_bytes": self.size_bytes, "first_taken": self.first_taken, "last_taken": self.last_taken,
            "dated_in_future": self.dated_in_future,
            "with_position": self.with_position, "favorites": self.favorites, "last_indexed": self.last_indexed,
            "older_rows": self.older_rows, "failed": self.failed,
            "index_bytes": self.index_bytes, "thumbnail_bytes": self.thumbnail_bytes,
            **{tally.name: tally.to_json() for tally in self.tallies},
        }  # fmt: skip

    def counted(self) -> Iterator[tuple[str, str, int]]:
        """(kind, value, files) for every count: the rows of ``csv`` and ``jsonl``. Files with no
        value of a kind count under an empty value."""
        yield "files", "", self.files
        for tally in self.tallies:
            yield from ((tally.name, value, files) for value, files in tally.counts)
            if tally.without:
                yield tally.name, "", tally.without

    def write(self, fmt: str, out: TextIO) -> None:
        """Print in the search results' formats (common.output.FORMATS) but ``paths``, which lists
        files and has none to list: ``json`` the whole overview, ``jsonl`` and ``csv`` a count a
        line (kind, value, files), ``table`` the report people read."""
        if fmt == "json":
            out.write(json_for(out, self.to_json(), indent=2) + "\n")
        elif fmt == "jsonl":
            out.writelines(
                json_for(out, {"kind": kind, "value": value, "files": files}) + "\n"
                for kind, value, files in self.counted()
            )
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["kind", "value", "files"])
            writer.writerows(self.counted())
        else:
            out.write("\n".join(map(visible, self.lines())) + "\n")  # folder names, tags: common.visible

    def lines(self) -> list[str]:
        scope = f"{self.files:,} of {self.total:,} files match {self.where}" if self.where else f"{self.files:,} files"
        kinds = f" ({self.images:,} images, {self.videos:,} video{'s' * (self.videos != 1)})" if self.videos else ""
        out = [
            f"{self.db_path} ({self.backend}): {scope}{kinds}, {human_size(self.size_bytes)}",
            f"  model         {self.model}",
            f"  on disk       {human_size(self.index_bytes)} index, {human_size(self.thumbnail_bytes)} thumbnails",
        ]
        if self.first_taken:
            first, last = self.first_taken[:10], (self.last_taken or "")[:10]
            out.append(f"  taken         {first}" + (f" to {last}" if last != first else ""))
        if self.dated_in_future:
            out.append(
                f"  future dates  {self.dated_in_future:,} (a camera clock set wrong?): "
                f"--where \"date_taken > '{self.future_from}'\" lists them"
            )
        out.append(f"  positions     {self.with_position:,} with GPS")
        if self.favorites:
            out.append(f"  favorites     {self.favorites:,} starred in Google Photos: --where favorite lists them")
        if self.last_indexed is not None:
            out.append(f"  last indexed  {datetime.fromtimestamp(self.last_indexed).strftime('%Y-%m-%d %H:%M')}")
        if self.older_rows:
            out.append(
                f"  older rows    {self.older_rows:,} described by an older imagedb: the next --index of "
                "their folders brings them up to date"
            )
        if self.failed:
            out.append(
                f"  failed        {self.failed:,} file(s) could not be read ({FAILURES_FILE}; --index --retry-failed "
                "tries them again)"
            )
        after_a_list = True
        for tally in self.tallies:  # a blank line around each list; the 'none' lines stay together
            lines = tally_lines(tally)
            if len(lines) > 1 or after_a_list:
                out.append("")
            out += lines
            after_a_list = len(lines) > 1
        return out


def tally_lines(tally: Tally) -> list[str]:
    """A heading and one line a value, files right-aligned; past ``TABLE_TOP`` one line for the
    rest. A kind no file has a value of is one line ('cameras: none')."""
    if not tally.counts:
        return [f"{tally.name}: none"]
    shown = tally.counts if tally.chronological else tally.counts[:TABLE_TOP]
    rest = tally.counts[len(shown) :]
    rows = [(f"{files:,}", value) for value, files in shown]
    if rest:
        rows.append((f"{sum(files for _, files in rest):,}", f"… {len(rest):,} more {tally.name}"))
    if tally.without:
        rows.append((f"{tally.without:,}", f"({tally.without_label})"))
    width = max((len(files) for files, _ in rows), default=0)
    return [tally.name] + [f"  {files.rjust(width)}  {value}" for files, value in rows]


def overview_of(store: ImageStore, db_path: str, where: str | None = None, label: str | None = None) -> Overview:
    """Count what ``store`` holds (the rows matching ``where``, named ``label`` when it is not
    the SQL the user wrote: ``--near``) and what its folder holds.

    Counted with Arrow over the columns, and by groups of equal values: Python sees one row per
    distinct camera or place, not one per file (100k rows: ~0.1 s).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = store.get_columns(OVERVIEW_COLUMNS, where)
    columns = columns.append_column("year", pc.utf8_slice_codeunits(columns.column("date_taken"), 0, 4))
    dates = pc.min_max(columns.column("date_taken")).as_py() if columns.num_rows else {"min": None, "max": None}
    # Local dates, as cameras write them: two days' margin for the time zones between (26 h apart at most).
    future_from = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%d")
    older = store.get_record_versions_before(RECORD_VERSION)
    videos = pc.sum(pc.equal(columns.column("media_type"), "video")).as_py() or 0
    return Overview(
        db_path=db_path,
        backend=store.backend,
        model=store.info.model.describe(),
        where=label or where,
        total=store.count(),
        files=columns.num_rows,
        images=columns.num_rows - videos,
        videos=videos,
        size_bytes=pc.sum(columns.column("size_bytes")).as_py() or 0,
        first_taken=dates["min"],
        last_taken=dates["max"],
        dated_in_future=pc.sum(pc.greater(columns.column("date_taken"), future_from)).as_py() or 0,
        future_from=future_from,
        with_position=columns.num_rows - columns.column("gps_latitude").null_count,
        favorites=pc.sum(pc.fill_null(columns.column("favorite"), False)).as_py() or 0,
        last_indexed=pc.max(columns.column("indexed_at")).as_py() if columns.num_rows else None,
        older_rows=pc.sum(pc.is_in(columns.column("path"), value_set=pa.array(list(older), pa.string()))).as_py() or 0,
        failed=None if where else len({entry["path"] for entry in read_failures(os.path.join(db_path, FAILURES_FILE))}),
        index_bytes=folder_bytes(db_path, leave_out=THUMBNAIL_DIR),
        thumbnail_bytes=folder_bytes(os.path.join(db_path, THUMBNAIL_DIR)),
        tallies=[
            tally(columns, "years", ["year"], lambda g: g["year"] or "", "undated", chronological=True),
            tally(columns, "cameras", ["make", "model"], camera_name, "no camera recorded"),
            tally(columns, "lenses", ["lens"], lambda g: g["lens"] or "", "no lens recorded"),
            tally(columns, "countries", ["country"], lambda g: g["country"] or "", "no place"),
            # The names --where "state = '…'" takes (and --text too, with their other names: Toskana).
            tally(columns, "regions", ["state", "country"], region_name, "no region"),
            tally(columns, "cities", ["city", "country"], lambda g: place_name(g) if g["city"] else "", "no city"),
            tally(columns, "formats", ["format"], lambda g: g["format"] or "", "unknown format"),
            tally(columns, "folders", ["folder"], lambda g: g["folder"] or "", "no folder"),
            tally(columns, "ratings", ["rating"], rating_name, "unrated", chronological=True),
            tally_of_lists(columns, "keywords", "keywords", "no keyword"),
            tally_of_lists(columns, "people", "people", "nobody named"),
            tally(columns, "locations", ["location"], lambda g: g["location"] or "", "no location written"),
            tally_of_lists(columns, "creators", "creator", "no creator named"),
            # A notice is counted whole: "Photographer; Editor" is one photo's two names for its rights.
            tally(columns, "copyrights", ["copyright"], lambda g: g["copyright"] or "", "no copyright notice"),
        ],
    )


def region_name(group: dict[str, Any]) -> str:
    """'Tuscany, Italy'; '' for a row the index places in no region."""
    return ", ".join(part for part in (group["state"], group["country"]) if part) if group["state"] else ""


def rating_name(group: dict[str, Any]) -> str:
    """'★★★' for a 3-star rating, 'rejected' for -1, '' unrated (none, or 0)."""
    return stars(group["rating"])


def tally_of_lists(columns: Any, name: str, column: str, without: str) -> Tally:
    """Count the rows of ``columns`` by each of the values their ``column`` lists (XMP keywords,
    people: joined by ``LIST_SEPARATOR``), a row once per value it lists; the commonest first."""
    import pyarrow.compute as pc

    values = columns.column(column)
    counts = pc.value_counts(pc.list_flatten(pc.split_pattern(values.drop_null(), LIST_SEPARATOR))).to_pylist()
    listed = ((c["values"], c["counts"]) for c in counts if c["values"])
    ordered = sorted(listed, key=lambda item: (-item[1], item[0].casefold(), item[0]))
    return Tally(name, ordered, values.null_count, without)


def tally(
    columns: Any,
    name: str,
    keys: list[str],
    value_of: Callable[[dict[str, Any]], str],
    without: str,
    chronological: bool = False,
) -> Tally:
    """Count the rows of ``columns`` (an Arrow table) by ``value_of`` their ``keys`` (an empty
    value: the row has none), a group of equal keys at a time: the commonest first, equal
    counts by value, or in value order when ``chronological``. Groups that read alike (two
    spellings of one camera) count together."""
    counts: Counter[str] = Counter()
    for group in columns.group_by(keys).aggregate([("path", "count")]).to_pylist():
        counts[value_of(group)] += group["path_count"]
    missing = counts.pop("", 0)
    ordered = sorted(counts.items()) if chronological else sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Tally(name, ordered, missing, without, chronological)


def folder_bytes(path: str, leave_out: str | None = None) -> int:
    """Bytes of the files under ``path`` (but its subfolder ``leave_out``); files vanishing meanwhile count nothing."""
    total = 0
    for folder, subfolders, files in os.walk(path):
        if leave_out and folder == path and leave_out in subfolders:
            subfolders.remove(leave_out)
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total
