"""One representative frame of a video, decoded with PyAV, plus the facts a result shows.

The frame is taken at ``REPRESENTATIVE_POSITION`` of the duration rather than the first one:
videos often open on black, a fade or a title card. Seeking lands on the keyframe before the
target and decodes forward to it, so only a handful of frames are decoded whatever the length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image

REPRESENTATIVE_POSITION = 0.10


@dataclass
class VideoFrame:
    image: Image.Image  # upright RGB
    format: str
    facts: dict  # media_type, duration, fps, codec (record columns)


def read_video_frame(path: str) -> VideoFrame:
    """The frame at ~10 % of the video (raises ValueError/av errors on unreadable files)."""
    import av

    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = _duration(container, stream)
        target = duration * REPRESENTATIVE_POSITION if duration else 0.0
        if target > 0:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is None or frame.time >= target:
                break
        if chosen is None:
            raise ValueError("no decodable frame")
        image = _upright(chosen.to_image(), getattr(chosen, "rotation", 0) or 0)
        facts = {
            "media_type": "video",
            "duration": duration,
            "fps": float(stream.average_rate) if stream.average_rate else None,
            "codec": stream.codec_context.name,
        }
        # The container's own name is a list ("mov,mp4,m4a,..."): the extension says it better.
        return VideoFrame(image.convert("RGB"), os.path.splitext(path)[1].lstrip(".").upper(), facts)


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
