"""Positions as people write them, for ``--near``: decimal degrees (``43.7696,11.2558``), and
with hemispheres, in degrees, minutes and seconds, as Wikipedia, Lightroom, Apple's and Google's
apps and GPS units show them (``43°46′11″N 11°15′21″E``, ``43.7696° N, 11.2558° E``,
``N 43° 46.183', E 11° 15.35'``, ``S 33° 52' 4", E 151° 12' 26"``).

A position is also read from the link a map shares (``position_in_link``): ``geo:43.77,11.25``
(RFC 5870, Android's share sheet), Google Maps, OpenStreetMap, Apple Maps and Bing Maps links.

A written position is read strictly: each coordinate its own hemisphere letter, one of N/S and
one of E/W, both before or both after, whole degrees before minutes and whole minutes before
seconds, minutes and seconds below 60. Text that is no position at all (a place's name) is None; text that reads as a
position none of the Earth has is refused with why (``NotAPosition``), never read as another.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_NUMBER = r"\d+(?:\.\d+)?"
# Two numbers, the second after a comma, a semicolon or a space: a latitude and a longitude.
DECIMAL = re.compile(rf"\s*([-+]?{_NUMBER})\s*[,;\s]\s*([-+]?{_NUMBER})\s*")
# A coordinate's degrees, minutes and seconds; degree signs as keyboards type them (° and the
# ordinal º, ˚), minutes and seconds with primes or with apostrophes and quotes.
_ANGLE = (
    r"(?P<degrees{n}>" + _NUMBER + r")\s*[°º˚]?\s*"
    r"(?:(?P<minutes{n}>" + _NUMBER + r")\s*['′’]\s*)?"
    r"(?:(?P<seconds{n}>" + _NUMBER + r")\s*(?:[\"″”]|'')\s*)?"
)
_HEMISPHERE = r"(?P<hemisphere{n}>[NSEW])"
# Both coordinates' hemispheres before them (N 43° 28', E 11° 53'), or both after (43°28′N
# 11°53′E): in '43.46N 11.88E' the N between the numbers could be either's otherwise.
WITH_HEMISPHERES = [
    re.compile(
        r"\s*" + first.format(n=1) + r"\s*" + second.format(n=1) + r"\s*[,;]?\s*"
        + first.format(n=2) + r"\s*" + second.format(n=2) + r"\s*",
        re.IGNORECASE,
    )
    for first, second in ((_HEMISPHERE, _ANGLE), (_ANGLE, _HEMISPHERE))
]  # fmt: skip


# What a map's link to share a place holds its position in, the place's own pin first, then
# what names a position, then the middle of the map as it was shown:
# - Google Maps: a place's pin in its data ('!3d43.77!4d11.25'), '?q=', '?query=' (its API) or
#   '?ll=' (older links), the map's middle after an '@' ('/maps/@43.77,11.25,15z').
# - OpenStreetMap: '?mlat=43.77&mlon=11.25' (a marker), '#map=15/43.77/11.25'.
# - Apple Maps: '?ll=', '?q=', '?coordinate=' (newer links), '?sll='; Bing Maps: '?cp=43.77~11.25'.
_LINK = re.compile(r"geo:.+|https?://\S+", re.IGNORECASE)  # a geo: pin's label may hold spaces
_SIGNED = rf"[-+]?{_NUMBER}"
_PIN = re.compile(rf"!3d({_SIGNED})!4d({_SIGNED})")
_POSITION_PARAMETERS = ("q", "query", "ll", "coordinate", "sll", "cp", "center")
_MAP_MIDDLE = re.compile(rf"/@({_SIGNED}),({_SIGNED})(?:,|$)")
_OPENSTREETMAP_VIEW = re.compile(rf"map=[\d.]+/({_SIGNED})/({_SIGNED})")


class NotAPosition(ValueError):
    """Text written as a position that no position on the Earth is; the message says why."""


def position_in(text: str) -> tuple[float, float] | None:
    """The (latitude, longitude) ``text`` writes, or None when it writes no position. Either may
    lie off the Earth (the caller says so, in its words); hemispheres, minutes and seconds are
    checked here."""
    if _LINK.fullmatch(text.strip()):
        return position_in_link(text.strip())
    decimal = DECIMAL.fullmatch(text)
    if decimal:
        return float(decimal.group(1)), float(decimal.group(2))
    written = next((m for pattern in WITH_HEMISPHERES if (m := pattern.fullmatch(text))), None)
    if written is None:
        return None
    coordinates = [_coordinate(written, n) for n in (1, 2)]
    by_axis = {hemisphere in "NS": value for hemisphere, value in coordinates}
    if len(by_axis) != 2:
        raise NotAPosition("give one coordinate north or south (N, S) and one east or west (E, W)")
    return by_axis[True], by_axis[False]


def _coordinate(written: re.Match[str], n: int) -> tuple[str, float]:
    """Coordinate ``n`` of a match of ``WITH_HEMISPHERES``: its hemisphere (upper case) and its
    signed value in degrees (south and west negative)."""
    hemisphere = written.group(f"hemisphere{n}").upper()
    degrees, minutes, seconds = (written.group(f"{part}{n}") for part in ("degrees", "minutes", "seconds"))
    if seconds is not None and minutes is None:
        raise NotAPosition(f"{seconds}″ has no minutes before it")
    for whole, after_it in ((degrees, minutes), (minutes, seconds)):
        if after_it is not None and "." in whole:
            raise NotAPosition(f"{whole} has a fraction and more after it: write 43°28.5′ or 43°28′30″")
    for part in (minutes, seconds):
        if part is not None and float(part) >= 60:
            raise NotAPosition(f"{part} is not below 60: minutes and seconds run 0 to 59")
    value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return hemisphere, -value if hemisphere in ("S", "W") else value


def position_in_link(link: str) -> tuple[float, float]:
    """The (latitude, longitude) in a ``geo:`` link or a map's web address (``_LINK``): pasted
    from a phone's share sheet or a browser, such links were 'no place of that name'.
    ``NotAPosition`` for one that holds none, saying what to give instead."""
    if link[:4].lower() == "geo:":  # geo:43.77,11.25[,altitude][;u=35][?z=15]
        where, _, query = link[4:].partition("?")
        # Android's pin with a label: geo:0,0?q=43.77,11.25(Duomo)
        pinned = re.match(rf"\s*({_SIGNED})\s*,\s*({_SIGNED})", parse_qs(query).get("q", [""])[0])
        if pinned:
            return float(pinned.group(1)), float(pinned.group(2))
        coordinates = where.split(";")[0].split(",")
        decimal = DECIMAL.fullmatch(",".join(coordinates[:2])) if len(coordinates) >= 2 else None
        if decimal is None:
            raise NotAPosition("a geo: link is geo:LATITUDE,LONGITUDE, as in geo:43.77,11.25")
        return float(decimal.group(1)), float(decimal.group(2))
    parts = urlsplit(link)
    pin = _PIN.search(parts.path)
    if pin:
        return float(pin.group(1)), float(pin.group(2))
    parameters = parse_qs(parts.query)
    marker = [parameters.get(name, [""])[0] for name in ("mlat", "mlon")]
    if all(re.fullmatch(_SIGNED, value) for value in marker):
        return float(marker[0]), float(marker[1])
    for name in _POSITION_PARAMETERS:
        for value in parameters.get(name, []):
            decimal = DECIMAL.fullmatch(value.replace("~", ","))
            if decimal:
                return float(decimal.group(1)), float(decimal.group(2))
    shown = _MAP_MIDDLE.search(parts.path) or _OPENSTREETMAP_VIEW.search(parts.fragment)
    if shown:
        return float(shown.group(1)), float(shown.group(2))
    raise NotAPosition(
        "no position in this web address; a shortened link? open it, then copy the address it ends at, "
        "or give the position as LAT,LON"
    )


def is_recorded_position(latitude: float, longitude: float) -> bool:
    """Whether a position a file or its sidecar records is one: on the Earth, and not 0, 0,
    which Google Takeout, cameras and apps write for none (a video's tags, a Takeout JSON, XMP)."""
    return (latitude, longitude) != (0.0, 0.0) and -90 <= latitude <= 90 and -180 <= longitude <= 180
