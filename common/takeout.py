"""Google Takeout's JSON sidecars: what Google Photos knows of a photo it exports.

A Takeout export of Google Photos writes a JSON file beside each photo, ``IMG_0042.jpg.json``
(since 2024 ``IMG_0042.jpg.supplemental-metadata.json``), holding what its owner wrote in Google
Photos (a description, the people named in it), when it was taken and where: Google's position
for the many photos whose camera recorded none (a phone's screenshots and chat pictures, a
scan), and a date for those without EXIF. Indexed without it, such a library had no places and
no people. Its names follow Google's rules, not a standard:

- a name too long is cut, ``.json`` included, to some 46-51 characters
  (``IMG_20190704_183012345_HDR.jpg.supplemental-met.json``,
  ``Screenshot_20190705-101010_WhatsApp-Business-C.json``);
- a second photo of one name is ``IMG_0042(1).jpg``, its JSON ``IMG_0042.jpg(1).json`` (or
  ``.supplemental-metadata(1).json``, ``(1).supplemental-metadata.json``);
- an edit made in Google Photos is ``IMG_0042-edited.jpg`` (the word in the export's language),
  described by its original's JSON;
- a JSON is named for the name the photo was uploaded with, in that name's case, without the
  extension the export may have added;
- a Live Photo's video (``IMG_0042.MP4`` beside ``IMG_0042.HEIC``) has no JSON of its own: the
  still's describes it, as it does a Pixel motion photo's clip (``PXL_….MP`` beside
  ``PXL_….MP.jpg``).

What the JSON says fills what the photo's own metadata lacks (``fill_in``): the camera's EXIF
date and position, and what XMP or IPTC say, come first; the people it names are added to theirs.
Whether the photo was starred in Google Photos (``favorited``) is the record's ``favorite``: no
other metadata says it. A photo in Google Photos' trash when it was exported (``trashed``: Takeout
exports the trash too) is one its owner deleted: it is not indexed (``in_trash``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.extensions import still_names_of
from common.positions import is_recorded_position
from common.xmp import LIST_SEPARATOR

log = logging.getLogger(__name__)

SUFFIX = ".json"
SUPPLEMENTAL = ".supplemental-metadata"
# A name cut to fit is never shorter than this (Google's cuts leave some 46-51 characters).
SHORTEST_CUT = 40
# A JSON larger than this is no photo's sidecar (Takeout's are a few kB).
MAX_JSON_BYTES = 1024 * 1024
# A second photo of one name: 'IMG_0042(1).jpg'.
_NUMBERED = re.compile(r"(?P<stem>.*)(?P<number>\(\d+\))(?P<extension>\.[^.]*)")
# What Google Photos puts after the name of an edit or a creation it saved beside the original
# ('IMG_0042-edited.jpg'), in the export's language (the words Takeout tools' users reported).
EDIT_WORDS = (
    "edited", "effects", "smile", "mix", "edytowane", "bearbeitet", "bewerkt", "編集済み", "modificato",
    "modifié", "ha editado", "editado", "editat", "отредактировано", "已编辑", "편집됨", "düzenlendi",
    "تم التعديل", "संपादित", "đã chỉnh sửa", "แก้ไขแล้ว", "diedit",
)  # fmt: skip
_EDITED = re.compile(rf"(?P<stem>.*)-(?:{'|'.join(map(re.escape, EDIT_WORDS))})(?P<extension>\.[^.]*)", re.IGNORECASE)
# The keys that make a JSON Takeout's (every one it writes has the first two).
TAKEOUT_KEYS = {"photoTakenTime", "creationTime", "geoData", "googlePhotosOrigin"}
# What a JSON gives a record, each where the photo's own metadata has nothing.
FILLED_COLUMNS = ("caption", "date_taken", "gps_latitude", "gps_longitude", "gps_altitude")


def takeout_json_of(path: str, names: Iterable[str] | None = None) -> str | None:
    """The Takeout JSON of the photo at ``path``, if it has one. ``names``, the ``.json`` files
    in its folder when the caller has listed them (the walk: a frozenset, made once a folder),
    spares a look at the disk; else the folder's are listed once while it is unchanged
    (``_listing``), not once a photo.

    A name as written first; else with case and Unicode's forms ignored (``_folded``): Google
    names a JSON for the name the photo was uploaded with, which need not be the case of the name
    it exports the photo under ('IMG_4081.JPG(1).json' beside 'IMG_4081(1).jpg', 'DSC_0001.JPG.json'
    beside 'DSC_0001.jpg'), and those photos had no date, place or people from Google. Not where
    the folder holds another file of the photo's name in another case ('img_4081(1).jpg', on a
    disk that tells them apart): a JSON found so may be that one's, whose date, place and people
    the photo then took."""
    folder, name = os.path.split(path)
    listing = _listing(folder or ".") if names is None else None
    if listing is not None:
        present = listing.jsons
    else:
        present = names if isinstance(names, frozenset) else frozenset(names or ())
    if not present:
        return None
    for candidates in json_name_groups(name):  # its own, as written then folded; then its still's
        found = next((candidate for candidate in candidates if candidate in present), None)
        if found is None:
            by_form = _names_by_form(present)
            found = next((by_form[form] for c in candidates if (form := _folded(c)) in by_form), None)
            if found is not None and _folded(name) in (listing or _listing(folder or ".")).named_alike:
                return None
        if found is not None:
            return os.path.join(folder, found)
    return None


@functools.lru_cache(maxsize=8)
def _names_by_form(names: frozenset[str]) -> dict[str, str]:
    """``names`` by their case-folded, composed form (``_folded``; one of two alike: the first in
    order), made once a folder: a folder of 10,000 photos asks for each of its photos without a
    JSON."""
    by_form: dict[str, str] = {}
    for name in sorted(names):
        by_form.setdefault(_folded(name), name)
    return by_form


def _folded(name: str) -> str:
    """``name`` with case and Unicode's forms ignored: a Mac writes 'é' in a file's name as 'e'
    and an accent, where Google wrote it whole."""
    return name.casefold() if name.isascii() else unicodedata.normalize("NFC", name).casefold()


def is_json_name(name: str) -> bool:
    """Whether a file's name ends in '.json', in any case."""
    return name[-len(SUFFIX) :].lower() == SUFFIX


