"""Photoshop documents (.psd): what a document says beside the picture Pillow decodes.

Pillow decodes a document's merged picture (its layers as Photoshop last showed them, saved
beside the layers) and keeps its image resources as they are (``PsdImageFile.resources``):
Photoshop writes the photo's XMP packet and EXIF there, where a JPEG has them in its own
segments. This module hands them to what reads a JPEG's (``common.xmp``, Pillow's ``Exif``), and
says why a document cannot be read, where Pillow only says it cannot identify it.
"""

from __future__ import annotations

import struct
from typing import Any

from PIL import Image

# Image resource ids (Adobe's "Photoshop File Formats Specification", "Image Resource IDs").
VERSION_INFO = 1057  # 0x0421: version, then whether the merged picture is real
EXIF_DATA = 1058  # 0x0422: the EXIF, as a TIFF structure
XMP_PACKET = 1060  # 0x0424


def _resource(image: Image.Image, resource_id: int) -> bytes | None:
    for found, _name, data in getattr(image, "resources", ()):
        if found == resource_id:
            return data
    return None


def psd_xmp(image: Image.Image) -> bytes | None:
    """The XMP packet of an open document, None without one."""
    return _resource(image, XMP_PACKET) or None


def psd_exif(image: Image.Image) -> bytes | None:
    """The EXIF of an open document (its TIFF structure), None without one."""
    return _resource(image, EXIF_DATA) or None


def lacks_its_merged_picture(image: Image.Image) -> bool:
    """Whether a document was saved without its merged picture ('Maximize Compatibility' off):
    Photoshop then leaves that picture blank, and only its layers hold the photo. Said by the
    version info resource's second field; a document without one (other programs) has it."""
    data = _resource(image, VERSION_INFO)
    return data is not None and len(data) >= 5 and not data[4]


NO_MERGED_PICTURE = (
    "a Photoshop document saved without its merged picture ('Maximize Compatibility' off): only its "
    "layers hold the picture, and imagedb reads the merged one: save it again with that option on"
)


def unreadable_document_reason(path: str) -> str | None:
    """Why Pillow cannot read the document at ``path``, from its header, in words a user can act
    on; None when it is no document or its header says nothing Pillow refuses."""
    try:
        with open(path, "rb") as file:
            header = file.read(26)
    except OSError:
        return None
    if len(header) < 26 or not header.startswith(b"8BPS"):
        return None
    version, depth = struct.unpack(">H", header[4:6])[0], struct.unpack(">H", header[22:24])[0]
    if version == 2:
        return "a large Photoshop document (PSB), which Pillow does not read: save it as a PSD or TIFF"
    if depth in (16, 32):
        return (
            f"a Photoshop document of {depth} bits a channel, which Pillow does not read (8 bits alone): "
            "save a copy in 8 bits, or as a TIFF"
        )
    return None


def with_its_xmp(image: Image.Image, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` (the open document's ``Image.info``) with its XMP packet, where common.xmp looks."""
    xmp = psd_xmp(image)
    return {**info, "xmp": xmp} if xmp else info
