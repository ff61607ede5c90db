"""``--html results.html``: the search results as one self-contained page.

Thumbnails are embedded as data URIs, so the page can be mailed, archived or opened offline;
each query gets its own section with every hit's picture, rank, score, path and key metadata
(with, as in the table, its rating, its distance from a --near place and the companions shown
with it; and its creator and copyright notice, as the page may be passed on).
A hit whose thumbnail is missing (``--no-thumbnails``, or unwritable then) shows its file decoded
at a thumbnail's size (``picture_of_file``), and a placeholder rather than a broken image where
that cannot be read either.
"""

from __future__ import annotations

import base64
import functools
import html
import math
import os
from collections.abc import Callable
from datetime import datetime

from common.atomic import write_atomically
from common.camera_names import camera_name
from common.output import (
    QueryResults,
    dimensions,
    distance,
    human_size,
    place_name,
    rating_shown,
    taken,
    video_summary,
)
from common.thumbnails import StandIn, find_thumbnail, jpeg_of, picture_of_file
from common.visible import visible

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; background: #fafafa; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } .generated { color: #777; margin-bottom: 24px; }
section { margin-bottom: 40px; } h2 { font-size: 17px; border-bottom: 1px solid #ddd; padding-bottom: 6px; }
h2 .how { color: #777; font-weight: normal; font-size: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; overflow: hidden; }
figure img, figure .missing { display: block; width: 100%; height: 200px; object-fit: contain; background: #eee; }
figure .missing { line-height: 200px; text-align: center; color: #999; }
figcaption { padding: 8px 10px; } .rank { font-weight: 600; } .score { float: right; font-variant-numeric: tabular-nums; }
.path { word-break: break-all; font-size: 12px; color: #333; margin: 4px 0; } .meta { font-size: 12px; color: #666; }
.none { color: #777; font-style: italic; }
"""


def write_gallery(
    results: list[QueryResults],
    path: str,
    thumbnail_dir: str,
    title: str = "imagedb results",
    noun: str = "result",
    stand_in: StandIn = picture_of_file,
) -> None:
    """Write the page for ``results`` to ``path`` (atomically); ``title`` heads it, and each
    section counts its pictures as ``noun``s ('result', or 'file' for a group of duplicates).
    ``stand_in`` is the picture of a file the index holds no thumbnail of."""
    page = render_gallery(results, thumbnail_dir, title, noun, stand_in)

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(page)

    write_atomically(path, write)


def render_gallery(
    results: list[QueryResults],
    thumbnail_dir: str,
    title: str = "imagedb results",
    noun: str = "result",
    stand_in: StandIn = picture_of_file,
) -> str:
    pictures = functools.partial(_thumbnail_uri, thumbnail_dir, stand_in=stand_in)
    sections = "\n".join(_section(number, r, pictures, noun) for number, r in enumerate(results, 1))
    generated = datetime.now().isoformat(timespec="seconds")
    counted = (
        f"{len(results)} quer{'y' if len(results) == 1 else 'ies'}"
        if noun == "result"
        else f"{len(results)} group{'' if len(results) == 1 else 's'}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_shown(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{_shown(title)}</h1><div class="generated">{counted}, '
        f"generated {generated}</div>\n{sections}\n</body></html>\n"
    )


def _section(number: int, results: QueryResults, pictures: Callable[[dict], str | None], noun: str) -> str:
    how = results.kind if results.kind == results.mode else f"{results.kind}, {results.mode}"
    cards = "\n".join(_card(rank, hit, pictures) for rank, hit in enumerate(results.hits, 1))
    body = f'<div class="grid">{cards}</div>' if results.hits else '<p class="none">no matches</p>'
    counted = f"{len(results.hits)} {noun}{'' if len(results.hits) == 1 else 's'}"
    return (
        f'<section id="query-{number}"><h2>{_shown(results.query)} '
        f'<span class="how">({html.escape(how)}, {counted})</span></h2>{body}</section>'
    )


def _card(rank: int, hit, pictures: Callable[[dict], str | None]) -> str:
    record = hit.record
    picture = pictures(record)
    image = (
        f'<img src="{picture}" alt="{_shown(record.get("filename") or "")}">'
        if picture
        else '<div class="missing">no thumbnail</div>'
    )
    score = "" if hit.score is None or math.isnan(hit.score) else f"{hit.score:.4f}"
    facts = [
        dimensions(record),
        human_size(record.get("size_bytes")),
        taken(record),
        camera_name(record),
        place_name(record),
        video_summary(record),
        rating_shown(record),
        # Who made it and whose rights it is, as written: a page of results is often passed on.
        f"by {record['creator']}" if record.get("creator") else "",
        record.get("copyright") or "",
    ]
    if record.get("gps_latitude") is not None and record.get("gps_longitude") is not None:
        facts.append(f"GPS {record['gps_latitude']:.5f}, {record['gps_longitude']:.5f}")
    if away := distance(hit.extra.get("distance_km")):
        facts.append(f"{away} km away")
    if companions := hit.extra.get("companions"):
        facts.append("also " + ", ".join(os.path.basename(path) for path in companions))
    if alike := hit.extra.get("alike"):
        facts.append(f"{len(alike)} alike: " + ", ".join(os.path.basename(path) for path in alike))
    meta = " · ".join(_shown(f) for f in facts if f)
    path = _shown(record["path"])
    return (
        f'<figure>{image}<figcaption><span class="rank">#{rank}</span><span class="score">{score}</span>'
        f'<div class="path" title="{path}">{path}</div><div class="meta">{meta}</div></figcaption></figure>'
    )


def _shown(text: str) -> str:
    """``text`` from a file or its tags as the page shows it: control characters and the
    bidirectional overrides written out (``common.visible``: 'holiday\\u202egnp.exe' showed as
    'holidayexe.png' here too), then escaped for HTML."""
    return html.escape(visible(text))


def _thumbnail_uri(thumbnail_dir: str, record: dict, stand_in: StandIn) -> str | None:
    try:
        found = find_thumbnail(thumbnail_dir, record)
        if found is None:
            return _stand_in_uri(record, stand_in)
        path, mime = found
        with open(path, "rb") as handle:
            return f"data:{mime};base64," + base64.b64encode(handle.read()).decode("ascii")
    except (OSError, KeyError, TypeError):
        return None


def _stand_in_uri(record: dict, stand_in: StandIn) -> str | None:
    """The file itself, decoded at a thumbnail's size, where the index holds no thumbnail of it."""
    picture, _ = stand_in(record)
    if picture is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_of(picture)).decode("ascii")
