"""The XML a Sony camera writes beside each clip and inside it: when it was recorded, in the
camera's own zone, and by which camera and lens.

A Sony camera or camcorder that films XAVC S or XAVC HS (the a7 and a6000 lines, the RX100s, the
ZV and FX cameras) writes ``C0001M01.XML`` beside ``C0001.MP4`` (the card's
``PRIVATE/M4ROOT/CLIP``; copied with the clip when the folder is): Sony's "non-real-time
metadata", whose ``CreationDate`` is the local time with its offset
(``2022-09-25T11:57:59+10:00``), ``Device`` the maker and model (``ILCE-7M3``), ``Lens`` the
lens. The MP4 itself has only QuickTime's ``creation_time``, in UTC, which a computer in another
zone than the trip's wrote as its own local time (hours off), and no camera at all: ``--stats``'
cameras and a ``--where`` on the model or the lens left the videos out.

It is a sidecar as an XMP one is: part of the clip's signature (an XML copied later is a change
``--index`` sees, and the row is described again, nothing decoded), and read with the clip's
header (``common.video.video_header``). The camera writes the same XML inside the MP4 too (a
``meta`` box, its handler Sony's ``nrtm``, holding an ``xml `` box, near the file's end): a clip
imported without its folder (Lightroom, Apple's Photos, a phone's app copy the MP4 alone) is read
by it (``clip_xml_inside``), the one beside it first.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from common.avchd import as_exif_spells
from common.boxes import FULL_BOX_VERSION_BYTES, Box, boxes_in, read_box
from common.extensions import VIDEO_EXTENSIONS
from common.xmp import first_beside, parsed_xml

log = logging.getLogger(__name__)

CLIP_XML_SUFFIXES = ("M01.XML", "M01.xml")  # after the clip's name without its extension
MAX_CLIP_XML_BYTES = 1024 * 1024  # a camera's is a few kB: a bigger file of that name is another's
# Where an MP4 keeps it: a top-level ``meta`` box (or one in ``moov``) holding an ``xml `` box.
FILE_TYPE_BOX, MOVIE_BOX, META_BOX, XML_BOX, HANDLER_BOX = b"ftyp", b"moov", b"meta", b"xml ", b"hdlr"
MOST_BOXES_LOOKED_AT = 64  # of one level: a camera's file has a handful; a damaged one is not walked on


@dataclass(frozen=True)
class ClipXml:
    """What a clip's XML says, None where it says nothing."""

    recorded: datetime | None = None  # the camera's local time, with its zone
    make: str | None = None
    model: str | None = None
    lens: str | None = None


def clip_xml_of(path: str, names: Iterable[str] | None = None) -> str | None:
    """The XML beside the video at ``path`` (``C0001M01.XML`` beside ``C0001.MP4``), if it has
    one; None for a file that is no video. ``names``, the file names in its folder when the
    caller has listed it already, spares a look at the disk."""
    folder, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    if extension.lower() not in VIDEO_EXTENSIONS:
        return None
    return first_beside(folder, [stem + suffix for suffix in CLIP_XML_SUFFIXES], names)


def clip_xml_facts(path: str, look_inside: bool) -> ClipXml:
    """What the Sony XML of the video at ``path`` says: the one beside it (``clip_xml_of``), else,
    where ``look_inside`` (an MP4: what a Sony writes), the one inside it (``clip_xml_inside``);
    nothing without either. Other videos (an iPhone's MOV, a camcorder's MTS) are not opened a
    second time for it."""
    beside = read_clip_xml(clip_xml_of(path))
    if beside != ClipXml() or not look_inside:
        return beside
    return _said(clip_xml_inside(path), path)


def read_clip_xml(path: str | None) -> ClipXml:
    """What the clip XML at ``path`` says; nothing without one, for one that cannot be read, and
    for another program's XML of that name (no ``NonRealTimeMeta``)."""
    if path is None:
        return ClipXml()
    try:
        if os.path.getsize(path) > MAX_CLIP_XML_BYTES:
            return ClipXml()
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        log.debug("cannot read the clip XML %s: %s", path, error)
        return ClipXml()
    return _said(data, path)


def clip_xml_inside(path: str) -> bytes | None:
    """The XML a Sony camera wrote inside the MP4 at ``path``, its boxes' headers read, their data
    skipped (a few reads, whatever the clip's size); None for a file that is no MP4 or QuickTime
    movie (no ``ftyp`` first), holds none, or cannot be read now (its frame's read says why)."""
    try:
        with open(path, "rb") as file:
            walk = boxes_in(file)
            first = next(walk, None)
            if first is None or first.kind != FILE_TYPE_BOX:
                return None
            top = [first, *itertools.islice(walk, MOST_BOXES_LOOKED_AT)]
            metas = [box for box in top if box.kind == META_BOX]
            for movie in (box for box in top if box.kind == MOVIE_BOX):
                metas += [box for box in _boxes_of(file, movie.start, movie.end) if box.kind == META_BOX]
            for meta in metas:
                for box in _boxes_of(file, _children_start(file, meta), meta.end):
                    if box.kind == XML_BOX:
                        return read_box(file, box, MAX_CLIP_XML_BYTES, skip=FULL_BOX_VERSION_BYTES)
    except OSError as error:
        log.debug("cannot look for a clip XML inside %s: %s", path, error)
    return None


def _boxes_of(file: BinaryIO, start: int, end: int | None) -> list[Box]:
    return list(itertools.islice(boxes_in(file, start, end), MOST_BOXES_LOOKED_AT))


def _children_start(file: BinaryIO, meta: Box) -> int:
    """Where the boxes a ``meta`` box holds start: after its version and flags, as ISO writes it
    (Sony's), or right after its header, as QuickTime's own (an iPhone's in ``moov``) is."""
    file.seek(meta.start + 4)
    return meta.start if file.read(4) == HANDLER_BOX else meta.start + FULL_BOX_VERSION_BYTES


def _said(data: bytes | None, path: str) -> ClipXml:
    """What a clip XML's bytes say; nothing for bytes that are no XML, and for another program's
    XML (no ``NonRealTimeMeta``)."""
    if not data:
        return ClipXml()
    root = parsed_xml(data.rstrip(b"\0"), f"the clip XML of {path}")  # a box's may be padded
    if root is None or _local_name(root.tag) != "NonRealTimeMeta":
        return ClipXml()
    found = {_local_name(element.tag): element.attrib for element in root.iter()}
    device, lens = found.get("Device", {}), found.get("Lens", {})
    return ClipXml(
        _recorded(found.get("CreationDate", {}).get("value")),
        _maker(device.get("manufacturer")),
        _text(device.get("modelName")),
        _text(lens.get("modelName")),
    )


def _local_name(tag: str) -> str:
    """An element's name without its namespace ('{urn:schemas-professionalDisc:…}Device')."""
    return tag.rsplit("}", 1)[-1]


def _recorded(value: str | None) -> datetime | None:
    """The time a ``CreationDate`` says; None unless it says the time and its zone (a professional
    camera's may say the day alone)."""
    try:
        when = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _maker(value: str | None) -> str | None:
    """The maker as the camera's photos name it in their EXIF ('SONY'; its XML says 'Sony')."""
    name = _text(value)
    return as_exif_spells(name) if name else None


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None
