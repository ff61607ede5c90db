"""What people wrote about a photo in their photo software: XMP keywords, title, rating, people,
place, creator, copyright; and, for ``common.xmp_taken``, when and where it was taken.

Lightroom, digiKam, darktable, Photoshop, Windows Photos and phones keep what their users add to
a photo (keywords, a title, a caption, a star rating, the names of the people tagged in it) as
XMP: a packet inside the file, or a sidecar file beside it (``IMG_0042.jpg.xmp``, as darktable
and digiKam write; ``IMG_0042.xmp``, as Adobe's software writes for raw files). The sidecar is
what the software edits, so its values win; the packet fills what it lacks.

The packet is RDF/XML, read with the standard library's ElementTree: the expat it runs on
(2.4.1 and later) refuses entity-expansion bombs, and ElementTree fetches no external entities.
A packet that is not well-formed XML is ignored (the photo is indexed all the same).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

log = logging.getLogger(__name__)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# Namespaces as compared: without a closing slash, which some writers leave out (Windows'
# MicrosoftPhoto, in the shared camera set's Nikon photos).
DC = "http://purl.org/dc/elements/1.1"
XMP_BASIC = "http://ns.adobe.com/xap/1.0"
LIGHTROOM = "http://ns.adobe.com/lightroom/1.0"
DIGIKAM = "http://www.digikam.org/ns/1.0"
MICROSOFT_PHOTO = "http://ns.microsoft.com/photo/1.0"
MICROSOFT_REGION = "http://ns.microsoft.com/photo/1.2/t/Region#"
MWG_REGIONS = "http://www.metadataworkinggroup.com/schemas/regions"
IPTC_EXTENSION = "http://iptc.org/std/Iptc4xmpExt/2008-02-29"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0"
EXIF = "http://ns.adobe.com/exif/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# The columns XMP gives a record (common.records); NULL without them. The caption is XMP's
# dc:description, kept apart from EXIF's ImageDescription (often the camera's own words,
# "OLYMPUS DIGITAL CAMERA"): a copy of a photo with a sidecar of its own gets its own XMP
# columns, and the EXIF ones of its bytes (common.reuse).
XMP_COLUMNS = ("title", "caption", "keywords", "people", "location", "creator", "copyright", "rating")
# Keywords and people are stored as one text, joined so: a name or keyword rarely holds it.
LIST_SEPARATOR = "; "
# Where the photo was taken as its owner wrote it (a scan, a camera without GPS), from the most
# precise part to the least, joined by LOCATION_SEPARATOR: "Porto Antico, Genova, Liguria, Italia".
# It is text to search and filter on; the place columns come from GPS positions alone.
LOCATION_PARTS = ((IPTC_CORE, "Location"), (PHOTOSHOP, "City"), (PHOTOSHOP, "State"), (PHOTOSHOP, "Country"))
LOCATION_SEPARATOR = ", "
# Without those, the IPTC Extension's structures (Photo Mechanic, newer Lightroom panels): where it
# was taken, else where what it shows is; the first location of the list, its parts in this order.
LOCATION_STRUCTURES = ("LocationCreated", "LocationShown")
LOCATION_STRUCTURE_PARTS = ("LocationName", "Sublocation", "City", "ProvinceState", "CountryName")
SIDECAR_SUFFIXES = (".xmp", ".XMP", ".Xmp")
# Where a keyword hierarchy keeps its path: the last part is the keyword ("Places|Italy|Rome").
HIERARCHIES = {(LIGHTROOM, "hierarchicalSubject"): "|", (DIGIKAM, "TagsList"): "/"}
# The names of the people in a photo: face regions (Metadata Working Group: Lightroom, digiKam,
# Apple, Google; Windows Photo Gallery's own) and IPTC's list of persons shown.
PEOPLE = ((MWG_REGIONS, "Name"), (MICROSOFT_REGION, "PersonDisplayName"), (IPTC_EXTENSION, "PersonInImage"))
MAX_PACKET_BYTES = 16 * 1024 * 1024  # a sidecar larger than this is not one
# When and where the photo was taken, as XMP writes them (read by common.xmp_taken): when,
# then when its file was made (a scan, an export: EXIF's DateTimeDigitized and xmp:CreateDate),
# and the GPS position as the EXIF schema for XMP writes it ("48,51.384N").
DATES_TAKEN = ((EXIF, "DateTimeOriginal"), (PHOTOSHOP, "DateCreated"))
DATES_MADE = ((EXIF, "DateTimeDigitized"), (XMP_BASIC, "CreateDate"))
POSITION = tuple((EXIF, name) for name in ("GPSLatitude", "GPSLongitude", "GPSAltitude", "GPSAltitudeRef"))
TAKEN_PROPERTIES = frozenset((*DATES_TAKEN, *DATES_MADE, *POSITION))


def sidecar_of(path: str, names: Iterable[str] | None = None) -> str | None:
    """The XMP sidecar of the photo at ``path``, if it has one: ``<name>.xmp`` (darktable,
    digiKam) first, else ``<name without extension>.xmp`` (Adobe). ``names``, the file names in
    the photo's folder when the caller has listed it already, spares a look at the disk."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    return first_beside(folder, [base + suffix for base in (name, stem) for suffix in SIDECAR_SUFFIXES], names)


