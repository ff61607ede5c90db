"""Videos: indexed by one frame at ~10 % of their length (PyAV), with duration, fps and codec."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_overview import with_camera
from test_raw import raw_photo

from common.places import PLACE_COLUMNS
from conftest import Cli, paint_photo, rows_rewritten

CONTAINERS = {".mp4": "libx264", ".mov": "mpeg4", ".avi": "mjpeg", ".webm": "libvpx-vp9", ".mkv": "ffv1"}
# A camcorder's AVCHD clips (MPEG-TS: timestamps that start late, and a seek that can land on no
# frame), a DVD-era MPEG-PS, an older phone's 3GP, Windows' WMV.
OLDER_CONTAINERS = {".MTS": "libx264", ".m2ts": "libx264", ".mpg": "mpeg2video", ".3gp": "mpeg4", ".wmv": "wmv2"}


def make_video(
    path: Path, opening: Image.Image, body: Image.Image, seconds: float = 2.0, fps: int = 10, tags: dict | None = None
) -> Path:
    """A video that shows ``opening`` for its first 5 % and ``body`` after (so the frame at
    10 % is ``body``, the first frame is not), its container tagged with ``tags`` (FFmpeg's
    names, written as a phone's: an iPhone's own in QuickTime's keys)."""
    import av

    known = {**CONTAINERS, **OLDER_CONTAINERS}
    codec = known.get(path.suffix, "libx264")
    container = None if path.suffix in known else "mp4"  # a Pixel's motion clip, 'PXL_….MP'
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "use_metadata_tags"} if tags else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        out.metadata.update(tags or {})
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = body.size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        frames = int(seconds * fps)
        for i in range(frames):
            picture = opening if i < frames * 0.05 else body
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """Photos plus one video per container, each video's body a different painted picture."""
    folder = tmp_path / "library"
    for i in range(6):
        paint_photo(folder / f"photo-{i}.jpg", seed=i)
    black = Image.new("RGB", (160, 120))
    bodies = {}
    for n, ext in enumerate(CONTAINERS):
        body_path = paint_photo(tmp_path / "bodies" / f"body{ext}.png", seed=50 + n)
        make_video(folder / "clips" / f"clip{ext}", black, Image.open(body_path).convert("RGB"))
        bodies[ext] = body_path
    return folder, bodies


