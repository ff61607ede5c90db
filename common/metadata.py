"""Describe an image file: file-system facts, EXIF (read with exifread) and PNG text chunks.

exifread is the primary reader because it understands JPEG, TIFF, HEIC, PNG and WebP EXIF
and exposes raw values (rationals, GPS triples) we can convert exactly. Pillow's EXIF parser
is the fallback for files exifread cannot read (some AVIF/WebP layouts, odd containers), and
reads the UserComment, which exifread only returns when it also decodes maker notes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import exifread
from PIL import ExifTags

from common.decoding import ExifIfds
from common.windows_tags import WINDOWS_TAG_NAMES, windows_text

log = logging.getLogger(__name__)
# exifread logs every odd tag at WARNING; the file still indexes, so keep those quiet.
logging.getLogger("exifread").setLevel(logging.ERROR)

MAX_EXIF_VALUE_CHARS = 1000
# LensSpecification as exifread prints it, the lens's name in rows an older imagedb wrote.
_PRINTED_SPECIFICATION = re.compile(r"\[(?P<values>[^\[\],]*(?:,[^\[\],]*){3})\]")
EXIF_FIELDS = (
    "make", "model", "lens", "date_taken", "iso", "exposure_time", "f_number", "focal_length",
    "orientation", "gps_latitude", "gps_longitude", "gps_altitude", "description",
    "user_comment", "artist", "software",
)  # fmt: skip


def file_facts(path: str) -> dict[str, Any]:
    """Path-derived and ``stat`` columns of a record."""
    st = os.stat(path)
    folder, filename = os.path.split(path)
    return {
        "path": path,
        "folder": folder,
        "filename": filename,
        "extension": os.path.splitext(filename)[1].lower().lstrip("."),
        "size_bytes": st.st_size,
        "mtime": st.st_mtime,
        "modified": datetime.fromtimestamp(st.st_mtime).isoformat(timespec="seconds"),
        "created": float(getattr(st, "st_birthtime", st.st_ctime)),
    }


def content_hash(path: str) -> str:
    """sha256 of the file's bytes: equal hashes are exact duplicates, whatever their names."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_exif(path: str, pillow: ExifIfds | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (the normalised EXIF columns, every tag as printable text) for ``path``.

    ``pillow``: Pillow's view of the same EXIF (``DecodedImage.exif``, read while decoding), for
    the UserComment and for files exifread cannot read; None where Pillow found none (videos).
    """
    tags = _exifread_tags(path)
    if not tags:
        return _pillow_exif(pillow)
    columns = _columns_from_exifread(tags)
    raw = {k: _clip(v.printable) for k, v in tags.items()}
    # exifread ends a text tag at its first NUL, and Copyright may hold two notices NUL apart
    # (the photographer's, then the editor's: common.describe.copyright_of), as Pillow reads it.
    notice = pillow.image.get(ExifTags.Base.Copyright) if pillow else None
    if isinstance(notice, str) and "\x00" in notice.strip("\x00"):
        raw["Image Copyright"] = _clip(notice)
    # exifread prints Windows' UTF-16 tags as lists of byte values ("[83, 0, 117, 0, ...]"):
    # exif_json and --export keep their text instead.
    for name, tag in WINDOWS_TAG_NAMES.items():
        if f"Image {name}" in raw and pillow and (text := windows_text(pillow.image.get(tag))):
            raw[f"Image {name}"] = _clip(text)
    if "Image ExifOffset" in tags:  # only an EXIF sub-IFD holds a UserComment
        comment = pillow.exif.get(ExifTags.Base.UserComment) if pillow else None
        columns["user_comment"] = decode_user_comment(comment) if comment else None
        if columns["user_comment"]:
            raw["EXIF UserComment"] = _clip(columns["user_comment"])
    return columns, raw


def _exifread_tags(path: str) -> dict[str, Any]:
    """exifread's tags, without maker notes.

    ``details=False`` skips the maker note (and UserComment, which Pillow reads while decoding):
    exifread reads a maker note's bytes one call at a time in Python, 5-30 ms for a DSLR photo
    and over 100 ms for a malformed one — as much worker CPU as decoding and cropping the photo,
    for camera-private fields no column uses.
    """
    try:
        with open(path, "rb") as handle:
            tags = exifread.process_file(handle, details=False, extract_thumbnail=False)
    except Exception as error:  # exifread raises on malformed IFDs; Pillow may still cope.
        log.debug("exifread failed on %s: %s", path, error)
        return {}
    return {k: v for k, v in tags.items() if not k.startswith("Thumbnail") and hasattr(v, "values")}


def _columns_from_exifread(tags: dict[str, Any]) -> dict[str, Any]:
    def text(*names: str) -> str | None:
        for name in names:
            tag = tags.get(name)
            if tag is not None:
                value = _clean_text(tag.values if isinstance(tag.values, str) else tag.printable)
                if value:
                    return value
        return None

    def number(*names: str) -> float | None:
        for name in names:
            tag = tags.get(name)
            if tag is not None and not isinstance(tag.values, str) and tag.values:
                value = _to_float(tag.values[0])
                if value is not None:
                    return value
        return None

    orientation = number("Image Orientation")
    iso = number("EXIF ISOSpeedRatings", "EXIF PhotographicSensitivity")
    columns = {
        "make": text("Image Make"),
        "model": text("Image Model"),
        "lens": text("EXIF LensModel") or lens_from_specification(_values(tags.get("EXIF LensSpecification"))),
        "date_taken": _iso_datetime(
            text("EXIF DateTimeOriginal", "EXIF DateTimeDigitized", "Image DateTime"),
            text("EXIF OffsetTimeOriginal", "EXIF OffsetTime"),
        ),
        "iso": int(iso) if iso is not None else None,
        "exposure_time": number("EXIF ExposureTime"),
        "f_number": number("EXIF FNumber"),
        "focal_length": number("EXIF FocalLength"),
        "orientation": int(orientation) if orientation in range(1, 9) else None,
        "gps_latitude": _gps_degrees(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef", "S"),
        "gps_longitude": _gps_degrees(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef", "W"),
        "gps_altitude": _gps_altitude(tags),
        "description": text("Image ImageDescription"),
        "user_comment": None,  # read_exif fills it in (exifread skips it without maker notes)
        "artist": text("Image Artist"),
        "software": text("Image Software"),
    }
    return columns


def decode_user_comment(raw: Any) -> str | None:
    """Decode EXIF UserComment: an 8-byte charset prefix (ASCII, UNICODE, JIS or undefined) + data."""
    if isinstance(raw, str):
        return _clean_text(raw)
    try:
        data = bytes(raw)
    except (TypeError, ValueError):
        return _clean_text(str(raw))
    prefix, body = data[:8], data[8:]
    if prefix.startswith(b"UNICODE"):
        # The byte order follows the TIFF header, which exifread does not hand us: pick the
        # decoding that yields fewer NULs in the low bytes of ASCII-range text.
        big, little = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
        text = big if sum(c.isascii() for c in big) >= sum(c.isascii() for c in little) else little
    elif prefix.startswith(b"JIS"):
        text = body.decode("shift_jis", "replace")
    elif prefix.startswith(b"ASCII") or prefix == b"\x00" * 8:
        text = body.decode("utf-8", "replace")
    else:
        text = data.decode("utf-8", "replace")
    return _clean_text(text)


def _gps_degrees(tags: dict[str, Any], name: str, ref_name: str, negative_ref: str) -> float | None:
    tag = tags.get(name)
    if tag is None or isinstance(tag.values, str) or len(tag.values) != 3:
        return None
    parts = [_to_float(v) for v in tag.values]
    if any(p is None for p in parts):
        return None
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    ref = tags.get(ref_name)
    if ref is not None and str(ref.values).strip().upper().startswith(negative_ref):
        degrees = -degrees
    return round(degrees, 8)


def _gps_altitude(tags: dict[str, Any]) -> float | None:
    tag = tags.get("GPS GPSAltitude")
    if tag is None or isinstance(tag.values, str) or not tag.values:
        return None
    altitude = _to_float(tag.values[0])
    ref = tags.get("GPS GPSAltitudeRef")
    if altitude is not None and ref is not None and not isinstance(ref.values, str) and ref.values == [1]:
        altitude = -altitude
    return altitude


def _pillow_exif(ifds: ExifIfds | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Fallback EXIF reader for files exifread does not understand: Pillow's directories."""
    columns: dict[str, Any] = dict.fromkeys(EXIF_FIELDS)
    if ifds is None:
        return columns, {}
    exif, sub, gps = ifds
    raw: dict[str, str] = {}
    for ifd_name, ifd, names in (
        ("Image", exif, ExifTags.TAGS),
        ("EXIF", sub, ExifTags.TAGS),
        ("GPS", gps, ExifTags.GPSTAGS),
    ):
        for key, value in ifd.items():
            if key in (ExifTags.Base.ExifOffset, ExifTags.Base.GPSInfo) and ifd_name == "Image":
                continue
            raw[f"{ifd_name} {names.get(key, hex(key))}"] = _clip(str(value))
    merged = {
        **{ExifTags.TAGS.get(k, k): v for k, v in exif.items()},
        **{ExifTags.TAGS.get(k, k): v for k, v in sub.items()},
    }

    def text(key: str) -> str | None:
        value = merged.get(key)
        if isinstance(value, bytes):
            return decode_user_comment(value)
        return _clean_text(str(value)) if value is not None else None

    orientation = merged.get("Orientation")
    iso = merged.get("ISOSpeedRatings") or merged.get("PhotographicSensitivity")
    columns.update(
        make=text("Make"), model=text("Model"),
        lens=text("LensModel") or lens_from_specification(merged.get("LensSpecification") or ()),
        date_taken=_iso_datetime(text("DateTimeOriginal") or text("DateTime"), text("OffsetTimeOriginal")),
        iso=int(iso[0] if isinstance(iso, tuple) else iso) if iso else None,
        exposure_time=_to_float(merged.get("ExposureTime")), f_number=_to_float(merged.get("FNumber")),
        focal_length=_to_float(merged.get("FocalLength")),
        orientation=orientation if orientation in range(1, 9) else None,
        description=text("ImageDescription"), user_comment=text("UserComment"),
        artist=text("Artist"), software=text("Software"),
    )  # fmt: skip
    for axis, key, ref_key, negative in (("latitude", 2, 1, "S"), ("longitude", 4, 3, "W")):
        value = gps.get(key)
        if value and len(value) == 3:
            degrees = sum(float(v) / d for v, d in zip(value, (1, 60, 3600), strict=True))
            columns[f"gps_{axis}"] = round(
                -degrees if str(gps.get(ref_key, "")).upper().startswith(negative) else degrees, 8
            )
    return columns, raw