@dataclass(frozen=True)
class _Listing:
    """What a look-up needs of a folder's names."""

    jsons: frozenset[str]  # its .json files
    named_alike: frozenset[str]  # the forms (``_folded``) two or more of its names share


# Each folder as last listed: (the folder's mtime then, when, its listing).
_LISTED: dict[str, tuple[int, float, _Listing]] = {}
_LISTED_AT_MOST = 256  # folders remembered
RELIST_AFTER = 1.0  # seconds a listing serves a folder that changed since


def forget_listings() -> None:
    """Forget the folders listed so far: a new walk (``common.discovery.Walk.files``) is a
    new look, in which a JSON added since is read (a --watch round, a later command of a
    session that runs several in one process)."""
    _LISTED.clear()


def _listing(folder: str) -> _Listing:
    """What ``folder`` holds, listed again when it has changed (its mtime) but not more than
    once a ``RELIST_AFTER``: a folder of 100,000 photos that a camera import is writing into
    changes at every file, and listing it for each photo read would cost more than reading them.
    A JSON missed so is read at the next ``--index``: the row records the sidecar mtime it saw,
    and the walk sees another."""
    try:
        modified = os.stat(folder).st_mtime_ns
    except OSError:
        return _Listing(frozenset(), frozenset())
    listed = _LISTED.get(folder)
    if listed is not None and (listed[0] == modified or time.monotonic() - listed[1] < RELIST_AFTER):
        return listed[2]
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    forms = Counter(map(_folded, names))
    listing = _Listing(
        frozenset(n for n in names if is_json_name(n)), frozenset(form for form, count in forms.items() if count > 1)
    )
    if len(_LISTED) >= _LISTED_AT_MOST:
        _LISTED.clear()
    _LISTED[folder] = (modified, time.monotonic(), listing)
    return listing


def json_name_groups(name: str) -> list[list[str]]:
    """The names the Takeout JSON of a photo named ``name`` may have, the likeliest first, in
    groups each looked up as written and then folded before the next: its own, then for a video
    those of the still it may be the moving part of (``common.extensions.still_names_of``), so
    that a video's own JSON, in another case, comes before its still's as written."""
    return [_json_names_of(name), *(_json_names_of(still) for still in still_names_of(name))]


def _json_names_of(name: str) -> list[str]:
    """The names Google gives the JSON of a photo named ``name``, the likeliest first."""
    forms = [(name, "")]
    name = unicodedata.normalize("NFC", name)  # the words below as Google writes them
    numbered = _numbered(name)
    if numbered:  # 'IMG_0042(1).jpg': 'IMG_0042.jpg(1).json'
        forms.append(numbered)
    original = _original_of_edit(name)
    if original:  # 'IMG_0042-edited.jpg': the original's
        forms.append((original, ""))
    # An edit of a second photo of one name, numbered on either side of the edit's word: the
    # second photo's ('IMG_0042(1)-edited.jpg', 'IMG_0042-edited(1).jpg': 'IMG_0042.jpg(1).json').
    if original and (numbered_original := _numbered(original)):
        forms.append(numbered_original)
    if numbered and (original_numbered := _original_of_edit(numbered[0])):
        forms.append((original_numbered, numbered[1]))
    # Uploaded without an extension, which the export added: 'IMG_0042.json' for 'IMG_0042.jpg'.
    stem, extension = os.path.splitext(name)
    if stem and extension:
        forms.append((stem, ""))
    names: list[str] = []
    for base, number in forms:
        whole = base + SUPPLEMENTAL
        names += [whole + number + SUFFIX, base + number + SUFFIX]
        # Cut: the supplemental word, then the name itself, down to SHORTEST_CUT characters.
        names += [whole[:length] + number + SUFFIX for length in range(len(whole) - 1, len(base), -1)]
        names += [base[:length] + number + SUFFIX for length in range(len(base) - 1, SHORTEST_CUT - 1, -1)]
        if number:  # ... or numbered before the supplemental word: 'IMG_0042.jpg(1).supplemental-metadata.json'
            inner = base + number + SUPPLEMENTAL
            names += [inner[:length] + SUFFIX for length in range(len(inner), len(base + number), -1)]
    return list(dict.fromkeys(names))  # each looked up once


