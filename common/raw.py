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
import numbers
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import ExifTags, Image

if TYPE_CHECKING:
    from common.decoding import ExifIfds

# LibRaw's flip (how far the picture turns to be upright: 3 half a turn, 5 a quarter turn
# counter-clockwise, 6 clockwise, as EXIF's orientations 3, 8 and 6) → Pillow's transposition.
TRANSPOSE_FOR_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
LIBRAW_SIGNATURE = "dcraw"  # the Software of the EXIF block LibRaw writes into a preview
NO_DATE = "1970:01:01"  # its date when the raw gave none
NO_PICTURE = sys.maxsize  # a ``min_side`` no preview has: ``_preview`` gives its EXIF alone, nothing decoded


@dataclass
class RawPicture:
    image: Image.Image  # upright RGB: the embedded preview, or the raw developed at half size
    width: int  # the developed raw's size, upright
    height: int
    format: str  # the extension, upper case: "NEF", "CR3", "DNG"
    # The EXIF in the preview: the camera's (Fujifilm's) or the block LibRaw writes into a preview
    # from what it parsed of the raw (make, model, date, exposure, GPS), exifread's fallback where
    # it cannot read the raw itself (CR3, RAF).
    exif: ExifIfds | None


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


def exif_of_raw(path: str) -> ExifIfds | None:
    """The EXIF ``read_raw`` finds in the raw file at ``path`` (``RawPicture.exif``), its pixels
    left alone: what a row's tags were read from when it was indexed, so that a header read
    (``common.describe.annotations_from_header``: a sidecar edited or deleted) tells the camera's
    date from a sidecar's as indexing did. Raises LibRaw's errors as ``read_raw`` does."""
    import rawpy

    with rawpy.imread(path) as raw:
        return _preview(raw, NO_PICTURE)[1]


def _preview(raw: Any, min_side: int | None) -> tuple[Image.Image | None, ExifIfds | None]:
    """The raw's embedded preview (LibRaw picks the largest), decoded, and its EXIF; (None,
    None) without one. A preview under ``min_side`` on its shortest side is not decoded (None), its
    EXIF kept: an older camera's small preview still says what LibRaw parsed of the raw (its date
    and camera, where exifread cannot read a CR3 or a RAF). A JPEG preview is decoded at reduced
    size as any JPEG is (``common.decoding.decode_image``): a 200 MB DNG with a 24 MP preview was
    read in 83 ms, 285 ms at full size."""
    import rawpy

    from common.decoding import reduced_size

    thumb = _thumbnail(raw)
    if thumb is None:
        return None, None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        bitmap = Image.fromarray(thumb.data)
        return (None, None) if min_side is not None and min(bitmap.size) < min_side else (bitmap, None)
    with Image.open(io.BytesIO(thumb.data)) as preview:
        exif = _camera_exif(preview)
        if min_side is not None:
            if min(preview.size) < min_side:
                return None, exif
            preview.draft("RGB", reduced_size(preview.size, min_side))
        preview.load()
        return preview.copy(), exif


def _thumbnail(raw: Any) -> Any:
    """LibRaw's embedded preview of an open raw (``rawpy.Thumbnail``: JPEG bytes or a bitmap);
    None when it has none it can give."""
    import rawpy

    try:
        return raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None


def _camera_exif(preview: Image.Image) -> ExifIfds | None:
    """The EXIF of an open JPEG preview, without LibRaw's blanks; None when it has none."""
    from common.decoding import exif_ifds

    exif = exif_ifds(preview)
    return None if exif is None or not len(exif.image) else _without_blanks(exif)


def _without_blanks(exif: ExifIfds) -> ExifIfds:
    """The EXIF LibRaw wrote (it signs it "dcraw v9.26") without what stands for nothing: 0 for an
    exposure, aperture, focal length or ISO the raw did not give, 1970-01-01 for no date, and the
    signature itself, which is not the software that made the photo. A camera's own EXIF as it is."""
    if not str(exif.image.get(ExifTags.Base.Software, "")).startswith(LIBRAW_SIGNATURE):
        return exif
    image = {tag: value for tag, value in exif.image.items()
             if tag != ExifTags.Base.Software and not str(value).startswith(NO_DATE)}  # fmt: skip
    sub = {tag: value for tag, value in exif.exif.items()
           if not (isinstance(value, numbers.Number) and value == 0) and not str(value).startswith(NO_DATE)}  # fmt: skip
    return exif._replace(image=image, exif=sub)
