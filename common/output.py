"""Print search results: a readable table for people, JSON / JSON Lines / CSV / paths for scripts.

Results always go to stdout and nothing else does, so ``--format paths | xargs ...`` is safe;
logs and progress go to stderr.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from common.camera_names import camera_name
from common.store import Hit
from common.visible import visible
from common.xmp import LIST_SEPARATOR

FORMATS = ("table", "json", "jsonl", "csv", "paths", "paths0")
# How each of the path formats ends a path: a line, or a NUL byte (``xargs -0``, ``while read -d
# ''``): the one separator no file name can hold, where a name with a newline breaks a line.
PATH_ENDS = {"paths": "\n", "paths0": "\0"}
# Columns a script usually wants; the full record is in json/jsonl. ``distance_km`` is filled by
# --near, ``companions`` (the RAW or Live Photo video shown with a hit, "; "-separated paths) by
# common.companions, ``alike`` (the near duplicates folded into a hit by --distinct) by common.distinct.
CSV_COLUMNS = (
    "query", "rank", "score", "distance_km", "path", "size_bytes", "width", "height", "date_taken", "make",
    "model", "gps_latitude", "gps_longitude", "city", "state", "country", "media_type", "duration", "rating",
    "title", "keywords", "people", "creator", "copyright", "companions", "alike",
)  # fmt: skip
HIDDEN_FROM_JSON = {"search_text"}

log = logging.getLogger(__name__)


def stream_encoding(stream: TextIO) -> str:
    """The encoding ``stream`` writes or reads in (UTF-8 where it names none: a test's buffer)."""
    return getattr(stream, "encoding", None) or "utf-8"


def encodes(encoding: str, text: str) -> bool:
    """Whether ``encoding`` has every character of ``text``."""
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def writes_any_text(stream: TextIO) -> bool:
    """Whether ``stream``'s encoding can write every character (a UTF one). Not so where Python
    writes a redirected stdout in the system's code page (Windows: cp1252, which has no emoji
    and no CJK, both common in phones' file names) or PYTHONIOENCODING says ascii."""
    return encodes(stream_encoding(stream), "\U0010ffff")


def json_for(out: TextIO, value: Any, indent: int | None = None) -> str:
    """``value`` as JSON to write to ``out``: characters as they are, or as JSON's own ``\\u``
    escapes where ``out`` cannot write them all (the same text once parsed; Python's
    ``\\x`` escapes of ``escape_what_streams_cannot_write`` would be invalid JSON)."""
    return json.dumps(value, ensure_ascii=not writes_any_text(out), indent=indent)


def escape_what_streams_cannot_write() -> None:
    """Let stdout and stderr write a character their encoding has not as a ``\\x``/``\\u``
    escape, where Python would stop the run with a UnicodeEncodeError at the first such file
    name (in a log line, a table, a CSV); JSON escapes them its own way (``write_results``)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not writes_any_text(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


@dataclass
class QueryResults:
    """The ranked hits for one query, with how it was searched."""

    query: str
    kind: str  # "image", "text", "combined" (--add/--subtract), "metadata", "color" or "filter"
    mode: str  # "vector", "fts", "hybrid" or "filter"
    hits: list[Hit]


def write_results(
    results: list[QueryResults],
    fmt: str,
    out: TextIO,
    one_line: bool = False,
    preview: Callable[[dict], str] | None = None,
) -> None:
    """``results`` in ``fmt``; ``one_line``: JSON as one line (an answer of a stream of queries,
    ``--search -``, which a program reads line by line; JSON Lines has no line for a query that
    found nothing); ``preview``: the text that shows a record's picture, written under its row
    of the table (``--preview``)."""
    if fmt == "json":
        _json(results, out, indent=None if one_line else 2)
    elif fmt == "jsonl":
        _jsonl(results, out)
    elif fmt == "table":
        _table(results, out, preview, terminal_columns(out))
    elif fmt in PATH_ENDS:
        _paths(results, out, PATH_ENDS[fmt])
    else:
        _csv(results, out)
    if fmt in (*PATH_ENDS, "csv") and not writes_any_text(out):
        _say_which_paths_were_escaped(results, out)
    say_which_paths_break_lines((hit.record["path"] for r in results for hit in r.hits), fmt)


def say_which_paths_break_lines(paths: Iterable[str], fmt: str) -> None:
    """With ``--format paths``, a file name holding a line break reads as two paths (``xargs``,
    ``while read``), naming two files that are not there, or worse, others that are: say so,
    once, and that ``paths0`` is the format for any name."""
    if fmt != "paths":
        return
    broken = [path for path in paths if "\n" in path or "\r" in path]
    if broken:
        log.warning(
            "%d path(s) hold a line break, such as %s: each reads as more than one line; --format paths0 ends "
            "each path with a NUL byte instead (xargs -0, read -d '')", len(broken), visible(broken[0]),
        )  # fmt: skip


def _say_which_paths_were_escaped(results: list[QueryResults], out: TextIO) -> None:
    """A path written with escapes names no file: say so, once, and how to have it as it is."""
    encoding = stream_encoding(out)
    escaped = [hit.record["path"] for r in results for hit in r.hits if not encodes(encoding, hit.record["path"])]
    if escaped:
        log.warning(
            "%d path(s) hold characters standard output's encoding (%s) cannot write, such as %s: they are "
            "written with \\x/\\u escapes; set PYTHONUTF8=1 to have them as they are (or use --format json)",
            len(escaped), encoding, escaped[0],
        )  # fmt: skip


def hit_to_dict(hit: Hit, rank: int) -> dict[str, Any]:
    row = {"rank": rank, "score": _finite(hit.score), **{k: _finite(v) for k, v in hit.extra.items()}}
    row.update({k: _finite(v) for k, v in hit.record.items() if k not in HIDDEN_FROM_JSON})
    return row


def _json(results: list[QueryResults], out: TextIO, indent: int | None = 2) -> None:
    payload = [
        {
            "query": r.query,
            "query_kind": r.kind,
            "search_mode": r.mode,
            "results": [hit_to_dict(h, i) for i, h in enumerate(r.hits, 1)],
        }
        for r in results
    ]
    out.write(json_for(out, payload, indent=indent) + "\n")


def _jsonl(results: list[QueryResults], out: TextIO) -> None:
    for r in results:
        for i, hit in enumerate(r.hits, 1):
            row = {"query": r.query, "query_kind": r.kind, "search_mode": r.mode, **hit_to_dict(hit, i)}
            out.write(json_for(out, row) + "\n")


def _csv(results: list[QueryResults], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in results:
        for i, hit in enumerate(r.hits, 1):
            row = {"query": r.query, **hit_to_dict(hit, i)}
            writer.writerow({k: LIST_SEPARATOR.join(v) if isinstance(v, list) else v for k, v in row.items()})


def _paths(results: list[QueryResults], out: TextIO, end: str = "\n") -> None:
    for r in results:
        for hit in r.hits:
            out.write(hit.record["path"] + end)


def _table(
    results: list[QueryResults],
    out: TextIO,
    preview: Callable[[dict], str] | None = None,
    columns: int | None = None,
) -> None:
    """The results as a table for people; ``columns``: the terminal's width, which the table is
    fitted to by leaving out its less telling columns (``FITTED_AWAY``), never the paths."""
    for number, r in enumerate(results):
        if number:
            out.write("\n")
        how = r.kind if r.kind == r.mode else f"{r.kind}, {r.mode}"
        out.write(f"{visible(r.query)}  ({how}, {len(r.hits)} result{'s' if len(r.hits) != 1 else ''})\n")
        if not r.hits:
            out.write("  no matches\n")
            continue
        header = (
            "#", "score", "path", "size", "W×H", "taken", "camera", "place", "rating", "km", "video", "also", "alike",
        )  # fmt: skip
        rows = [header] + [
            (
                str(i),
                "" if hit.score is None or math.isnan(hit.score) else f"{hit.score:.4f}",
                hit.record["path"],
                human_size(hit.record.get("size_bytes")),
                dimensions(hit.record),
                taken(hit.record),
                camera_name(hit.record),
                place_name(hit.record),
                rating_shown(hit.record),
                distance(hit.extra.get("distance_km")),
                video_summary(hit.record),
                ", ".join(os.path.basename(path) for path in hit.extra.get("companions", ())),
                f"+{len(hit.extra['alike'])}" if hit.extra.get("alike") else "",
            )
            for i, hit in enumerate(r.hits, 1)
        ]
        # A file's name or a camera's, written out where they hold control characters (common.visible),
        # and measured so for the columns' widths.
        rows = [tuple(map(visible, row)) for row in rows]
        # A column none of these results has a value in is left out; "also" names a hit's companions,
        # "alike" counts the near duplicates --distinct folded into it.
        for optional in ("alike", "also", "video", "km", "rating", "place"):
            if not any(row[rows[0].index(optional)] for row in rows[1:]):
                rows = _without_column(rows, optional)
        widths = [max(shown_width(row[c]) for row in rows) for c in range(len(rows[0]))]
        for optional in FITTED_AWAY:  # a line wider than the terminal wraps: every row on two lines
            if columns is None or 2 + sum(widths) + 2 * (len(widths) - 1) <= columns:
                break
            if optional in rows[0]:
                del widths[rows[0].index(optional)]
                rows = _without_column(rows, optional)
        right = {0, 1} | {rows[0].index(c) for c in ("size", "km", "alike") if c in rows[0]}
        for row, hit in zip(rows, [None, *r.hits], strict=True):
            cells = [
                _padded(cell, w, c in right) for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ]  # fmt: skip
            out.write("  " + "  ".join(cells).rstrip() + "\n")
            if preview is not None and hit is not None:
                out.write(preview(hit.record))


# The table's columns left out, in this order, where its lines would be wider than the terminal:
# the path, the rank and the score stay.
FITTED_AWAY = ("also", "camera", "rating", "W×H", "size", "video", "taken", "place", "alike", "km")


def _without_column(rows: list[tuple[str, ...]], name: str) -> list[tuple[str, ...]]:
    column = rows[0].index(name)
    return [row[:column] + row[column + 1 :] for row in rows]


def _padded(cell: str, width: int, right: bool) -> str:
    padding = " " * (width - shown_width(cell))
    return padding + cell if right else cell + padding


def shown_width(text: str) -> int:
    """How many columns of a terminal ``text`` takes: two for each of a Chinese, Japanese or
    Korean character (旅行/写真.jpg is 12 wide, not 9), none for a combining accent (wcwidth)."""
    from wcwidth import wcswidth

    width = wcswidth(text)
    return len(text) if width < 0 else width  # < 0: a control character (common.visible writes them out)


def terminal_columns(out: TextIO) -> int | None:
    """The width of the terminal ``out`` writes to; None where it writes to a file or a pipe,
    which keeps every column."""
    if not (hasattr(out, "isatty") and out.isatty()):
        return None
    import shutil

    return shutil.get_terminal_size().columns


def place_name(record: dict[str, Any]) -> str:
    """'Arezzo, Italy': where the picture was taken, city and country ('' when unknown)."""
    return ", ".join(p for p in (record.get("city"), record.get("country")) if p)


def rating_shown(record: dict[str, Any]) -> str:
    """A photo's stars (``stars``), and a heart when it was starred in Google Photos (its
    ``favorite``): '★★★★ ♥', '♥', '' for neither."""
    return " ".join(part for part in (stars(record.get("rating")), "♥" if record.get("favorite") else "") if part)


def stars(rating: int | None) -> str:
    """'★★★★' for a 4-star photo (its XMP rating), 'rejected' for -1, '' unrated."""
    if rating is None or rating == 0:
        return ""
    return "rejected" if rating < 0 else "★" * rating


def distance(km: float | None) -> str:
    """'3.0' km from a --near place, '' without one (or without a position)."""
    if km is None or not math.isfinite(km):
        return ""
    return f"{km:.1f}" if km < 100 else f"{km:,.0f}"


def dimensions(record: dict[str, Any]) -> str:
    return f"{record.get('width')}×{record.get('height')}"


def taken(record: dict[str, Any]) -> str:
    """When the picture was taken, to the second, as people write it ('' when unknown)."""
    return (record.get("date_taken") or "")[:19].replace("T", " ")


def video_summary(record: dict[str, Any]) -> str:
    """'12.5 s, 30 fps, h264' for a video's row; empty for a picture."""
    if record.get("media_type") != "video":
        return ""
    parts = []
    if record.get("duration") is not None:
        parts.append(f"{record['duration']:.1f} s")
    if record.get("fps"):
        parts.append(f"{record['fps']:g} fps")
    if record.get("codec"):
        parts.append(record["codec"])
    return ", ".join(parts) or "video"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
