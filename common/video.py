"""One representative frame of a video, decoded with PyAV, plus the facts a result shows.

The frame is taken at ``REPRESENTATIVE_POSITION`` of the duration rather than the first one:
videos often open on black, a fade or a title card. Seeking lands on the keyframe before the
target and decodes forward to it, so only a handful of frames are decoded whatever the length.
The target counts from the stream's first timestamp, which an MPEG stream (a camcorder's
AVCHD ``.MTS``, a ``.mpg``) starts late: counted from zero, it fell before the first frame, and
the opening was indexed. A seek that lands on no frame (an MPEG-TS seeks by bytes, and a clip
with few keyframes leaves it at the end) decodes from the start instead; either way a few
seconds at most are decoded (``MOST_FRAMES_DECODED``).

When and where a phone's video was taken is in its container's tags, not in EXIF
(``taken_when_and_where``): without them a library's videos had no date and no place, and
``--near``, a date filter or a timeline left them out. A camcorder's AVCHD clip has no tags: its
H.264 stream says when and where it was recorded, and by whose camera (``common.avchd``); a Sony
camera writes its clip's local time, camera and lens in an XML beside it and inside it
(``common.clip_xml``).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from common.avchd import Mdpm, mdpm_of
from common.clip_xml import ClipXml, clip_xml_facts
from common.extensions import MOTION_CLIP_EXTENSIONS, still_names_of
from common.positions import is_recorded_position
from common.records import CLIP_XML_INSIDE_FORMATS

REPRESENTATIVE_POSITION = 0.10
# A Live Photo's clip (an iPhone's 'IMG_0042.MOV' beside 'IMG_0042.HEIC', a Pixel's motion clip
# 'PXL_….MP' beside 'PXL_….MP.jpg') is the three seconds around its still's shutter: it has no
# opening to pass, and its first frame is taken (``has_its_still``), none decoded after it.
LIVE_CLIP_LONGEST = 5.0  # seconds; Apple's and Google's are ~3
# A keyframe this far in or further, found before the frame at REPRESENTATIVE_POSITION, is taken
# for it (``_frame_at``): one frame decoded, not the GOP up to the target. Not one nearer the
# start: a video's first frames may be its opening (black, a title, a fade).
EARLIEST_POSITION = 0.05
# How a video is opened. FFmpeg's MP4/QuickTime demuxer hands over the XMP packet only when asked
# (other demuxers leave the option unused). The decoders FFmpeg opens to probe the streams skip
# every frame: probing an H.264 stream decoded its first seven frames to guess its decode delay,
# which neither a header read (duration, rate, tags) nor the frame's read needs (it decodes after
# its seek, with a decoder of its own opened without these options): a header read of a 4K H.264
# clip took 12 ms (a noisy 1080p one's 115) where it takes 1.3, the clip's frame read 87-105 ms of
# CPU where it takes 71-74. The frames read are the same, pixel for pixel, in every container and
# codec tried (H.264, HEVC, AV1, VP8/9, ProRes, MPEG-1/2/4, MJPEG, DV, FFV1, WMV, H.263).
OPEN_OPTIONS = {"export_xmp": "1", "skip_frame": "all"}
# Decoded from where a seek landed (the keyframe before the target, a GOP of up to 250 frames
# as x264 writes them), or from the start where it landed on no frame, a video gives the frame at
# the target or, if that is further in, this many frames' last: ~10 s at 25 frames a second,
# where an hour's clip with few keyframes decoded to its 10 % would take minutes.
MOST_FRAMES_DECODED = 250
# The tags (FFmpeg's names) that say when a video was taken: Apple's is the local time with its
# offset, as a camera's EXIF says it; QuickTime's and Matroska's creation_time is UTC.
LOCAL_DATE_TAGS = ("com.apple.quicktime.creationdate",)
UTC_DATE_TAGS = ("creation_time",)
# ... and where: ISO 6709, '+37.7749-122.4194/' from Android, '+37.3349-122.0090+020.000/' from
# an iPhone (the altitude in metres).
POSITION_TAGS = ("com.apple.quicktime.location.ISO6709", "location")
_ISO6709 = re.compile(
    r"(?P<latitude>[+-]\d{2}(?:\.\d+)?)(?P<longitude>[+-]\d{3}(?:\.\d+)?)(?P<altitude>[+-]\d+(?:\.\d+)?)?(?:CRS\w+)?/?"
)
# A time before this is none: QuickTime counts from 1904, and a camera without a clock writes 0.
EARLIEST_TAKEN = datetime(1971, 1, 1, tzinfo=UTC)
# What a video's camera says of itself beside its tags (``camera_of``): every header read sets them.
CAMERA_COLUMNS = ("make", "model", "lens")


@dataclass
class VideoFrame:
    image: Image.Image  # upright RGB, shrunk where ``read_video_frame`` was asked to
    format: str
    facts: dict  # media_type, duration, fps, codec, date_taken and the GPS columns (record columns)
    xmp: str | None = None  # the XMP packet inside the file (``xmp_packet``)
    size: tuple[int, int] = (0, 0)  # the upright frame's own (width, height), whatever ``image``'s


def read_video_frame(path: str, shrink_by: Callable[[tuple[int, int]], int] | None = None) -> VideoFrame:
    """The frame at ~10 % of the video (raises ValueError/av errors on unreadable files), shrunk by
    the whole factor ``shrink_by`` gives for its upright size, if any: scaled by FFmpeg as it is
    turned into RGB (area averaging, as Pillow's ``reduce``), a 4K frame cost 5 ms, where turned
    whole into a picture and then reduced it cost 58."""
    import av

    with av.open(path, options=OPEN_OPTIONS) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        # Threads within a frame, not across frames: a frame-threaded decoder decodes as many
        # frames as it has threads (a 16-core host: 17) before it gives back the first, where one
        # keyframe is often all that is wanted (``_frame_at``); the workers keep every core busy.
        stream.thread_type = "SLICE"
        mdpm, clip_xml = mdpm_of(container, stream), clip_xml_facts(path, _may_hold_clip_xml(path))
        duration = _duration(container, stream)
        start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        target = start + duration * REPRESENTATIVE_POSITION if duration else start
        if duration is not None and duration <= LIVE_CLIP_LONGEST and has_its_still(path):
            target = start
        chosen = None
        if target > 0:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
            earliest = start + (duration or 0.0) * EARLIEST_POSITION
            chosen = _frame_at(container.decode(stream), target, earliest)
            if chosen is None:  # the seek landed on no frame: from the start
                container.seek(0)
        if chosen is None:
            chosen = _frame_at(container.decode(stream), target)
        if chosen is None:
            raise ValueError("no decodable frame")
        rotation = getattr(chosen, "rotation", 0) or 0
        turned = rotation % 180 == 90
        size = (chosen.height, chosen.width) if turned else (chosen.width, chosen.height)
        factor = shrink_by(size) if shrink_by else 1
        if factor >= 2:
            shrunk = chosen.to_image(width=chosen.width // factor, height=chosen.height // factor, interpolation="AREA")
        else:
            shrunk = chosen.to_image()
        image = _upright(shrunk, rotation)
        facts = {
            "media_type": "video",
            "duration": duration,
            "fps": float(stream.average_rate) if stream.average_rate else None,
            "codec": stream.codec_context.name,
            **when_where_and_by_what((container.metadata, stream.metadata), mdpm, clip_xml),
        }
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return VideoFrame(rgb, video_format(path), facts, xmp_packet(container), size)


def has_its_still(path: str) -> bool:
    """Whether the video at ``path`` has the still beside it that it may be the moving part of
    (``still_candidates``): a Live Photo's clip then, if short. Its first frame is as telling as
    any (the still's shutter is in its middle), and decoding on to 10 % cost an iPhone-sized HEVC
    clip as much CPU as its HEIC still."""
    return any(os.path.isfile(still) for still in still_candidates(path))


def still_candidates(path: str) -> list[str]:
    """The paths the still of the video at ``path`` may have, if it is the moving part of one
    (``common.extensions.still_names_of``, its extension in either case); none for a picture."""
    folder, name = os.path.split(path)
    return [
        os.path.join(folder, stem + ext)
        for stem, extension in map(os.path.splitext, still_names_of(name))
        for ext in (extension, extension.upper())
    ]


def _may_hold_clip_xml(path: str) -> bool:
    """Whether the video at ``path`` is of a format a Sony camera writes its clip XML inside
    (``common.records.CLIP_XML_INSIDE_FORMATS``, the rows an upgrade reads it for)."""
    return video_format(path) in CLIP_XML_INSIDE_FORMATS


def video_format(path: str) -> str:
    """The record's ``format`` of the video at ``path``: its extension (the container's own name
    is a list, "mov,mp4,m4a,..."), but MP4 for a Pixel's motion clip ('PXL_….MP')."""
    extension = os.path.splitext(path)[1].lower()
    return "MP4" if extension in MOTION_CLIP_EXTENSIONS else extension.lstrip(".").upper()


def _frame_at(frames: Iterable[Any], target: float, earliest: float | None = None) -> Any:
    """The first of ``frames`` at or after ``target`` seconds, looking at ``MOST_FRAMES_DECODED``
    at most (the last of those if none is, None if there are none); or the first of them, where
    it is a keyframe at or after ``earliest`` seconds: the keyframe a seek landed on, already
    past the video's opening, is as telling as the frame at the target, and decoding the frames
    between took a 4K phone video 0.3 s of CPU (a GOP of a second: up to 30 frames)."""
    chosen = None
    for frame in itertools.islice(frames, MOST_FRAMES_DECODED):
        first = chosen is None
        if first and earliest is not None and frame.key_frame and frame.time is not None and frame.time >= earliest:
            return frame
        chosen = frame
        if frame.time is None or frame.time >= target:
            break
    return chosen


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # microseconds (av.time_base)
    return None


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    """Apply a phone video's display rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    return image.transpose(turns[rotation % 360]) if rotation % 360 in turns else image


def video_header(path: str) -> tuple[dict[str, Any], str | None]:
    """``when_where_and_by_what`` of the video at ``path`` (its tags, a Sony's clip XML, an AVCHD
    clip's MDPM), and its XMP packet (``xmp_packet``), its frames left alone (its header: 0.4-1.4
    ms here, ``OPEN_OPTIONS``; an AVCHD clip's first units are read for its MDPM, none decoded);
    raises what PyAV raises for a file it cannot open now."""
    import av

    clip_xml = clip_xml_facts(path, _may_hold_clip_xml(path))
    with av.open(path, options=OPEN_OPTIONS) as container:
        streams = container.streams.video
        mdpm = mdpm_of(container, streams[0]) if streams else Mdpm()
        tags = (container.metadata, streams[0].metadata) if streams else (container.metadata,)
        return when_where_and_by_what(tags, mdpm, clip_xml), xmp_packet(container)


def xmp_packet(container: Any) -> str | None:
    """The XMP packet inside an MP4 or a QuickTime movie (a top-level ``uuid`` box or ``udta``'s
    ``XMP_``), where Adobe's software, digiKam and ExifTool keep a video's keywords, title and
    stars: FFmpeg hands it over when asked (``OPEN_OPTIONS``). None in other containers."""
    return container.metadata.get("xmp") or None


def taken_when_and_where(
    *tags: Mapping[str, str], recorded: datetime | None = None, position: Mapping[str, float | None] | None = None
) -> dict[str, Any]:
    """The record's ``date_taken`` and GPS columns from a video's ``tags`` (its container's, then
    its video stream's), None where they say nothing. The date is written as EXIF's are: the
    local time, with its offset where the video gives it; a UTC time (``creation_time``) as this
    computer's local time, as a Takeout JSON's (many cameras write their local time there as if
    it were UTC: theirs is then shifted by the offset, as in every program that reads it). The
    camera's own time, ``recorded``, and ``position`` (GPS columns), where it writes them beside
    the tags (a Sony's clip XML, its time with its zone; an AVCHD clip's MDPM, both), come first."""
    found: dict[str, str] = {}
    for table in tags:
        for name, value in table.items():
            found.setdefault(name, value)
    date_taken = _as_written(recorded) if recorded is not None else None
    return {"date_taken": date_taken or _date_taken(found), **(position or _position(found))}


def when_where_and_by_what(tags: tuple[Mapping[str, str], ...], mdpm: Mdpm, clip_xml: ClipXml) -> dict[str, Any]:
    """A video's date and GPS columns (``taken_when_and_where`` of its ``tags``, what its camera
    wrote beside them first) and its camera's (``camera_of``)."""
    recorded = clip_xml.recorded or mdpm.recorded
    return {**taken_when_and_where(*tags, recorded=recorded, position=mdpm.position), **camera_of(mdpm, clip_xml)}


def camera_of(mdpm: Mdpm, clip_xml: ClipXml) -> dict[str, str | None]:
    """The record's ``make``, ``model`` and ``lens`` a video's camera wrote beside its tags (its
    clip XML, else its MDPM), None where neither says: what a header read of a video sets, so a
    clip XML deleted takes its camera with it."""
    said: ClipXml | Mdpm = clip_xml if clip_xml.make or clip_xml.model else mdpm
    return dict(zip(CAMERA_COLUMNS, (said.make, said.model, clip_xml.lens), strict=True))


def _as_written(when: datetime) -> str | None:
    """A time as the record stores it: with its zone where it has one, else as written; None
    before ``EARLIEST_TAKEN`` (a clock never set)."""
    if when.tzinfo is not None:
        return when.isoformat(timespec="seconds") if when >= EARLIEST_TAKEN else None
    return when.strftime("%Y-%m-%dT%H:%M:%S") if when.year >= EARLIEST_TAKEN.year else None


def _date_taken(tags: Mapping[str, str]) -> str | None:
    for name in (*LOCAL_DATE_TAGS, *UTC_DATE_TAGS):
        try:
            when = datetime.fromisoformat(tags[name].strip())
        except (KeyError, ValueError, AttributeError):
            continue
        if when.tzinfo is None:  # said without a zone: as written
            return _as_written(when)
        if when < EARLIEST_TAKEN:
            return None
        if name in LOCAL_DATE_TAGS:
            return when.isoformat(timespec="seconds")
        return when.astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    return None


def _position(tags: Mapping[str, str]) -> dict[str, float | None]:
    none = {"gps_latitude": None, "gps_longitude": None, "gps_altitude": None}
    for name in POSITION_TAGS:
        written = _ISO6709.fullmatch((tags.get(name) or "").strip())
        if not written:
            continue
        latitude, longitude = float(written["latitude"]), float(written["longitude"])
        if not is_recorded_position(latitude, longitude):
            return none
        altitude = float(written["altitude"]) if written["altitude"] else None
        return {"gps_latitude": latitude, "gps_longitude": longitude, "gps_altitude": altitude}
    return none