def first_beside(folder: str, candidates: list[str], names: Iterable[str] | None = None) -> str | None:
    """The path of the first of ``candidates`` (file names) that is in ``folder``: among ``names``
    where the caller has listed the folder already, else as the disk says."""
    if names is not None:
        present = names if isinstance(names, set) else set(names)
        found = next((c for c in candidates if c in present), None)
        return os.path.join(folder, found) if found else None
    return next((os.path.join(folder, c) for c in candidates if os.path.isfile(os.path.join(folder, c))), None)


def sidecar_mtime(path: str | None) -> float | None:
    """The sidecar's modification time (what tells the indexer it was edited), None without one."""
    if path is None:
        return None
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def newest_sidecar_mtime(*sidecars: str | None) -> float | None:
    """The newest mtime of a photo's sidecars (its XMP, its Takeout JSON: ``common.takeout``, a
    video's clip XML: ``common.clip_xml``), None without one: an edit to any is a change to index
    (``FoundFile.signature``)."""
    return max((m for m in map(sidecar_mtime, sidecars) if m is not None), default=None)


def embedded_packet(info: dict[str, Any]) -> bytes | str | None:
    """The XMP packet Pillow (or pillow-heif) found in a file, from its ``Image.info``: JPEG, TIFF,
    WebP, HEIF and AVIF keep it as ``xmp``, PNG as an iTXt chunk."""
    return info.get("xmp") or info.get("XML:com.adobe.xmp") or None


def info_holding(packet: bytes | str | None) -> dict[str, Any]:
    """An ``Image.info`` holding ``packet`` where ``embedded_packet`` looks (empty for None): a
    packet read from where Pillow does not look (a video's, a JPEG XL's boxes), handed on as a
    picture's is."""
    return {"xmp": packet} if packet else {}


class XmpRead(NamedTuple):
    """What a photo's XMP says (``read_xmp``): its columns, and when and where it was taken as its
    sidecar and its embedded packet write it, apart (``common.xmp_taken`` weighs them against
    the file's EXIF, which comes between the two)."""

    columns: dict[str, Any]  # XMP_COLUMNS: the sidecar's values first, None where neither holds one
    sidecar_taken: dict[tuple[str, str], str]  # TAKEN_PROPERTIES as written, those it holds
    packet_taken: dict[tuple[str, str], str]


def read_xmp(packet: bytes | str | None, sidecar: str | None) -> XmpRead:
    """What the XMP of a photo says (``XmpRead``), from its embedded ``packet`` and its
    ``sidecar`` file (its values first), each parsed once."""
    found = dict.fromkeys(XMP_COLUMNS)
    sidecar_fields, packet_fields = packet_fields_of(_sidecar_packet(sidecar)), packet_fields_of(packet)
    for fields in (sidecar_fields, packet_fields):
        for column, value in fields.columns.items():
            if found[column] is None:
                found[column] = value
    return XmpRead(found, sidecar_fields.taken, packet_fields.taken)


