"""When and where a camcorder's AVCHD clip (``.MTS``, ``.M2TS``) was recorded, and by whose camera.

An AVCHD clip is an MPEG transport stream with no tags: Sony's, Panasonic's, Canon's and JVC's
camcorders (and the compacts and mirrorless cameras that film AVCHD) write when it was
recorded into the H.264 stream itself, as "Modified Digital Video Pack Metadata" (MDPM) in the
SEI user data of its frames, and those with a GPS (Sony's "V" camcorders and HX compacts,
Panasonic's travel zooms) where. Without it such clips had no date (their names, ``00042.MTS``,
say none), and a date filter, a timeline or ``--near`` left a decade of home videos out.

The MDPM is found by its UUID in the first access units the demuxer hands over (a Panasonic
puts it in the second), nothing decoded, and its entries read as ExifTool documents them
(``Image::ExifTool::H264``): five bytes each, a tag and four bytes of value. FFmpeg's decoder
would hand the same bytes over as a frame's side data, but decoding the first frame cost a
generated 1080p clip's read ~60 ms of CPU more (~35 %), where finding them in the packets costs
nothing measurable: the one step the decoder would have taken that this does is taking out the
bytes H.264 puts in so that no 00 00 01 appears inside a unit (``_unescaped``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.positions import is_recorded_position

log = logging.getLogger(__name__)

# The user data's UUID (ExifTool's H264.pm), then the four letters that say MDPM follows.
MDPM_START = bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66") + b"MDPM"
# FFmpeg's name for the container AVCHD is written in: only its H.264 streams are looked into,
# not every undated phone video or screen recording.
AVCHD_CONTAINER = "mpegts"
# How many access units (frames, as stored) from the start are looked in for it: it is in the
# first (the second on a Panasonic).
UNITS_LOOKED_AT = 4
START_CODE = b"\x00\x00\x01"  # what begins each NAL unit in a transport stream's H.264
ENTRY_SIZE = 5  # a tag and four bytes
DATE_TAG, TIME_TAG = 0x18, 0x19  # [zone, century, year, month] [day, hour, minute, second], BCD
MAKER_TAG = 0xE0  # the maker's code, two bytes big-endian, then the model's (a code, not a name)
SONY_MODEL_TAGS = (0xE4, 0xE5, 0xE6)  # a Sony's model name, ASCII, four bytes a tag
# The makers by their code, spelt as their cameras' EXIF spells them: a camera's clips and photos
# are one camera (``--stats``, ``--where "make = 'SONY'"``).
MAKERS = {0x0103: "Panasonic", 0x0108: "SONY", 0x1011: "Canon", 0x1104: "JVC"}
# The GPS entries, as EXIF's GPS tags are: a reference ('N', 'S', 'E', 'W' and NULs), then degrees,
# minutes and seconds, each a rational of two 16-bit numbers (ExifTool's rational32u), big-endian.
LATITUDE_TAGS, LONGITUDE_TAGS = (0xB1, 0xB2, 0xB3, 0xB4), (0xB5, 0xB6, 0xB7, 0xB8)
ALTITUDE_REFERENCE_TAG, ALTITUDE_TAG = 0xB9, 0xBA  # below sea level where the reference is not 0
GPS_STATUS_TAG = 0xBE  # 'A' measuring, 'V' void: no fix, the position is none


@dataclass(frozen=True)
class Mdpm:
    """What a clip's MDPM says, None where it says nothing."""

    # When it was recorded, as the camera's clock showed it (local time; the zone byte beside it
    # is left alone: what its flags mean is not settled, and the local time is what a timeline
    # orders by).
    recorded: datetime | None = None
    make: str | None = None
    model: str | None = None  # a Sony's alone: the others write a code
    position: dict[str, float | None] | None = None  # the record's GPS columns, where it has a position


def mdpm_of(container: Any, stream: Any) -> Mdpm:
    """The MDPM in the first access units of ``stream``, ``container`` sought back to its start
    after; an empty one for a stream that is not an AVCHD clip's H.264 (nothing read) or holds
    none. A unit that cannot be read costs the MDPM, not the clip."""
    import av

    if container.format.name != AVCHD_CONTAINER or stream.codec_context.name != "h264":
        return Mdpm()
    try:
        return _first_mdpm(bytes(packet) for packet in container.demux(stream) if packet.size)
    except av.FFmpegError as error:
        log.debug("cannot read the first units of %s: %s", container.name, error)
        return Mdpm()
    finally:
        container.seek(0)