def png_text_chunks(info: dict) -> dict[str, str]:
    """tEXt/iTXt/zTXt chunks Pillow exposes in ``Image.info`` (e.g. a generator's prompt)."""
    return {
        str(key): _clip(value)
        for key, value in info.items()
        if isinstance(value, str) and key not in {"icc_profile", "exif", "xmp", "XML:com.adobe.xmp"} and value.strip()
    }


def exif_json(raw_tags: dict[str, str]) -> str | None:
    return json.dumps(raw_tags, ensure_ascii=False, sort_keys=True) if raw_tags else None


def _iso_datetime(value: str | None, offset: str | None = None) -> str | None:
    """EXIF 'YYYY:MM:DD HH:MM:SS' (plus optional offset) as ISO 8601; None when unparsable."""
    if not value:
        return None
    value = value.strip().replace("-", ":")[:19]
    try:
        parsed = datetime.strptime(value, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        try:
            parsed = datetime.strptime(value[:10], "%Y:%m:%d")
        except ValueError:
            return None
    iso = parsed.isoformat()
    if offset and len(offset.strip()) == 6 and offset.strip()[0] in "+-":
        iso += offset.strip()
    return iso


def lens_from_specification(values: Sequence[Any]) -> str | None:
    """The lens a camera that writes no LensModel (older DSLRs, some phones) describes in EXIF's
    LensSpecification (the shortest and longest focal length, the widest aperture at each), in
    words as ExifTool writes them: '18-70mm f/3.5-4.5', '4.15mm f/2.2'. A part the camera gives
    as unknown (0/0, 0) is left out; None where no focal length is known. The tag's own printing,
    '[18, 70, 7/2, 9/2]', was the lens's name before (``lens_in_words`` mends stored rows)."""
    numbers = [_to_float(value) for value in values]
    if len(numbers) != 4:
        return None
    focal, aperture = _span(numbers[0], numbers[1]), _span(numbers[2], numbers[3])
    if focal is None:
        return None
    return f"{focal}mm f/{aperture}" if aperture else f"{focal}mm"


def lens_in_words(lens: str | None) -> str | None:
    """A stored ``lens`` that is LensSpecification's printing ('[18, 70, 7/2, 9/2]', as rows an
    older imagedb wrote hold it) in words (``lens_from_specification``); any other as it is."""
    written = _PRINTED_SPECIFICATION.fullmatch(lens or "")
    if written is None:
        return lens
    values = [_printed_number(part) for part in written["values"].split(",")]
    if any(value is None for value in values):
        return lens
    return lens_from_specification(values)


def _printed_number(text: str) -> float | None:
    """A number as exifread prints a rational ('7/2', '18'; '0/0', unknown: 0); None if none."""
    numerator, _, denominator = text.strip().partition("/")
    try:
        top, bottom = float(numerator), float(denominator or 1)
    except ValueError:
        return None
    return top / bottom if bottom else 0.0


def _span(low: float | None, high: float | None) -> str | None:
    """'18-70' from 18 and 70, '4.15' from 4.15 twice or from one alone; None from none."""
    known = [f"{round(value, 2):g}" for value in (low, high) if value]
    return "-".join(dict.fromkeys(known)) or None


def _values(tag: Any) -> Sequence[Any]:
    return tag.values if tag is not None and not isinstance(tag.values, str) else ()


def _to_float(value: Any) -> float | None:
    try:
        if hasattr(value, "num") and hasattr(value, "den"):
            return None if value.den == 0 else float(value.num) / float(value.den)
        result = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def _clean_text(value: str) -> str | None:
    cleaned = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip().strip("\x00").strip()
    return cleaned or None


def _clip(value: str) -> str:
    return value if len(value) <= MAX_EXIF_VALUE_CHARS else value[:MAX_EXIF_VALUE_CHARS] + "…"