def _numbered(name: str) -> tuple[str, str] | None:
    """A second photo of one name, 'IMG_0042(1).jpg', as the name and its number: ('IMG_0042.jpg', '(1)')."""
    numbered = _NUMBERED.fullmatch(name)
    return (numbered["stem"] + numbered["extension"], numbered["number"]) if numbered else None


def _original_of_edit(name: str) -> str | None:
    """The original of an edit Google Photos saved, 'IMG_0042-edited.jpg': 'IMG_0042.jpg'."""
    edited = _EDITED.fullmatch(name)
    return edited["stem"] + edited["extension"] if edited else None


def read_takeout_json(path: str | None) -> dict[str, Any]:
    """The record columns a Takeout JSON gives (``FILLED_COLUMNS``, ``people`` and ``favorite``),
    None where it says nothing; every one None without a JSON or with one that cannot be read."""
    columns: dict[str, Any] = dict.fromkeys((*FILLED_COLUMNS, "people", "favorite"))
    data = _takeout_data(path)
    if data is None:
        return columns
    description = data.get("description")
    if isinstance(description, str) and description.strip():
        columns["caption"] = description.strip()
    tagged = data.get("people") if isinstance(data.get("people"), list) else []
    names = [person.get("name") for person in tagged if isinstance(person, dict)]
    people = dict.fromkeys(name.strip() for name in names if isinstance(name, str) and name.strip())
    columns["people"] = LIST_SEPARATOR.join(people) or None
    columns["favorite"] = data.get("favorited") is True or None  # written only when starred
    columns["date_taken"] = _local_time(data.get("photoTakenTime"))
    columns.update(_position(data.get("geoData")))
    return columns


def in_trash(path: str | None) -> bool:
    """Whether the Takeout JSON at ``path`` says its photo was in Google Photos' trash."""
    data = _takeout_data(path)
    return data is not None and data.get("trashed") is True


def _takeout_data(path: str | None) -> dict[str, Any] | None:
    """What the Takeout JSON at ``path`` holds; None without one, for one that cannot be read,
    and for some other program's JSON of the same name (none of Takeout's keys)."""
    if path is None:
        return None
    try:
        if os.path.getsize(path) > MAX_JSON_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        log.debug("cannot read the Takeout JSON %s: %s", path, error)
        return None
    return data if isinstance(data, dict) and data.keys() & TAKEOUT_KEYS else None


def _local_time(taken: Any) -> str | None:
    """Google's time (seconds since 1970, UTC) as this computer's local time, ISO 8601 to the
    second as EXIF dates are stored: the owner's time where they live, as a camera writes it."""
    try:
        seconds = int(taken["timestamp"])
        return datetime.fromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S") if seconds > 0 else None
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _position(geo: Any) -> dict[str, float | None]:
    """The position of Takeout's ``geoData``: none where it is 0, 0 (what it writes for none) or
    off the Earth."""
    none = {"gps_latitude": None, "gps_longitude": None, "gps_altitude": None}
    if not isinstance(geo, dict):
        return none
    try:
        latitude, longitude = float(geo["latitude"]), float(geo["longitude"])
        altitude = float(geo["altitude"]) if geo.get("altitude") else None
    except (KeyError, TypeError, ValueError):
        return none
    if not is_recorded_position(latitude, longitude):
        return none
    return {"gps_latitude": latitude, "gps_longitude": longitude, "gps_altitude": altitude}


def fill_in(record: dict[str, Any], takeout: dict[str, Any]) -> dict[str, Any]:
    """``record`` with what a Takeout JSON says (``read_takeout_json``) where the photo's own
    metadata says nothing, its position whole (latitude, longitude and altitude together), the
    people it names after the ones the photo's XMP names, and whether it was starred. ``takeout``
    empty (nothing was read: ``common.describe.refreshed_record``) keeps the record's star."""
    filled = dict(record)
    if takeout:  # the JSON is the one source of the star: unstarred there, or no JSON, is no favorite
        filled["favorite"] = takeout.get("favorite") is True
    has_position = record.get("gps_latitude") is not None and record.get("gps_longitude") is not None
    for column in FILLED_COLUMNS:
        if column.startswith("gps_"):
            if not has_position and takeout.get("gps_latitude") is not None:
                filled[column] = takeout.get(column)
        elif record.get(column) is None and takeout.get(column) is not None:
            filled[column] = takeout[column]
    if takeout.get("people"):
        named = [n for n in (record.get("people") or "").split(LIST_SEPARATOR) if n]
        filled["people"] = LIST_SEPARATOR.join(dict.fromkeys([*named, *takeout["people"].split(LIST_SEPARATOR)]))
    return filled
