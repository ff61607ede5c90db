"""A raw file and the JPEG the camera wrote beside it are one photo; so are a Live Photo and
its video.

A camera set to RAW+JPEG writes both for every shot, ``IMG_0042.CR2`` and ``IMG_0042.JPG``: two
files, two rows, one picture (the JPEG is what the raw's embedded preview is, and the two embed
at cosine ~1). An iPhone's Live Photo is copied off the phone as ``IMG_0042.HEIC`` and the
three seconds around it as ``IMG_0042.MOV``, whose frame is the same scene; a Pixel's motion
photo comes out of Google Takeout as ``PXL_….MP.jpg`` and its clip ``PXL_….MP``. A search listed the
picture twice, pushing another photo out of its ``--limit``, and ``--duplicates`` reported every
shot as a near duplicate. Companions are files in one folder with one name but the extension
(case aside), a raw or a video among them; a search shows the first of them it ranks and names
the others as its companions, and ``--duplicates`` counts them as one picture. A listing
(``--where``, ``--near``) lists files, every one.

Exact copies (the same bytes: ``content_hash``) are one picture in a search too: Google Takeout
puts each photo of an album in the album's folder and in 'Photos from <year>', and a backup
copied into the library holds every photo again, so each of their pictures was listed twice or
more, the copies tying on every vector query and filling ``--limit``. The first copy ranked is
shown, the others named as its companions (``--duplicates`` lists them as exact duplicates).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from common.extensions import MOTION_CLIP_EXTENSIONS, RAW_EXTENSIONS, VIDEO_EXTENSIONS
from common.store import Hit, best_kept


def companion_key(path: str) -> tuple[str, str]:
    """What companions share: the folder and the name without its extension (case aside); a
    Pixel's motion clip ('PXL_….MP') is named for its still without '.jpg', so its name whole."""
    folder, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    return folder, (name if extension.lower() in MOTION_CLIP_EXTENSIONS else stem).casefold()


def is_raw_or_video(path: str) -> bool:
    """A file that is another form of a photo beside it: its raw, or its Live Photo's video."""
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS | VIDEO_EXTENSIONS


def companion_groups(paths: Iterable[str]) -> list[list[str]]:
    """The groups of companions among ``paths``, each sorted."""
    groups: dict[tuple[str, str], list[str]] = {}
    for path in paths:
        groups.setdefault(companion_key(path), []).append(path)
    return [sorted(group) for group in groups.values() if len(group) > 1 and any(map(is_raw_or_video, group))]


def photo_of_each(paths: Iterable[str]) -> dict[str, str]:
    """Each of ``paths`` that has companions among them → the first of its group, the one it is
    counted as; paths without companions are left out."""
    return {path: group[0] for group in companion_groups(paths) for path in group}


def without_companions(search: Callable[[int], list[Hit]], limit: int) -> list[Hit]:
    """The ``limit`` best of the hits ``search(n)`` gives (its ``n`` best, in rank order), each
    photo once: a hit whose companion ranks above it is left out, and named in that hit's
    ``companions``. One hit more than shown is asked for, so that the companion ranked next to
    the last one shown (they embed alike) is named too; twice as many while companions left it
    short."""
    return best_kept(search, limit + 1, collapsed, limit)[:limit]


def one_picture_each(hits: list[Hit]) -> dict[str, str]:
    """Each hit's path → the path of the picture it counts as: its companions' first
    (``photo_of_each``), and one for exact copies (the same ``content_hash``) and their companions
    (a backup of a RAW+JPEG pair's JPEG is the pair's picture too), whatever order they rank in."""
    companion_of = photo_of_each(hit.record["path"] for hit in hits)
    picture: dict[str, str] = {}  # a picture → the one it was found to be the same as

    def found(path: str) -> str:
        while picture.get(path, path) != path:
            path = picture[path]
        return path

    first_with_bytes: dict[str, str] = {}
    counted: dict[str, str] = {}  # each hit's path → its picture when it was met
    for hit in hits:
        path = hit.record["path"]
        own = counted[path] = found(companion_of.get(path, path))
        if content := hit.record.get("content_hash"):
            copied = found(first_with_bytes.setdefault(content, own))
            if copied != own:
                picture[own] = copied
    return {path: found(own) for path, own in counted.items()}


def collapsed(hits: list[Hit]) -> list[Hit]:
    """``hits`` with each hit whose companion or exact copy ranks above it folded into that one
    (``one_picture_each``); of companions that score alike, the picture is shown, not its raw or
    its clip (a Live Photo's clip has its still's vector: ``common.live_clips``; ties otherwise go
    by path, and 'PXL_….MP' comes before 'PXL_….MP.jpg')."""
    photo = one_picture_each(hits)
    first_of: dict[str, Hit] = {}
    kept = []
    for hit in hits:
        path = hit.record["path"]
        counted_as = photo[path]
        shown = first_of.get(counted_as)
        if shown is None:
            first_of[counted_as] = hit
            kept.append(hit)
        elif hit.score == shown.score and is_raw_or_video(shown.record["path"]) and not is_raw_or_video(path):
            hit.extra["companions"] = [shown.record["path"], *shown.extra.pop("companions", [])]
            kept[kept.index(shown)] = first_of[counted_as] = hit
        else:
            shown.extra.setdefault("companions", []).append(path)
    return kept