def _sidecar_packet(sidecar: str | None) -> bytes | None:
    if sidecar is None:
        return None
    try:
        if os.path.getsize(sidecar) > MAX_PACKET_BYTES:
            log.warning("ignoring XMP sidecar %s: larger than %d MB", sidecar, MAX_PACKET_BYTES >> 20)
            return None
        with open(sidecar, "rb") as handle:
            return handle.read()
    except OSError as error:
        log.warning("cannot read XMP sidecar %s: %s", sidecar, error.strerror or error)
        return None


class PacketFields(NamedTuple):
    """What one packet holds (``packet_fields_of``)."""

    columns: dict[str, Any]  # XMP_COLUMNS, only those it holds
    taken: dict[tuple[str, str], str]  # TAKEN_PROPERTIES as written, only those it holds


def fields_of(packet: bytes | str | None) -> dict[str, Any]:
    """The ``XMP_COLUMNS`` one packet holds (only those it holds)."""
    return packet_fields_of(packet).columns


def packet_fields_of(packet: bytes | str | None) -> PacketFields:
    """The ``XMP_COLUMNS`` and ``TAKEN_PROPERTIES`` one packet holds, in one parse."""
    if not packet:
        return PacketFields({}, {})
    root = parsed_xml(_trimmed(packet), "an XMP packet")
    if root is None:
        return PacketFields({}, {})
    taken: dict[tuple[str, str], str] = {}
    # The photo's own properties: not those of a structure inside one (the IPTC Extension's
    # location shown holds a GPS position too, of what the photo shows).
    photos = {element for rdf in root.iter(f"{{{RDF}}}RDF") for element in rdf}
    keywords: list[str] = []
    people: list[str] = []
    creators: list[str] = []
    location: dict[tuple[str, str], str] = {}
    found: dict[str, Any] = {}
    ratings: dict[str, int | None] = {}
    for description in _descriptions(root):
        for key, values in _properties(description):
            if not values:
                continue
            namespace, name = _split(key)
            if (namespace, name) == (DC, "subject"):
                keywords += values
            elif (namespace, name) in HIERARCHIES:
                keywords += [value.split(HIERARCHIES[namespace, name])[-1] for value in values]
            elif (namespace, name) == (DC, "title"):
                found.setdefault("title", values[0])
            elif (namespace, name) == (DC, "description"):
                found.setdefault("caption", values[0])
            elif (namespace, name) == (DC, "rights"):
                found.setdefault("copyright", values[0])
            elif (namespace, name) == (XMP_BASIC, "Rating"):
                ratings.setdefault("xmp", _stars(values[0]))
            elif (namespace, name) == (MICROSOFT_PHOTO, "Rating"):
                ratings.setdefault("windows", _stars_of_percent(values[0]))
            elif (namespace, name) in PEOPLE:
                people += values
            elif (namespace, name) == (DC, "creator"):
                creators += values
            elif (namespace, name) in LOCATION_PARTS:
                location.setdefault((namespace, name), values[0])
            elif (namespace, name) in TAKEN_PROPERTIES and description in photos:
                taken.setdefault((namespace, name), values[0].strip())
    rating = ratings.get("xmp")
    if rating is None:
        rating = ratings.get("windows")
    if rating is not None:
        found["rating"] = rating
    if keywords := distinct(keywords):
        found["keywords"] = LIST_SEPARATOR.join(keywords)
    if people := distinct(people):
        found["people"] = LIST_SEPARATOR.join(people)
    if creators := distinct(creators):
        found["creator"] = LIST_SEPARATOR.join(creators)
    parts = [location[part] for part in LOCATION_PARTS if part in location] or _structured_location(root)
    if parts := distinct(parts):
        found["location"] = LOCATION_SEPARATOR.join(parts)
    return PacketFields(found, taken)


