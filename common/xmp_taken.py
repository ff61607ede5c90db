"""When and where a photo's XMP says it was taken, and which of that a record keeps.

Photo software that never rewrites a camera's raw file keeps its edits of the date and the
position in the raw's XMP sidecar: Lightroom's "Edit Capture Time" (a camera's clock left on
another time zone), darktable's and digiKam's geotagging from a GPS track or a map. The sidecar
is the photo's edit, so what it says of when and where comes before the file's own EXIF; where
it says the same time or place, the EXIF's stays (it may hold the time zone, or the altitude).

A packet inside the file mostly repeats its EXIF: photo software keeps the two in step, and
where they differ a program that knows no XMP changed EXIF last (the Metadata Working Group's
rule). It fills only what EXIF lacks: a PNG or WebP exported with XMP alone, a scan that its
owner dated in Lightroom, a year alone where that is all anyone knows ("1975").

A date is kept as precise as it is written: a year, a month, a day, or a time (with its UTC
offset where written), in ISO 8601 as ``date_taken`` holds it. A position is whole: latitude,
longitude and, where written, altitude, from one source.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from common.positions import is_recorded_position
from common.xmp import DATES_MADE, DATES_TAKEN, EXIF, XmpRead

POSITION_COLUMNS = ("gps_latitude", "gps_longitude", "gps_altitude")
# Positions nearer than this (degrees: about a metre) are one place: darktable's sidecar writes a
# camera's own position to a millionth of a minute, not to EXIF's every digit.
SAME_PLACE_DEGREES = 1e-5
EARLIEST_YEAR = 1800  # before photography: a date no camera, scan or person meant

# XMP's dates (ISO 8601 to the precision known: '1975', '1975-06', '1975-06-14T10:00:00.37+02:00')
# and EXIF's form that some writers put in XMP too (darktable: '2021:07:14 10:00:00').
_DATE = re.compile(
    r"(?P<year>\d{4})(?:[-:](?P<month>\d\d)(?:[-:](?P<day>\d\d)"
    r"(?:[T ](?P<hour>\d\d):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:[.,]\d+)?)?"
    r"\s*(?P<zone>Z|[+-]\d\d:?\d\d)?)?)?)?"
)
# The EXIF schema for XMP's GPS coordinates: 'DDD,MM,SSk' or 'DDD,MM.mmk' (k: N, S, E or W); and
# the decimal degrees some writers put there ('-33.8568', '151.2153E').
_COORDINATE = re.compile(
    r"(?P<degrees>\d{1,3}(?:\.\d+)?)(?:,\s*(?P<minutes>\d{1,2}(?:\.\d+)?)(?:,\s*(?P<seconds>\d{1,2}(?:\.\d+)?))?)?"
    r"\s*(?P<reference>[NSEW])",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?P<degrees>\d{1,3}(?:\.\d+)?)")
_RATIONAL = re.compile(r"(?P<number>[+-]?\d+(?:\.\d+)?)(?:/(?P<denominator>\d+(?:\.\d+)?))?")


class TakenInXmp(NamedTuple):
    """When and where a photo's XMP says it was taken: its sidecar's (an edit, before the file's
    EXIF) and the file's own (its embedded packet's, or IPTC-IIM's date: after the EXIF), each
    the record columns it gives."""

    sidecar: dict[str, Any]
    packet: dict[str, Any]


NOTHING_IN_XMP = TakenInXmp({}, {})


def taken_in_xmp(read: XmpRead, iim_date: str | None = None) -> TakenInXmp:
    """What ``read`` (``common.xmp.read_xmp``) says of when and where: a sidecar's date is when
    the photo was taken (an edit); the file's own, its packet's, else IPTC-IIM's Date Created
    (``iim_date``: ``common.iptc.date_created``, older software's, which the file holds beside
    its packet), else when its file was made."""
    packet = taken_columns(read.packet_taken, made_too=True, iim_date=iim_date)
    return TakenInXmp(taken_columns(read.sidecar_taken), packet)


def taken_columns(
    properties: dict[tuple[str, str], str], *, made_too: bool = False, iim_date: str | None = None
) -> dict[str, Any]:
    """The ``date_taken`` and position columns XMP ``properties`` (as ``common.xmp`` collects them)
    give, only those they hold. Without a date taken there, ``iim_date``, then, ``made_too``,
    when the file was made (as EXIF's reading falls back to DateTimeDigitized)."""
    found: dict[str, Any] = {}
    written = [properties.get(key) for key in DATES_TAKEN] + [iim_date]
    written += [properties.get(key) for key in DATES_MADE] if made_too else []
    date = next((parsed for value in written if value and (parsed := xmp_date(value))), None)
    if date:
        found["date_taken"] = date
    latitude = xmp_degrees(properties.get((EXIF, "GPSLatitude")), "NS")
    longitude = xmp_degrees(properties.get((EXIF, "GPSLongitude")), "EW")
    if latitude is not None and longitude is not None and is_recorded_position(latitude, longitude):
        altitude = xmp_altitude(properties.get((EXIF, "GPSAltitude")), properties.get((EXIF, "GPSAltitudeRef")))
        found.update(gps_latitude=latitude, gps_longitude=longitude, gps_altitude=altitude)
    return found


def xmp_date(value: str | None) -> str | None:
    """An XMP date as ``date_taken`` holds it, as precise as written ('1975', '1975-06',
    '1975-06-14', '1975-06-14T10:00:00', '…+02:00'); None for one that is no date."""
    matched = _DATE.fullmatch((value or "").strip())
    if matched is None:
        return None
    parts = {name: int(part) for name, part in matched.groupdict().items() if part and name != "zone"}
    try:
        datetime(parts["year"], parts.get("month", 1), parts.get("day", 1), parts.get("hour", 0), parts.get("minute", 0), parts.get("second", 0))  # fmt: skip
    except ValueError:  # month 13, 30 February, 0000: no date
        return None
    if parts["year"] < EARLIEST_YEAR:
        return None
    if "hour" in parts:
        when = "{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}".format(**{"second": 0, **parts})
        return when + _offset(matched["zone"])
    return "-".join(
        f"{parts[name]:0{4 if name == 'year' else 2}d}" for name in ("year", "month", "day") if name in parts
    )


def _offset(zone: str | None) -> str:
    """'+02:00' for '+02:00' or '+0200', '+00:00' for 'Z', '' for none."""
    if not zone:
        return ""
    if zone.upper() == "Z":
        return "+00:00"
    digits = zone[1:].replace(":", "")
    return f"{zone[0]}{digits[:2]}:{digits[2:]}" if int(digits[:2]) <= 14 and int(digits[2:]) < 60 else ""


def xmp_degrees(value: str | None, references: str) -> float | None:
    """An XMP GPS coordinate in degrees, south and west negative; None for one that is not
    written as one, refers to the other axis (``references``: 'NS' or 'EW'), or is off the Earth."""
    text = (value or "").strip()
    matched = _COORDINATE.fullmatch(text)
    if matched:
        if matched["reference"].upper() not in references:
            return None
        minutes, seconds = float(matched["minutes"] or 0), float(matched["seconds"] or 0)
        if minutes >= 60 or seconds >= 60:
            return None
        degrees = float(matched["degrees"]) + minutes / 60 + seconds / 3600
        degrees = -degrees if matched["reference"].upper() == references[1] else degrees
    elif decimal := _DECIMAL.fullmatch(text):
        degrees = float(decimal["degrees"]) * (-1 if decimal["sign"] == "-" else 1)
    else:
        return None
    bound = 90 if references == "NS" else 180
    return round(degrees, 8) if -bound <= degrees <= bound else None


def xmp_altitude(value: str | None, reference: str | None) -> float | None:
    """An XMP GPS altitude in metres ('3500/100'), below sea level negative (reference '1')."""
    matched = _RATIONAL.fullmatch((value or "").strip())
    if matched is None:
        return None
    denominator = float(matched["denominator"] or 1)
    if denominator == 0:
        return None
    metres = float(matched["number"]) / denominator
    return -abs(metres) if (reference or "").strip() == "1" else metres


def taken_as_xmp_says(record: dict[str, Any], taken: TakenInXmp) -> dict[str, Any]:
    """``record`` (what the file's EXIF or a video's tags say) with its date and position as its
    XMP has them: its sidecar's where it says another time or place, its packet's where the
    record has none."""
    kept = dict(record)
    edited, written = taken.sidecar.get("date_taken"), taken.packet.get("date_taken")
    if edited:
        kept["date_taken"] = _more_precise(kept.get("date_taken"), edited)
    elif not kept.get("date_taken") and written:
        kept["date_taken"] = written
    has_position = kept.get("gps_latitude") is not None and kept.get("gps_longitude") is not None
    if "gps_latitude" in taken.sidecar and not (has_position and _same_place(kept, taken.sidecar)):
        kept.update({column: taken.sidecar.get(column) for column in POSITION_COLUMNS})
    elif not has_position and "gps_latitude" in taken.packet:
        kept.update({column: taken.packet.get(column) for column in POSITION_COLUMNS})
    return kept


def _more_precise(stored: str | None, edited: str) -> str:
    """``edited``, unless ``stored`` says the same time more precisely (a time where the edit
    has the day, or its UTC offset too): then ``stored``."""
    if not stored:
        return edited
    shorter = min(len(stored[:19]), len(edited[:19]))
    same = stored[:shorter] == edited[:shorter]
    return stored if same and len(stored) > len(edited) else edited


def _same_place(record: dict[str, Any], columns: dict[str, Any]) -> bool:
    return all(
        abs(float(record[c]) - float(columns[c])) < SAME_PLACE_DEGREES for c in ("gps_latitude", "gps_longitude")
    )
