"""The XML a Sony camera writes beside each clip: when it was recorded, in the camera's own zone,
and by which camera and lens.

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
header (``common.video.video_header``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from common.avchd import as_exif_spells
from common.extensions import VIDEO_EXTENSIONS
from common.xmp import first_beside

log = logging.getLogger(__name__)

CLIP_XML_SUFFIXES = ("M01.XML", "M01.xml")  # after the clip's name without its extension
MAX_CLIP_XML_BYTES = 1024 * 1024  # a camera's is a few kB: a bigger file of that name is another's


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


def read_clip_xml(path: str | None) -> ClipXml:
    """What the clip XML at ``path`` says; nothing without one, for one that cannot be read, and
    for another program's XML of that name (no ``NonRealTimeMeta``)."""
    from xml.etree import ElementTree

    if path is None:
        return ClipXml()
    try:
        if os.path.getsize(path) > MAX_CLIP_XML_BYTES:
            return ClipXml()
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        log.debug("cannot read the clip XML %s: %s", path, error)
        return ClipXml()
    if _local_name(root.tag) != "NonRealTimeMeta":
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
