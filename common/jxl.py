"""JPEG XL files known, and their EXIF and XMP read from their boxes, without decoding a picture.

pillow-jxl-plugin decodes the whole picture to open a file (0.45 s of CPU for 24 MP) and keeps
its EXIF alone: a header read (a copy of an indexed file, a sidecar edited: ``header_of``) would
decode every picture it reads, and the XMP where Lightroom and other editors write keywords, a
title and a rating (the ``xml `` box) was dropped. A JPEG XL file in its container is a run of
boxes (ISO/IEC 18181-2, walked as ISO base media files are: ``common.boxes``); libjxl may
compress a metadata box with Brotli (a ``brob`` box: the type it stands for, then the
compressed data). A bare codestream, without the container, holds neither.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from common.boxes import boxes_in, read_box

log = logging.getLogger(__name__)

CONTAINER_SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
CODESTREAM_SIGNATURE = b"\xff\x0a"  # a bare codestream, without the container
EXIF_BOX, XMP_BOX, COMPRESSED_BOX = b"Exif", b"xml ", b"brob"
# More than any photo's EXIF or XMP: what a damaged size would have read into memory instead.
MOST_METADATA_BYTES = 16 * 1024 * 1024


def is_jpeg_xl(path: str) -> bool:
    """Whether the file at ``path`` starts as a JPEG XL does (its container, or a bare
    codestream): what its plugin recognises, known without decoding the picture as the plugin's
    opening does. Raises OSError when it cannot be read."""
    with open(path, "rb") as file:
        start = file.read(len(CONTAINER_SIGNATURE))
    return start == CONTAINER_SIGNATURE or start.startswith(CODESTREAM_SIGNATURE)


@dataclass(frozen=True)
class JxlMetadata:
    """What a JPEG XL file's metadata boxes hold; None where it has no such box."""

    exif: bytes | None = None  # the TIFF structure, as Pillow's ``Exif.load`` takes it after 'Exif\0\0'
    xmp: bytes | None = None


def jxl_metadata(path: str) -> JxlMetadata:
    """The EXIF and XMP of the JPEG XL file at ``path``, its boxes read one header at a time
    (their data skipped, the codestream's too). Raises OSError when it cannot be read."""
    found: dict[bytes, bytes] = {}
    with open(path, "rb") as file:
        if file.read(len(CONTAINER_SIGNATURE)) != CONTAINER_SIGNATURE:
            return JxlMetadata()
        for box in boxes_in(file, len(CONTAINER_SIGNATURE)):
            if box.kind not in (EXIF_BOX, XMP_BOX, COMPRESSED_BOX):
                continue
            kind, data = box.kind, read_box(file, box, MOST_METADATA_BYTES)
            if kind == COMPRESSED_BOX and data is not None:
                kind, data = data[:4], _decompressed(data[4:], path) if data[:4] in (EXIF_BOX, XMP_BOX) else None
            if data is not None:
                found.setdefault(kind, data)
            if len(found) == 2:
                break
    return JxlMetadata(_tiff_of(found.get(EXIF_BOX)), found.get(XMP_BOX) or None)


TIFF_STARTS = (b"MM\x00*", b"II*\x00")


def _tiff_of(box: bytes | None) -> bytes | None:
    """An Exif box's TIFF structure: the box starts with the offset to it (0, as libjxl writes
    it), or with the structure itself, as pillow-jxl-plugin writes it."""
    if box is None or len(box) < 8:
        return None
    if box[:4] in TIFF_STARTS:
        return box
    return box[4 + struct.unpack(">I", box[:4])[0] :] or None


def _decompressed(data: bytes, path: str) -> bytes | None:
    import brotli

    try:
        return brotli.decompress(data)
    except brotli.error as error:
        log.debug("a compressed metadata box of %s does not decompress: %s", path, error)
        return None