def _structured_location(root: Element) -> list[str]:
    """The parts of the first location an IPTC Extension structure names (``LOCATION_STRUCTURES``,
    in that order of preference), from the most precise; [] without one."""
    for structure in LOCATION_STRUCTURES:
        for element in root.iter():
            if _split(element.tag) != (IPTC_EXTENSION, structure):
                continue
            first = next(element.iter(f"{{{RDF}}}li"), element)  # a Bag of locations, the first taken
            parts: dict[str, str] = {}
            for node in first.iter():
                for key, values in _properties(node):
                    namespace, name = _split(key)
                    if namespace == IPTC_EXTENSION and values:
                        parts.setdefault(name, values[0])
            if found := [parts[name] for name in LOCATION_STRUCTURE_PARTS if name in parts]:
                return found
    return []


def parsed_xml(text: bytes | str, what: str) -> Element | None:
    """The root element of ``text``, an XML document (``what`` it is, for the log); None where it
    is not well-formed. One whose declaration names an encoding Python does not know ('x-mac-roman':
    XMP, and a camera's XML, are UTF-8 whatever a writer labels them) is read as UTF-8, its
    declaration left out: that label made the whole photo fail to index, where it said nothing of
    its pixels."""
    from xml.etree import ElementTree

    try:
        try:
            return ElementTree.fromstring(text)
        except LookupError:  # the encoding its declaration names (a str's is not looked up)
            return ElementTree.fromstring(_DECLARATION.sub(b"", text, count=1) if isinstance(text, bytes) else text)
    except (ElementTree.ParseError, LookupError) as error:
        log.debug("ignoring %s that is not well-formed XML: %s", what, error)
        return None


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _trimmed(packet: bytes | str) -> bytes | str:
    """The packet from its first ``<`` (some writers pad it, or put a byte-order mark first)."""
    start = packet.find(b"<" if isinstance(packet, bytes) else "<")
    return packet[start:] if start > 0 else packet


def _descriptions(root: Element) -> Iterator[Element]:
    """Every node that holds properties: ``rdf:Description``s, and the elements RDF lets stand
    for one (``rdf:parseType="Resource"``: face regions are often written so)."""
    for element in root.iter():
        if element.tag == f"{{{RDF}}}Description" or element.get(f"{{{RDF}}}parseType") == "Resource":
            yield element


def _properties(description: Element) -> Iterator[tuple[str, list[str]]]:
    """A ``rdf:Description``'s properties with their values: written as attributes, or as
    elements holding text or an ``rdf:Bag`` / ``rdf:Seq`` / ``rdf:Alt`` of items (an
    ``rdf:Alt``'s default language first)."""
    for key, value in description.attrib.items():
        if not key.startswith(f"{{{RDF}}}"):
            yield key, [value]
    for element in description:
        container = next((c for c in element if c.tag in (f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt")), None)
        if container is None:
            if element.text and element.text.strip():
                yield element.tag, [element.text]
            elif element.get(f"{{{RDF}}}resource"):
                yield element.tag, [element.get(f"{{{RDF}}}resource", "")]
            continue
        items = [item for item in container if item.tag == f"{{{RDF}}}li"]
        if container.tag == f"{{{RDF}}}Alt":
            items.sort(key=lambda item: item.get(XML_LANG) != "x-default")
        yield element.tag, [item.text.strip() for item in items if item.text and item.text.strip()]


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key[1:].partition("}") if key.startswith("{") else ("", "", key)
    return namespace.rstrip("/"), name


def _stars(value: str) -> int | None:
    """xmp:Rating: 0 (none) to 5 stars, -1 for rejected."""
    try:
        stars = round(float(value))
    except ValueError:
        return None
    return stars if -1 <= stars <= 5 else None


def _stars_of_percent(value: str) -> int | None:
    """Windows' MicrosoftPhoto:Rating, 0-99 for 0-5 stars (1, 25, 50, 75 and 99 for 1 to 5)."""
    try:
        percent = float(value)
    except ValueError:
        return None
    if not 0 <= percent <= 100:
        return None
    return 0 if percent == 0 else min(5, 1 + round(percent / 25))


def distinct(values: list[str]) -> list[str]:
    """``values`` stripped, each once (case aside), in their order."""
    seen: set[str] = set()
    kept = []
    for value in (v.strip() for v in values):
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept
