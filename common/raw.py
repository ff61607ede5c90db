"""Camera raw files: the picture the camera embedded in them, read with LibRaw (``rawpy``).

Every raw format (DNG, Canon's CR2 and CR3, Nikon's NEF, Sony's ARW, Fujifilm's RAF, ...) keeps
a preview the camera rendered from the sensor data: full size on most cameras of the last
fifteen years, a megapixel or two on older ones. It is what the photographer saw on the
camera's screen and what Lightroom shows until it has rendered the raw itself, and reading it
costs a JPEG decode where developing the raw (demosaicing, white balance, colour) costs
seconds. Only when the preview is smaller than the model's input (or there is none) is the raw
developed, at half size (each 2×2 block of sensor sites one pixel), with the camera's white
balance.

LibRaw leaves the preview as the sensor lies: the raw's orientation (``sizes.flip``) turns it
upright. The size recorded is the developed raw's, upright, as for any photo.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from common.decoding import ExifIfds

# LibRaw's flip (how far the picture turns to be upright: 3 half a turn, 5 a quarter turn
# counter-clockwise, 6 clockwise, as EXIF's orientations 3, 8 and 6) → Pillow's transposition.
TRANSPOSE_FOR_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}


@dataclass
class RawPicture:
    image: Image.Image  # upright RGB: the embedded preview, or the raw developed at half size
    width: int  # the developed raw's size, upright
    height: int
    format: str  # the extension, upper case: "NEF", "CR3", "DNG"
    exif: ExifIfds | None  # the preview's own EXIF, where it has one (Fujifilm's): exifread's fallback


def read_raw(path: str, min_side: int | None = None) -> RawPicture:
    """The picture in the raw file at ``path``: its embedded preview when that has at least
    ``min_side`` pixels on its shortest side (any size when ``min_side`` is None), else the raw
    developed at half size. Raises LibRaw's errors (``rawpy.LibRawError``) for a file it cannot read."""
    import rawpy

    with rawpy.imread(path) as raw:
        sizes = raw.sizes
        preview, exif = _preview(raw, min_side)
        if preview is None:
            # postprocess turns the picture upright itself.
            image = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
        else:
            transpose = TRANSPOSE_FOR_FLIP.get(sizes.flip)
            image = preview.transpose(transpose) if transpose is not None else preview
    width, height = (sizes.height, sizes.width) if sizes.flip in (5, 6) else (sizes.width, sizes.height)
    raw_format = os.path.splitext(path)[1].lstrip(".").upper()
    return RawPicture(image.convert("RGB"), width, height, raw_format, exif)


def _preview(raw: Any, min_side: int | None) -> tuple[Image.Image | None, ExifIfds | None]:
    """The raw's embedded preview (LibRaw picks the largest), decoded, and its EXIF; (None,
    None) without one, or with one under ``min_side`` on its shortest side. A JPEG preview is
    decoded at reduced size as any JPEG is (``common.decoding.decode_image``): a full-size one
    of 24 MP in ~20 ms instead of ~150."""
    import rawpy

    from common.decoding import exif_ifds, reduced_size

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        bitmap = Image.fromarray(thumb.data)
        return (None, None) if min_side is not None and min(bitmap.size) < min_side else (bitmap, None)
    with Image.open(io.BytesIO(thumb.data)) as preview:
        if min_side is not None:
            if min(preview.size) < min_side:
                return None, None
            preview.draft("RGB", reduced_size(preview.size, min_side))
        preview.load()
        exif = exif_ifds(preview)
        return preview.copy(), exif if exif and len(exif.image) else None
