"""The boxes of an ISO base media file (MP4, QuickTime, JPEG XL's container), walked one header
at a time.

Such a file is a run of boxes, each its size and type, then its data (a 64-bit size after the
type where the first says 1; a size of 0: to the end of what holds it); a box may hold boxes.
What imagedb reads from such files (a JPEG XL's EXIF and XMP, the XML a Sony camera keeps inside
its MP4) is in a box or two of a file that is mostly picture or video data: the headers are read,
the data between them skipped, so a 4 GB clip costs a few small reads. FFmpeg and the JPEG XL
plugin parse these files too, but hand over none of those boxes' bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

HEADER_BYTES = 8
# Boxes whose data starts with a version and flags (ISO's "full boxes") before the boxes they hold.
FULL_BOX_VERSION_BYTES = 4


@dataclass(frozen=True)
class Box:
    kind: bytes  # its four-character type, b"moov"
    start: int  # where its data starts, after its header
    end: int | None  # where it ends; None: at the end of the file


def boxes_in(file: BinaryIO, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes from ``start`` to ``end`` of ``file`` (None: its end), in order. A size that
    cannot be (shorter than its header, past what holds it) ends the walk: what came before
    stands. Each header is read at its own offset, so a caller may read a box's data between
    two steps."""
    position = start
    while end is None or position + HEADER_BYTES <= end:
        file.seek(position)
        header = file.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES:
            return
        size, kind = struct.unpack(">I4s", header)
        data_start = position + HEADER_BYTES
        if size == 1:  # a 64-bit size follows the type
            extended = file.read(8)
            if len(extended) < 8:
                return
            size, data_start = struct.unpack(">Q", extended)[0], data_start + 8
        if size == 0:  # to the end of what holds it
            yield Box(kind, data_start, end)
            return
        box_end = position + size
        if box_end < data_start or (end is not None and box_end > end):
            return
        yield Box(kind, data_start, box_end)
        position = box_end


def read_box(file: BinaryIO, box: Box, most: int, skip: int = 0) -> bytes | None:
    """The data of ``box`` after its first ``skip`` bytes (a full box's version and flags); None
    where it holds more than ``most`` bytes (a damaged size, or another program's box of that type)
    or less than it says."""
    start = box.start + skip
    if box.end is None:
        file.seek(start)
        data = file.read(most + 1)
        return data if len(data) <= most else None
    length = box.end - start
    if length < 0 or length > most:
        return None
    file.seek(start)
    data = file.read(length)
    return data if len(data) == length else None