def test_videos_are_indexed_by_their_frame_at_ten_percent(cli: Cli, library: tuple[Path, dict[str, Path]]) -> None:
    folder, bodies = library
    run = cli.index(folder)
    assert run.summary() == {"new": 11, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert f"found 6 images and {len(CONTAINERS)} videos under {folder}:" in run.stderr  # not "11 images"
    assert f": 6 images and {len(CONTAINERS)} videos in {cli.db}" in run.stderr  # what the index holds
    records = cli.records()
    for ext in CONTAINERS:
        record = records[str(folder / "clips" / f"clip{ext}")]
        assert record["media_type"] == "video" and record["format"] == ext[1:].upper()
        assert record["duration"] == pytest.approx(2.0, abs=0.15) and record["fps"] == pytest.approx(10)
        assert record["codec"] and (record["width"], record["height"]) == (160, 120)
        (hits,) = cli.search("--search", str(bodies[ext]), "--limit", "1")  # the still finds its video
        assert hits["results"][0]["path"] == record["path"] and hits["results"][0]["score"] > 0.95
    assert all(r["media_type"] == "image" for p, r in records.items() if "photo-" in p)

    table = cli("--search", str(bodies[".mp4"]), "--limit", "3")
    assert "2.0 s, 10 fps, h264" in table.stdout
    only_videos = cli.search("--where", "media_type = 'video'")[0]["results"]
    assert len(only_videos) == len(CONTAINERS)


def test_camcorder_and_older_phone_videos_are_indexed_by_their_frame_at_ten_percent(cli: Cli, tmp_path: Path) -> None:
    black = Image.new("RGB", (160, 120))
    bodies = {}
    for n, ext in enumerate(OLDER_CONTAINERS):
        bodies[ext] = paint_photo(tmp_path / "bodies" / f"body{n}.png", seed=70 + n)
        # 25 frames a second: MPEG-2 has no 10.
        make_video(tmp_path / "clips" / f"clip{ext}", black, Image.open(bodies[ext]).convert("RGB"), fps=25)
    assert cli.index(tmp_path / "clips").summary()["new"] == len(OLDER_CONTAINERS)
    records = cli.records()
    for ext, body in bodies.items():
        record = records[str(tmp_path / "clips" / f"clip{ext}")]
        assert record["media_type"] == "video" and record["format"] == ext[1:].upper()
        # An MPEG-PS has no index: FFmpeg estimates its length from its last timestamps, few in a
        # clip this short (1.5 s of 2 here; 59.9 of 60 s at 320x240).
        assert record["duration"] == pytest.approx(2.0, abs=0.6 if ext == ".mpg" else 0.15), ext
        # Its picture, not the black opening: an MPEG stream's clock starts late (0.6 s here).
        (hits,) = cli.search("--search", str(body), "--limit", "1")
        assert hits["results"][0]["path"] == record["path"] and hits["results"][0]["score"] > 0.95, ext


def test_a_video_with_few_keyframes_is_decoded_a_few_seconds_at_most(tmp_path: Path, monkeypatch) -> None:
    """An MPEG-TS with one keyframe seeks to nothing: decoded from its start instead, but not to
    a target minutes in (an hour's AVCHD clip): the frame there, or the last of the first few
    seconds. An MP4 with one keyframe seeks to its start: the same."""
    import av

    from common import video

    body = Image.open(paint_photo(tmp_path / "body.png", seed=3)).convert("RGB")
    clip = make_video(tmp_path / "clip.MTS", Image.new("RGB", body.size), body, fps=25)  # black 0.2-0.32 s
    assert np.abs(np.asarray(video.read_video_frame(str(clip)).image, float) - np.asarray(body, float)).mean() < 8
    one_keyframe = tmp_path / "one-keyframe.mp4"
    with av.open(str(clip)) as source, av.open(str(one_keyframe), "w") as out:  # the same frames, one GOP
        stream = out.add_stream("libx264", rate=25, options={"g": "1000"})
        stream.width, stream.height, stream.pix_fmt = body.width, body.height, "yuv420p"
        for frame in source.decode(video=0):
            out.mux(stream.encode(av.VideoFrame.from_image(frame.to_image())))
        out.mux(stream.encode())
    monkeypatch.setattr(video, "MOST_FRAMES_DECODED", 2)  # as if the target were far in
    for far_in in (clip, one_keyframe):
        picture = video.read_video_frame(str(far_in)).image
        assert np.asarray(picture).mean() < 8, f"{far_in.name}: the second frame, the opening's"


def looks_like(picture: Image.Image, expected: Image.Image) -> bool:
    """Whether a decoded frame is ``expected``, its compression aside."""
    return np.abs(np.asarray(picture, float) - np.asarray(expected, float)).mean() < 8


def test_a_keyframe_past_the_opening_is_taken_for_the_frame_at_ten_percent(tmp_path: Path) -> None:
    """A phone writes a keyframe every second: the seek to 10 % lands on the one before it, and
    decoding on to the exact frame cost a 4K clip up to a second's frames (0.3 s of CPU, more than
    30 photos). A keyframe already past the opening (5 % in) is taken as it is; one in the
    opening is not (its black, a title): from there the frame at 10 % is decoded, as before."""
    import av

    from common import video

    black = Image.new("RGB", (160, 120))
    near, at_target = (Image.open(paint_photo(tmp_path / f"{n}.png", seed=n)).convert("RGB") for n in (11, 12))

    def clip(path: Path, seconds: int, keyframe_every: int) -> Path:
        """10 frames a second: black for 5 %, then ``near`` up to 10 %, then ``at_target``."""
        with av.open(str(path), "w") as out:
            # A keyframe where the picture changes too (x264's scene cut) would put one at 10 %.
            options = {"g": str(keyframe_every), "x264-params": "scenecut=0"}
            stream = out.add_stream("libx264", rate=10, options=options)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
            frames = seconds * 10
            for i in range(frames):
                picture = black if i < frames * 0.05 else near if i < frames * 0.10 else at_target
                out.mux(stream.encode(av.VideoFrame.from_image(picture)))
            out.mux(stream.encode())
        return path

    # 25 s, a keyframe a second: the seek to 2.5 s lands on the keyframe at 2 s, past the opening.
    phone = video.read_video_frame(str(clip(tmp_path / "phone.mp4", 25, 10)))
    assert looks_like(phone.image, near) and phone.facts["duration"] == pytest.approx(25, abs=0.2)
    # 25 s, one keyframe at the start (in the opening): decoded on to the frame at 10 %.
    assert looks_like(video.read_video_frame(str(clip(tmp_path / "one-gop.mp4", 25, 250))).image, at_target)


def test_a_live_photos_clip_is_read_from_its_first_frame(tmp_path: Path) -> None:
    """An iPhone's Live Photo is copied off as 'IMG_0042.HEIC' and the three seconds around it as
    'IMG_0042.MOV' (a Pixel's motion photo as 'PXL_….MP.jpg' and 'PXL_….MP'): a clip with no
    opening, whose middle is its still. Decoding on to its 10 % cost as much CPU as its still;
    its first frame is taken instead. A clip without its still, or a longer video beside a photo
    of its name, is read at its 10 % as before (its opening passed)."""
    from common.decoding import decode_image  # HEIF's plugin registered too

    first, body = (Image.open(paint_photo(tmp_path / f"{n}.png", seed=n)).convert("RGB") for n in (21, 22))

    live = tmp_path / "live"
    clips = [
        make_video(live / "IMG_0042.MOV", first, body, seconds=3),
        make_video(live / "PXL_20230521_101010123.MP", first, body, seconds=3),
    ]
    paint_photo(live / "IMG_0042.HEIC", seed=1)
    paint_photo(live / "PXL_20230521_101010123.MP.jpg", seed=2)
    clips.append(make_video(live / "IMG_0045.MOV", first, body, seconds=3))  # a ProRAW Live Photo's
    (live / "IMG_0045.DNG").write_bytes(b"")
    for clip in clips:
        assert looks_like(decode_image(str(clip)).image, first), clip.name
    alone = make_video(tmp_path / "alone" / "IMG_0043.MOV", first, body, seconds=3)
    longer = make_video(live / "IMG_0044.MOV", first, body, seconds=8)
    paint_photo(live / "IMG_0044.jpg", seed=3)
    for clip in (alone, longer):
        assert looks_like(decode_image(str(clip)).image, body), clip.name


def test_a_live_photos_clip_takes_its_stills_vector_not_a_forward_pass(cli: Cli, tmp_path: Path) -> None:
    """An iPhone library holds every Live Photo twice, its still and its clip, and on a CPU the
    forward pass is what indexing waits for: a clip read in the same run as its still takes the
    still's vector, whichever the workers finish first and whatever batch each lands in, and one
    found after its still was indexed takes the stored one. Its thumbnail, size and facts are its
    own. A longer video beside a photo of its name, a clip without its still, and one whose still
    fails are embedded themselves, as a query finds."""
    folder = tmp_path / "iPhone"
    bodies = [paint_photo(tmp_path / "bodies" / f"{n}.png", seed=120 + n) for n in range(10)]

    def clip(name: str, n: int, seconds: float = 3) -> Path:  # no opening: a Live clip is read from its first frame
        body = Image.open(bodies[n]).convert("RGB")
        return make_video(folder / name, body, body, seconds=seconds)

    live = {}
    for n, (still, moving) in enumerate(
        [("IMG_0001.HEIC", "IMG_0001.MOV"), ("IMG_0002.JPG", "IMG_0002.MOV"), ("IMG_0003.heic", "IMG_0003.mov"),
         ("IMG_0004.HEIC", "IMG_0004.MOV"), ("PXL_20230521_101010123.MP.jpg", "PXL_20230521_101010123.MP")]
    ):  # fmt: skip
        live[paint_photo(folder / still, seed=140 + n)] = clip(moving, n)
    proraw = raw_photo(folder / "IMG_0005.DNG", Image.open(paint_photo(tmp_path / "raw.png", seed=145)).convert("RGB"))
    live[proraw] = clip("IMG_0005.MOV", 9)  # an iPhone's ProRAW Live Photo: its DNG and its clip
    longer = clip("IMG_0010.MOV", 5, seconds=8)
    paint_photo(folder / "IMG_0010.JPG", seed=150)
    alone = clip("IMG_0011.MOV", 6)
    (folder / "IMG_0012.HEIC").write_bytes(b"not a picture")
    orphan = clip("IMG_0012.MOV", 7)
    synced_first = paint_photo(folder / "IMG_0020.HEIC", seed=160)  # its clip comes later
    run = cli.index(folder, extra=("--batch", "2"))
    assert run.summary() == {"new": 17, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}, run.stderr
    assert "6 Live Photo clip(s) took their still's vector" in run.stderr
    live[synced_first] = clip("IMG_0020.MOV", 8)  # a --watch round, a sync, finds it after its still
    later = cli.index(folder)
    assert later.summary()["new"] == 1 and "1 Live Photo clip(s) took their still's vector" in later.stderr

    stills, clips = list(live), list(live.values())
    assert np.allclose(cli.vectors([str(c) for c in clips]), cli.vectors([str(s) for s in stills]), atol=1e-6)
    rows = cli.records()
    assert all(rows[str(c)]["media_type"] == "video" and rows[str(c)]["duration"] > 2.5 for c in clips)
    for still, moving in live.items():  # one vector, one score: the still is shown, its clip named beside it
        (hits,) = cli.search("--search", str(still), "--limit", "1")
        assert [(h["path"], h.get("companions")) for h in hits["results"]] == [(str(still), [str(moving)])]
    for own, n in ((longer, 5), (alone, 6), (orphan, 7)):  # embedded from their own frames
        (hits,) = cli.search("--search", str(bodies[n]), "--limit", "1")
        assert hits["results"][0]["path"] == str(own) and hits["results"][0]["score"] > 0.95


def test_a_video_can_be_the_query(cli: Cli, library: tuple[Path, dict[str, Path]]) -> None:
    folder, _ = library
    cli.index(folder)
    clip = str(folder / "clips" / "clip.webm")
    (hits,) = cli.search("--search", clip, "--limit", "1")
    assert hits["results"][0]["path"] == clip and hits["results"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_a_broken_video_is_reported_and_the_rest_indexed(cli: Cli, library: tuple[Path, dict[str, Path]]) -> None:
    folder, _ = library
    (folder / "clips" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (folder / "clips" / "empty.mov").write_bytes(b"")
    result = cli.index(folder)
    assert result.summary()["new"] == 11 and result.summary()["failed"] == 2
    reasons = cli.failures_by_name()
    assert set(reasons) == {"broken.mp4", "empty.mov"}
    # FFmpeg's words, without PyAV's errno number and the path repeated.
    assert reasons["broken.mp4"]["reason"] == "cannot decode video: invalid data found when processing input"
    assert reasons["empty.mov"]["reason"] == "empty file (0 bytes)"
    assert not any("Errno" in e["reason"] or str(folder) in e["reason"] for e in reasons.values()), reasons


def test_a_phone_videos_date_and_place_are_read_from_its_tags(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    """A phone writes when and where it took a video in the container's tags, not in EXIF: the
    videos of a library had no date and no place, and --near, a date filter or a timeline left
    them out. Android's (UTC, an ISO 6709 position) and an iPhone's (its local time with the
    offset; the altitude too) are read; an index made before reads them from the videos' headers
    at its next --index, nothing decoded."""
    folder = tmp_path / "phone"
    black = Image.new("RGB", (160, 120))
    bodies = [Image.open(paint_photo(tmp_path / f"body{i}.png", seed=60 + i)).convert("RGB") for i in range(3)]
    android = make_video(folder / "VID_20190703_143300.mp4", black, bodies[0], tags={
        "creation_time": "2019-07-03T14:33:00.000000Z", "location": "+43.7687+011.2569/",
    })  # fmt: skip
    iphone = make_video(folder / "IMG_0042.mov", black, bodies[1], tags={
        "creation_time": "2019-07-05T08:10:00.000000Z", "com.apple.quicktime.creationdate": "2019-07-05T09:10:00+0100",
        "com.apple.quicktime.location.ISO6709": "+38.7223-009.1393+012.000/",
    })  # fmt: skip
    untagged = make_video(folder / "screen.mp4", black, bodies[2])
    cli.index(folder, extra=("--workers", "0"))

    def rows_say() -> None:
        rows = cli.records()
        taken_utc = datetime(2019, 7, 3, 14, 33, tzinfo=UTC)
        assert rows[str(android)]["date_taken"] == taken_utc.astimezone().strftime("%Y-%m-%dT%H:%M:%S")
        assert (rows[str(android)]["gps_latitude"], rows[str(android)]["city"]) == (43.7687, "Florence")
        assert rows[str(iphone)]["date_taken"] == "2019-07-05T09:10:00+01:00"
        assert (rows[str(iphone)]["city"], rows[str(iphone)]["gps_altitude"]) == ("Lisbon", 12.0)
        assert (rows[str(untagged)]["date_taken"], rows[str(untagged)]["gps_latitude"]) == (None, None)
        near = cli("--near", "Florence", "--format", "paths")
        assert near.stdout.splitlines() == [str(android)]
        july = cli("--where", "date_taken >= '2019-07-01'", "--order-by", "date_taken", "--format", "paths")
        assert july.stdout.splitlines() == [str(android), str(iphone)]
        (found,) = cli.search("--text", "+lisbon +july")
        assert [r["path"] for r in found["results"]] == [str(iphone)]

    rows_say()
    assert cli("--near", iphone, "--radius", "1", "--format", "paths").stdout.splitlines() == [str(iphone)]
    taken = ("date_taken", "gps_latitude", "gps_longitude", "gps_altitude", *PLACE_COLUMNS)
    rows_rewritten(cli, lambda r: r | dict.fromkeys(taken) | {"record_version": 11})
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert decoded == [] and "3 brought up to date from their rows" in again.stderr
    rows_say()


def with_idit_chunk(path: Path, written: bytes) -> Path:
    """An AVI as a camera of the 2000s writes one (Canon's, Nikon's, Fujifilm's): when it was
    shot, in the camera's local time, in an ``IDIT`` chunk before the frames."""
    data, position, rewritten = path.read_bytes(), 12, bytearray()
    while position < len(data):
        tag, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        if tag == b"LIST" and data[position + 8 : position + 12] == b"movi":
            rewritten += b"IDIT" + struct.pack("<I", len(written)) + written + b"\x00" * (len(written) & 1)
        rewritten += data[position : position + 8 + size + (size & 1)]
        position += 8 + size + (size & 1)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(rewritten) + 4) + b"AVI " + bytes(rewritten))
    return path


def test_a_cameras_avi_is_dated_as_shot_and_a_videos_sidecar_corrects_it(cli: Cli, tmp_path: Path) -> None:
    """A camera's AVI holds its local time (FFmpeg reads the IDIT chunk as a creation_time
    without a zone): kept as written, not shifted as a UTC time would be. A video's XMP sidecar
    (digiKam's, darktable's) sets its date right, as a photo's does."""
    folder = tmp_path / "camera"
    black, body = Image.new("RGB", (160, 120)), Image.open(paint_photo(tmp_path / "body.png", 70)).convert("RGB")
    avi = with_idit_chunk(make_video(folder / "MVI_0042.avi", black, body), b"Sat Jul 14 10:00:00 2007\n\x00")
    mp4 = make_video(folder / "clip.mp4", black, body, tags={"creation_time": "2019-07-03T14:33:00.000000Z"})
    (folder / "clip.mp4.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="2019-07-04T08:00:00"/>'
        "</rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    cli.index(folder)
    rows = cli.records()
    assert rows[str(avi)]["date_taken"] == "2007-07-14T10:00:00"
    assert rows[str(mp4)]["date_taken"] == "2019-07-04T08:00:00"


def with_xmp_box(path: Path, xmp: str) -> Path:
    """An MP4 with an XMP packet in it, as Adobe's software, digiKam or ExifTool write one to
    tag a video: a top-level ``uuid`` box of XMP's UUID (PyAV cannot write it)."""
    data = xmp.encode()
    box = struct.pack(">I", 8 + 16 + len(data)) + b"uuid" + XMP_UUID + data
    path.write_bytes(path.read_bytes() + box)
    return path


XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def test_what_a_videos_own_xmp_says_is_read(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    """A video tagged in Bridge, digiKam or with ExifTool keeps its keywords, title and stars
    in an XMP packet inside the file: read (FFmpeg hands it over), so `--text` finds the video
    and `--where rating` lists it; a sidecar still comes first. An index made before reads them
    from the video's header at its next --index, nothing decoded."""
    from test_xmp import packet, write_sidecar

    folder = tmp_path / "clips"
    black, body = Image.new("RGB", (160, 120)), Image.open(paint_photo(tmp_path / "body.png", 71)).convert("RGB")
    tagged = with_xmp_box(
        make_video(folder / "party.mp4", black, body),
        packet(rating=4, keywords=("birthday", "cake"), title="Nonna turns ninety"),
    )
    overruled = with_xmp_box(make_video(folder / "beach.mp4", black, body), packet(rating=1))
    write_sidecar(folder / "beach.mp4.xmp", packet(rating=5))
    make_video(folder / "plain.mp4", black, body)
    cli.index(folder, extra=("--workers", "0"))

    def rows_say() -> None:
        rows = cli.records()
        assert (rows[str(tagged)]["rating"], rows[str(tagged)]["title"]) == (4, "Nonna turns ninety")
        assert "birthday" in rows[str(tagged)]["keywords"] and rows[str(overruled)]["rating"] == 5
        (found,) = cli.search("--text", "birthday cake")
        assert [r["path"] for r in found["results"]] == [str(tagged)]
        starred = cli("--where", "rating >= 4", "--order-by", "path", "--format", "paths")
        assert starred.stdout.splitlines() == [str(overruled), str(tagged)]

    rows_say()
    from_xmp = ("rating", "title", "keywords", "caption", "people", "search_text")
    rows_rewritten(cli, lambda r: r | dict.fromkeys(from_xmp) | {"record_version": 14})
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert decoded == [] and "3 brought up to date from their rows" in again.stderr
    rows_say()


MDPM_START = bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66") + b"MDPM"


def mdpm(*entries: tuple[int, bytes]) -> bytes:
    """An MDPM as a camcorder writes it in its H.264 stream's SEI user data: its UUID and name,
    then its entries, a tag and four bytes each (ExifTool's ``H264.pm`` reads them so)."""
    return MDPM_START + bytes([len(entries)]) + b"".join(bytes([tag]) + value for tag, value in entries)


def sei_nal(user_data: bytes) -> bytes:
    """An H.264 SEI NAL unit holding ``user_data`` (unregistered user data, payload type 5), the
    emulation-prevention bytes in: a 0x000000-0x000003 inside would read as a start code."""
    payload, escaped, zeros = bytes([5, len(user_data)]) + user_data + b"\x80", bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte <= 3:
            escaped.append(3)
            zeros = 0
        escaped.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return b"\x00\x00\x00\x01\x06" + bytes(escaped)


def rational(numerator: int, denominator: int = 1) -> bytes:
    """An MDPM rational: two big-endian 16-bit numbers (ExifTool's rational32u)."""
    return numerator.to_bytes(2, "big") + denominator.to_bytes(2, "big")


def make_avchd_clip(
    path: Path, opening: Image.Image, body: Image.Image, user_data: bytes | None, late: bool = False
) -> Path:
    """A camcorder's AVCHD clip: H.264 in an MPEG transport stream, 3 s at 25 frames a second, a
    keyframe each second (``make_video``'s opening and body), ``user_data`` before each keyframe's
    picture as a Sony or a Canon writes its MDPM, or, ``late``, before the second frame's alone, as
    a Panasonic does."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25, options={"g": "25"})
        stream.width, stream.height, stream.pix_fmt = *body.size, "yuv420p"

        def mux(packets) -> None:
            for packet in packets:
                data = bytes(packet)
                if user_data is not None and (packet.pts == 1 if late else packet.is_keyframe):
                    data = sei_nal(user_data) + data
                written = av.Packet(data)
                written.pts, written.dts, written.time_base = packet.pts, packet.dts, packet.time_base
                written.is_keyframe, written.stream = packet.is_keyframe, stream
                out.mux(written)

        for i in range(75):
            mux(stream.encode(av.VideoFrame.from_image(opening if i < 4 else body)))
        mux(stream.encode())
    return path


def test_a_camcorders_avchd_clip_is_dated_and_named_by_its_h264_stream(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """An AVCHD clip (``00042.MTS``) has no tags: a camcorder writes when it was recorded, its
    make and, with a GPS, where, in the H.264 stream (MDPM). Without it a decade of home videos
    had no date, and a date filter, a timeline or --near left them out. A Panasonic's, written
    from the second frame on, is read too (its time escaped in the stream, as midnight's 00 00 01
    is), its void GPS fix no position; a clip whose clock was never set stays undated; an index
    made before reads them at its next --index, nothing decoded."""
    folder = tmp_path / "AVCHD" / "BDMV" / "STREAM"
    black = Image.new("RGB", (160, 120))
    bodies = [paint_photo(tmp_path / f"body{i}.png", seed=80 + i) for i in range(3)]
    sony = make_avchd_clip(folder / "00000.MTS", black, Image.open(bodies[0]).convert("RGB"), mdpm(
        (0x18, bytes([0x52, 0x20, 0x12, 0x07])), (0x19, bytes([0x14, 0x09, 0x30, 0x05])),  # 2012-07-14 09:30:05
        (0xB0, bytes([2, 2, 0, 0])), (0xB1, b"N\x00\x00\x00"), (0xB2, rational(43)), (0xB3, rational(46)),
        (0xB4, rational(732, 100)), (0xB5, b"E\x00\x00\x00"), (0xB6, rational(11)), (0xB7, rational(15)),
        (0xB8, rational(2040, 100)), (0xB9, bytes(4)), (0xBA, rational(52)), (0xBE, b"A\x00\x00\x00"),  # Florence
        (0xE0, bytes([0x01, 0x08, 0x30, 0x01])),  # Sony's maker code
        (0xE4, b"HDR-"), (0xE5, b"CX19"), (0xE6, b"0\x00\x00\x00"),
    ))  # fmt: skip
    panasonic = make_avchd_clip(folder / "00001.M2TS", black, Image.open(bodies[1]).convert("RGB"), mdpm(
        (0x18, bytes([0x00, 0x20, 0x10, 0x01])), (0x19, bytes([0x01, 0x00, 0x00, 0x01])),  # 2010-01-01 00:00:01 (escaped)
        (0xB1, b"N\x00\x00\x00"), (0xB2, rational(45)), (0xB3, rational(26)), (0xB4, rational(0)),
        (0xB5, b"E\x00\x00\x00"), (0xB6, rational(12)), (0xB7, rational(20)), (0xB8, rational(0)),
        (0xBE, b"V\x00\x00\x00"),  # Venice, but void: its GPS had no fix
        (0xE0, bytes([0x01, 0x03, 0x03, 0x13])),
    ), late=True)  # fmt: skip
    unset = make_avchd_clip(folder / "00002.MTS", black, Image.open(bodies[2]).convert("RGB"), mdpm(
        (0x18, bytes([0x00, 0xFF, 0xFF, 0xFF])), (0x19, bytes([0xFF, 0xFF, 0xFF, 0xFF])),  # a clock never set
    ))  # fmt: skip
    cli.index(folder, extra=("--workers", "0"))

    def rows_say() -> None:
        rows = cli.records()
        camera = ("date_taken", "make", "model")
        assert [rows[str(sony)][c] for c in camera] == ["2012-07-14T09:30:05", "SONY", "HDR-CX190"]
        assert [rows[str(panasonic)][c] for c in camera] == ["2010-01-01T00:00:01", "Panasonic", None]
        assert [rows[str(unset)][c] for c in camera] == [None, None, None]
        place = ("gps_latitude", "gps_longitude", "gps_altitude", "city")
        assert [rows[str(sony)][c] for c in place] == [
            pytest.approx(43.7687),
            pytest.approx(11.2556667),
            52,
            "Florence",
        ]
        assert [rows[str(panasonic)][c] for c in place] == [None, None, None, None]
        assert cli("--near", "Florence", "--format", "paths").stdout.splitlines() == [str(sony)]
        dated = cli("--where", "date_taken IS NOT NULL", "--order-by", "date_taken", "--format", "paths")
        assert dated.stdout.splitlines() == [str(panasonic), str(sony)]
        (found,) = cli.search("--text", "+sony +july")
        assert [r["path"] for r in found["results"]] == [str(sony)]

    rows_say()
    for clip, body in zip((sony, panasonic, unset), bodies, strict=True):  # the frame read after the MDPM: its picture
        (hits,) = cli.search("--search", str(body), "--limit", "1")
        assert hits["results"][0]["path"] == str(clip) and hits["results"][0]["score"] > 0.95
    from_mdpm = ("date_taken", "make", "model", "gps_latitude", "gps_longitude", "gps_altitude", *PLACE_COLUMNS)
    rows_rewritten(cli, lambda r: r | dict.fromkeys(from_mdpm) | {"record_version": 15})
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert decoded == [] and "3 brought up to date from their rows" in again.stderr
    rows_say()


def clip_xml(created: str, model: str, lens: str, encoding: str = "UTF-8") -> str:
    """The XML a Sony camera writes of a clip, as an a7's (Sony's non-real-time metadata, trimmed
    to what is read), its declaration naming ``encoding``."""
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<NonRealTimeMeta xmlns="urn:schemas-professionalDisc:nonRealTimeMeta:ver.2.20" '
        'lastUpdate="2019-07-03T23:33:00+09:00">\n'
        '  <Duration value="50"/>\n'
        f'  <CreationDate value="{created}"/>\n'
        '  <VideoFormat><VideoFrame videoCodec="AVC_1920_1080_HP@L41" captureFps="25p"/></VideoFormat>\n'
        f'  <Device manufacturer="Sony" modelName="{model}" serialNo="3301234"/>\n'
        f'  <Lens modelName="{lens}"/>\n'
        "</NonRealTimeMeta>\n"
    )


def write_clip_xml(clip: Path, created: str, model: str, lens: str, encoding: str = "UTF-8") -> Path:
    """The XML a Sony camera writes beside a clip (``C0001M01.XML`` beside ``C0001.MP4``)."""
    xml = clip.with_name(clip.stem + "M01.XML")
    xml.write_text(clip_xml(created, model, lens, encoding), encoding="utf-8")
    return xml


def box(kind: bytes, data: bytes, full: bool = False) -> bytes:
    """An ISO base media box: its size, its type, a full box's version and flags, its data."""
    data = bytes(4) + data if full else data
    return struct.pack(">I", 8 + len(data)) + kind + data


def with_clip_xml_inside(clip: Path, xml: str, cut: int = 0) -> Path:
    """The MP4 at ``clip`` with the XML a Sony camera keeps inside it: a top-level ``meta`` box
    (handler ``nrtm``) holding an ``xml `` box, at the end, where a camera writes it; its last
    ``cut`` bytes cut off, as a copy cut short is."""
    handler = box(b"hdlr", bytes(4) + b"nrtm" + bytes(12) + b"\0", full=True)
    meta = box(b"meta", handler + box(b"xml ", xml.encode() + b"\0\0", full=True), full=True)
    clip.write_bytes(clip.read_bytes() + meta[: len(meta) - cut])
    return clip


def test_a_sony_clips_xml_gives_its_local_time_camera_and_lens(cli: Cli, tmp_path: Path, decoded: list[str]) -> None:
    """A Sony's MP4 holds its time in UTC alone (written as this computer's local time: hours off
    for a trip in another zone) and no camera; the XML the camera writes beside it has the local
    time with its zone, the model and the lens. Read; an XML copied later is a change --index
    sees, nothing decoded, and one deleted takes its time and camera with it."""
    folder = tmp_path / "PRIVATE" / "M4ROOT" / "CLIP"
    black = Image.new("RGB", (160, 120))
    utc = {"creation_time": "2019-07-03T14:33:00.000000Z"}
    first, second = (
        make_video(folder / f"C000{n}.MP4", black, Image.open(paint_photo(tmp_path / f"{n}.png", 90 + n)), tags=utc)
        for n in (1, 2)
    )
    xml = write_clip_xml(first, "2019-07-03T23:33:00+09:00", "ILCE-7M3", "FE 24-105mm F4 G OSS")
    photo = paint_photo(folder.parent / "DCIM" / "DSC00001.JPG", 95)
    with_camera(photo, "SONY", "ILCE-7M3", "2019:07:03 23:35:00", "FE 24-105mm F4 G OSS")
    cli.index(folder.parent, extra=("--workers", "0"))
    as_here = datetime(2019, 7, 3, 14, 33, tzinfo=UTC).astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    camera = ("date_taken", "make", "model", "lens")
    in_tokyo = ["2019-07-03T23:33:00+09:00", "SONY", "ILCE-7M3", "FE 24-105mm F4 G OSS"]

    rows = cli.records()
    assert [rows[str(first)][c] for c in camera] == in_tokyo
    assert [rows[str(second)][c] for c in camera] == [as_here, None, None, None]
    listed = cli("--where", "make = 'SONY' AND lens LIKE 'FE 24-105%'", "--format", "paths")
    assert sorted(listed.stdout.splitlines()) == sorted([str(first), str(photo)])  # the camera's clip and photo
    assert cli.index(folder.parent).summary()["unchanged"] == 3  # the XML is in the clip's signature, as indexed
    # Its clips and its photos are one camera (its maker spelt as their EXIF spells it), one lens.
    stats = cli("--stats", "--format", "json").json()
    assert (stats["cameras"]["counts"], stats["lenses"]["counts"]) == ({"SONY ILCE-7M3": 2}, {in_tokyo[3]: 2})

    # Copied later, by a tool that labels it with an encoding Python does not know: read as UTF-8.
    write_clip_xml(second, "2019-07-03T23:40:00+09:00", "ILCE-7M3", "FE 24-105mm F4 G OSS", encoding="x-sony")
    xml.unlink()
    decoded.clear()
    again = cli.index(folder.parent, extra=("--workers", "0"))
    assert decoded == [] and again.summary()["new"] == 0, again.stderr
    rows = cli.records()
    assert [rows[str(second)][c] for c in camera] == ["2019-07-03T23:40:00+09:00", *in_tokyo[1:]]
    assert [rows[str(first)][c] for c in camera] == [as_here, None, None, None]


def test_a_sony_clip_copied_without_its_xml_is_read_by_the_one_inside_it(
    cli: Cli, tmp_path: Path, decoded: list[str]
) -> None:
    """Lightroom, Apple's Photos and a phone's app import a Sony's MP4 alone, without the XML
    beside it; the camera wrote the same XML inside the MP4: its local time with its zone, its
    model and lens are read from there (nothing else in the MP4 says them). A phone's MP4 holds
    none, and one whose box is cut short is indexed without it; an index made before reads them
    at its next --index, nothing decoded."""
    folder = tmp_path / "Lightroom" / "2019" / "2019-07-03"
    black = Image.new("RGB", (160, 120))
    utc = {"creation_time": "2019-07-03T14:33:00.000000Z"}
    bodies = [paint_photo(tmp_path / f"{n}.png", 100 + n) for n in range(3)]
    sony, phone, cut = (
        make_video(folder / name, black, Image.open(body), tags=utc)
        for name, body in zip(("C0001.MP4", "VID_20190703.mp4", "C0002.MP4"), bodies, strict=True)
    )
    with_clip_xml_inside(sony, clip_xml("2019-07-03T23:33:00+09:00", "ILCE-7M3", "FE 24-105mm F4 G OSS"))
    with_clip_xml_inside(cut, clip_xml("2019-07-03T23:50:00+09:00", "ILCE-7M3", "FE 24-105mm F4 G OSS"), cut=40)
    cli.index(folder, extra=("--workers", "0"))
    as_here = datetime(2019, 7, 3, 14, 33, tzinfo=UTC).astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    camera = ("date_taken", "make", "model", "lens")

    def rows_say() -> None:
        rows = cli.records()
        assert [rows[str(sony)][c] for c in camera] == [
            "2019-07-03T23:33:00+09:00",
            "SONY",
            "ILCE-7M3",
            "FE 24-105mm F4 G OSS",
        ]
        assert [rows[str(phone)][c] for c in camera] == [as_here, None, None, None]
        assert [rows[str(cut)][c] for c in camera] == [as_here, None, None, None]
        listed = cli("--where", "model = 'ILCE-7M3'", "--format", "paths")
        assert listed.stdout.splitlines() == [str(sony)]

    rows_say()
    for clip, body in zip((sony, phone, cut), bodies, strict=True):  # the box after the movie: its frame read as ever
        (hits,) = cli.search("--search", str(body), "--limit", "1")
        assert hits["results"][0]["path"] == str(clip) and hits["results"][0]["score"] > 0.95
    rows_rewritten(cli, lambda r: r | dict.fromkeys(camera) | {"date_taken": as_here, "record_version": 16})
    decoded.clear()
    again = cli.index(folder, extra=("--workers", "0"))
    assert decoded == [] and "3 brought up to date from their rows" in again.stderr
    rows_say()


def turn_for_display(path: Path, matrix: tuple[int, ...]) -> None:
    """Write a display matrix into an MP4's track header, as a phone does for a portrait clip.

    PyAV cannot write one (FFmpeg's muxer takes it from stream side data PyAV does not expose),
    so the test sets the nine 32-bit fields of the ``tkhd`` box that players read.
    """
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    times = 32 if data[at + 4] == 1 else 20  # version 1 boxes carry 64-bit times
    matrix_at = at + 4 + 4 + times + 8 + 8  # after version/flags, times, reserved, layer...volume
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def test_a_portrait_phone_video_is_indexed_upright(cli: Cli, tmp_path: Path) -> None:
    from common.decoding import decode_image

    body = Image.open(paint_photo(tmp_path / "body.png", seed=7, size=(160, 120))).convert("RGB")
    clip = make_video(tmp_path / "clips" / "portrait.mp4", body, body)
    turn_for_display(clip, (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000))  # iPhone portrait: 90° clockwise
    upright = body.transpose(Image.Transpose.ROTATE_270)  # what a player shows

    frame = np.asarray(decode_image(str(clip)).image, dtype=np.float32)
    assert frame.shape == (160, 120, 3)
    error = np.abs(frame - np.asarray(upright, dtype=np.float32)).mean()
    wrong_way = np.abs(frame - np.asarray(body.transpose(Image.Transpose.ROTATE_90), dtype=np.float32)).mean()
    assert error < 10 < wrong_way, (error, wrong_way)

    cli.index(tmp_path / "clips")
    record = cli.records()[str(clip)]
    assert (record["width"], record["height"]) == (120, 160), "the size a viewer sees"