def _first_mdpm(units: Iterable[bytes]) -> Mdpm:
    for unit in itertools.islice(units, UNITS_LOOKED_AT):
        found = unit.find(MDPM_START)  # (its UUID holds no two zeros: never escaped)
        if found >= 0:
            start = found + len(MDPM_START)
            end = unit.find(START_CODE, start)  # the next NAL unit's (never inside one: ``_unescaped``)
            return mdpm_of_entries(_unescaped(unit[start : end if end >= 0 else len(unit)]))
    return Mdpm()


def _unescaped(data: bytes) -> bytes:
    """A NAL unit's bytes without its emulation-prevention bytes: H.264 writes 00 00 03 for 00 00
    followed by a byte of 0-3 (a date's 00 00 01, midnight and a second), and the 03 is not data."""
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


def mdpm_of_entries(data: bytes) -> Mdpm:
    """What MDPM entries say (``data``: their count, then the entries)."""
    count = data[0] if data else 0
    values = {
        data[start]: data[start + 1 : start + ENTRY_SIZE]
        for start in range(1, 1 + count * ENTRY_SIZE, ENTRY_SIZE)
        if start + ENTRY_SIZE <= len(data)
    }
    maker = values.get(MAKER_TAG)
    make = MAKERS.get(int.from_bytes(maker[:2], "big")) if maker else None
    model = None
    if make == "SONY":
        written = b"".join(values.get(tag, b"") for tag in SONY_MODEL_TAGS).split(b"\x00")[0].strip()
        model = written.decode() if written and written.isascii() and written.decode().isprintable() else None
    return Mdpm(_recorded(values.get(DATE_TAG), values.get(TIME_TAG)), make, model, _position(values))


def as_exif_spells(make: str) -> str:
    """A maker's name as its cameras' EXIF spells it ('Sony' → 'SONY'), where ``MAKERS`` has it."""
    return next((spelt for spelt in MAKERS.values() if spelt.casefold() == make.casefold()), make)


def _recorded(date: bytes | None, time: bytes | None) -> datetime | None:
    """The time of the date and time entries (binary-coded decimal after the zone byte); None
    without both, or where they are no time (a digit over 9, a 13th month)."""
    if date is None or time is None:
        return None
    digits = date[1:] + time  # century, year, month, day, hour, minute, second
    if any(byte >> 4 > 9 or byte & 0x0F > 9 for byte in digits):
        return None
    century, year, month, day, hour, minute, second = ((byte >> 4) * 10 + (byte & 0x0F) for byte in digits)
    try:
        return datetime(century * 100 + year, month, day, hour, minute, second)
    except ValueError:
        return None


def _position(values: dict[int, bytes]) -> dict[str, float | None] | None:
    """The GPS columns of the GPS entries in ``values`` (an MDPM's, by tag); None without a
    latitude and a longitude both, with a void fix, or with values no position has (a minute of
    60, a degree past 90 or 180, a denominator of 0)."""
    if values.get(GPS_STATUS_TAG, b"")[:1] == b"V":
        return None
    latitude, longitude = _degrees(values, LATITUDE_TAGS, b"NS", 90), _degrees(values, LONGITUDE_TAGS, b"EW", 180)
    if latitude is None or longitude is None or not is_recorded_position(latitude, longitude):
        return None
    altitude = _rational(values.get(ALTITUDE_TAG))
    if altitude is not None and values.get(ALTITUDE_REFERENCE_TAG, bytes(4)) != bytes(4):
        altitude = -altitude
    return {"gps_latitude": latitude, "gps_longitude": longitude, "gps_altitude": altitude}


def _degrees(values: dict[int, bytes], tags: tuple[int, int, int, int], references: bytes, most: int) -> float | None:
    """Signed decimal degrees of a reference entry and three rationals (degrees, minutes,
    seconds); None where one is missing or out of its range."""
    reference_tag, *parts = tags
    reference = values.get(reference_tag, b"")[:1]
    degrees, minutes, seconds = (_rational(values.get(tag)) for tag in parts)
    if reference not in (references[:1], references[1:]) or degrees is None or minutes is None or seconds is None:
        return None
    if not (0 <= degrees <= most and 0 <= minutes < 60 and 0 <= seconds < 60):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    return round(-value if reference == references[1:] else value, 8) if value <= most else None


def _rational(value: bytes | None) -> float | None:
    """A rational of two big-endian 16-bit numbers; None without one or with a denominator of 0."""
    if value is None or len(value) != 4:
        return None
    numerator, denominator = int.from_bytes(value[:2], "big"), int.from_bytes(value[2:], "big")
    return numerator / denominator if denominator else None
