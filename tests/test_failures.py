"""Files that failed: listed every run, read again only when that could end differently."""

from __future__ import annotations

import logging
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.discovery import FoundFile, _stat_file
from common.failures import FailureReport
from common.warning_lines import LINES_AT_MOST, WarningLines
from conftest import MODEL_ARGS, Cli, paint_photo


def test_a_broken_file_is_listed_every_run_but_read_again_only_once_it_changes(
    cli: Cli, photos: Path, decoded: list[str]
) -> None:
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    whole = (photos / "a.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    assert cli.index(photos).summary()["failed"] == 2
    first_report = cli.failures_by_name()
    assert set(first_report) == {"broken.jpg", "truncated.jpg"}
    decoded.clear()

    again = cli.index(photos, extra=("--workers", "0"))
    assert again.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 12, "failed": 2}
    assert decoded == [], "an unchanged tree is not decoded, its broken files included"
    assert cli.failures_by_name() == first_report, "still listed, as they failed when they were read"
    assert "0 to index, 12 unchanged" in again.stderr, "files left alone are not announced as to index"
    assert "2 file(s) failed in an earlier run and have not changed since" in again.stderr
    assert "--retry-failed" in again.stderr

    paint_photo(photos / "broken.jpg", seed=77)  # the user replaced it with a good copy
    fixed = cli.index(photos, extra=("--workers", "0"))
    assert decoded == ["broken.jpg"]
    assert fixed.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 12, "failed": 1}
    assert str(photos / "broken.jpg") in cli.records()
    assert set(cli.failures_by_name()) == {"truncated.jpg"}

    retried = cli.index(photos, extra=("--workers", "0", "--retry-failed"))
    assert decoded == ["broken.jpg", "truncated.jpg"]
    assert f"skipped {photos / 'truncated.jpg'}" in retried.stderr
    assert cli.failures_by_name()["truncated.jpg"]["time"] > first_report["truncated.jpg"]["time"]


def test_a_file_that_failed_under_other_decoders_is_read_once_more(cli: Cli, photos: Path, decoded: list[str]) -> None:
    """After an upgrade (imagedb's decoding, Pillow, pillow-heif, PyAV) a failure may not recur:
    a 200 MP HEIC that timed out is now read from its stored thumbnail in milliseconds."""
    import json

    from common.failures import reader_versions

    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    cli.index(photos)
    report = cli.db / "failures.jsonl"
    [entry] = map(json.loads, report.read_text().splitlines())
    assert entry["reader"] == reader_versions()
    entry["reader"] = "imagedb decoding 1, Pillow 11.0.0, pillow-heif 0.18.0, av 12.0.0"  # an older install's
    report.write_text(json.dumps(entry) + "\n")
    decoded.clear()

    upgraded = cli.index(photos, extra=("--workers", "0"))
    assert decoded == ["broken.jpg"], "read again by the new decoders"
    assert upgraded.summary()["failed"] == 1
    assert cli.failures_by_name()["broken.jpg"]["reader"] == reader_versions()
    cli.index(photos, extra=("--workers", "0"))
    assert decoded == ["broken.jpg"], "and then left alone again"


def test_force_reads_every_file_again_the_broken_ones_too(cli: Cli, photos: Path, decoded: list[str]) -> None:
    (photos / "broken.png").write_text("not a png")
    cli.index(photos)
    decoded.clear()
    forced = cli.index(photos, extra=("--workers", "0", "--force"))
    assert forced.summary() == {"new": 0, "updated": 12, "removed": 0, "unchanged": 0, "failed": 1}
    assert "broken.png" in decoded and len(decoded) == 13


def test_the_report_keeps_other_folders_and_forgets_files_that_are_gone(cli: Cli, tmp_path: Path) -> None:
    home, phone = tmp_path / "home", tmp_path / "phone"
    paint_photo(home / "ok.jpg", seed=1)
    paint_photo(phone / "ok.jpg", seed=2)
    (home / "bad.jpg").write_bytes(b"\xff\xd8 cut short")
    (phone / "bad.png").write_bytes(b"\x89PNG cut short")
    cli.index(home)
    cli.index(phone)
    assert {e["path"] for e in cli.failures_by_name().values()} == {str(home / "bad.jpg"), str(phone / "bad.png")}

    (home / "bad.jpg").unlink()
    assert cli.index(home).summary()["failed"] == 0
    assert {e["path"] for e in cli.failures_by_name().values()} == {str(phone / "bad.png")}


def test_a_run_names_the_first_twenty_skipped_files_and_leaves_the_rest_to_the_report(cli: Cli, tmp_path: Path) -> None:
    """A library with thousands of broken files printed a line for each, a screenful per hundred;
    the first twenty are named, then one line says the rest are in the report (every one there),
    and -v names each. The photo among them is indexed all the same."""
    library = tmp_path / "library"
    paint_photo(library / "photo.jpg", seed=1)
    for i in range(25):
        (library / f"broken-{i:02d}.jpg").write_bytes(b"\xff\xd8\xff not a picture " + bytes([i]))
    result = cli.index(library)
    named = [line for line in result.stderr_lines() if ": skipped /" in line]
    assert len(named) == 20 and result.summary()["failed"] == 25 and result.summary()["new"] == 1
    report = cli.db / "failures.jsonl"
    assert f": skipped more files: those after the first 20 are in {report} (-v names each)" in result.stderr
    assert len(report.read_text().splitlines()) == 25
    verbose = cli.index(library, extra=("--retry-failed", "-v"))
    assert len([line for line in verbose.stderr_lines() if ": skipped /" in line]) == 25
    assert "skipped more files" not in verbose.stderr


def test_a_timeout_is_tried_again_when_the_run_allows_more_time(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    huge, locked = FoundFile(str(tmp_path / "huge.heic"), 2_407_522, 1.7e9), FoundFile(str(tmp_path / "l.jpg"), 9, 1.0)
    run = FailureReport(str(path))
    run.begin([str(tmp_path)])
    run.add(huge.path, "timed out: still decoding after 3 s", "decode", file=huge, lasting=True, time_limit=3.0)
    run.add(locked.path, "permission denied", "decode", file=locked, lasting=False)
    run.close()
    with path.open("a", encoding="utf-8") as report:
        report.write('{"path": "/cut/short/by/a/cra')  # a crash mid-line costs that line alone

    later = FailureReport(str(path))
    assert later.earlier_failure(huge, time_limit=3.0) is not None
    assert later.earlier_failure(huge, time_limit=2.0) is not None
    assert later.earlier_failure(huge, time_limit=10.0) is None, "more time: worth another try"
    assert later.earlier_failure(huge, time_limit=None) is None, "no time limit at all (--workers 0)"
    assert later.earlier_failure(FoundFile(huge.path, huge.size, huge.mtime + 1), time_limit=3.0) is None
    assert later.earlier_failure(locked, time_limit=3.0) is None, "a locked file may be readable next run"


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc")
def test_an_io_error_is_worth_another_try_and_a_corrupt_file_is_not(tmp_path: Path) -> None:
    from common.decoding import DecodeError, decode_image

    with pytest.raises(DecodeError) as io_error:  # reading it fails in the system (EIO), not in the data
        decode_image("/proc/self/mem")
    assert not io_error.value.lasting and "Input/output error" in str(io_error.value)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(DecodeError) as corrupt:
        decode_image(str(tmp_path / "corrupt.png"))
    assert corrupt.value.lasting


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="file names there are always Unicode")
def test_a_file_name_in_another_encoding_is_reported_and_the_rest_indexed(cli: Cli, tmp_path: Path) -> None:
    """Linux file names are bytes; one in Latin-1 (from an old archive) cannot be stored as
    UTF-8 text. It used to end the run with an encoding error: now it costs that file alone,
    a copy of another photo too (it was given that photo's row, and the run ended)."""
    folder = tmp_path / "photos"
    good = paint_photo(folder / "good.jpg", seed=1)
    paint_photo(Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9.jpg")), seed=2)
    Path(os.fsdecode(os.fsencode(folder) + b"/copie-\xe9.jpg")).write_bytes(good.read_bytes())

    first = cli.index(folder)
    assert first.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 0, "failed": 2}
    assert list(cli.records()) == [str(folder / "good.jpg")]
    entries = sorted(cli.failures_by_name().values(), key=lambda entry: os.fsencode(entry["path"]))
    assert [os.fsencode(entry["path"]) for entry in entries] == [
        os.fsencode(folder) + name for name in (b"/caf\xe9.jpg", b"/copie-\xe9.jpg")
    ], "the report names them exactly"
    assert all("not valid UTF-8" in entry["reason"] and entry["retry"] == "when-changed" for entry in entries)
    # Named by the bytes they hold ('\xe9', as the refusal of a folder below), not by Python's
    # stand-in for the byte ('\udce9', a character no name holds).
    assert f"skipped {folder}/caf\\xe9.jpg: the file name is not valid UTF-8" in first.stderr
    assert "\udce9" not in first.stderr
    again = cli.index(folder)  # the report was read back: the files are left alone, still listed
    assert again.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 1, "failed": 2}
    assert "2 file(s) failed in an earlier run" in again.stderr
    # A copy of an indexed photo, by a name no store holds: reported, not given the stored row.
    Path(os.fsdecode(os.fsencode(folder) + b"/autre-\xe9.jpg")).write_bytes(good.read_bytes())
    third = cli.index(folder)
    assert third.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 1, "failed": 3}
    assert list(cli.records()) == [str(folder / "good.jpg")]

    odd_folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/vacances-\xe9t\xe9"))
    paint_photo(odd_folder / "beach.jpg", seed=3)
    refused = cli("--index", odd_folder, *MODEL_ARGS)
    assert refused.code == 2 and "not valid UTF-8" in refused.stderr and refused.stderr.count("\n") == 1
    assert "vacances-\\xe9t\\xe9" in refused.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and /dev/zero are POSIX")
def test_a_pipe_or_device_named_like_a_photo_is_left_out_and_said_so_when_verbose(cli: Cli, tmp_path: Path) -> None:
    """A named pipe would block a read until a writer came, and a link to /dev/zero never end
    one: like ``find -type f``, the walk leaves such names out (the run ends, the photo beside
    them indexed) and ``-v`` says what each is."""
    folder = tmp_path / "photos"
    paint_photo(folder / "good.jpg", seed=1)
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zeros.jpg").symlink_to("/dev/zero")

    result = cli.index(folder, extra=("-v",))
    assert result.summary() == {"new": 1, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert list(cli.records()) == [str(folder / "good.jpg")]
    assert f"leaving out {folder / 'pipe.jpg'}: not a file but a named pipe" in result.stderr
    assert f"leaving out {folder / 'zeros.jpg'}: not a file but a device" in result.stderr


def test_a_broken_link_is_named_with_its_target_and_a_file_gone_mid_walk_is_not_warned_of(
    cli: Cli, tmp_path: Path, caplog
) -> None:
    """A link to a file that is not there is worth a line (a drive not mounted?), and the line
    says where it points, not "No such file or directory" of a name ``ls`` lists. A file listed
    and then deleted before the walk looked at it (a watch beside a busy folder) was warned of
    the same way; it is simply gone."""
    folder, target = tmp_path / "photos", tmp_path / "unmounted" / "x.jpg"
    paint_photo(folder / "good.jpg", seed=1)
    (folder / "elsewhere.jpg").symlink_to(target)
    result = cli.index(folder)
    assert result.summary()["new"] == 1
    assert f"skipping {folder / 'elsewhere.jpg'}: it links to {target}, which is not there" in result.stderr
    with caplog.at_level(logging.INFO):
        assert _stat_file(str(folder / "gone.jpg"), WarningLines(logging.getLogger(), "more")) is None
    assert caplog.records == []


def test_a_library_of_links_into_a_drive_long_gone_names_the_first_twenty_then_says_one_line(
    cli: Cli, tmp_path: Path
) -> None:
    """Links into a drive retired years ago, folders another user keeps: each was a line, a
    screenful per thousand. A walk names the first ``LINES_AT_MOST`` (-v: each), then one line."""
    folder, gone = tmp_path / "photos", tmp_path / "old-drive"
    paint_photo(folder / "good.jpg", seed=1)
    for i in range(LINES_AT_MOST + 5):
        (folder / f"link-{i:02d}.jpg").symlink_to(gone / f"{i}.jpg")
    result = cli.index(folder)
    assert result.code == 0 and result.summary()["new"] == 1
    named = [line for line in result.stderr.splitlines() if "which is not there" in line]
    assert len(named) == LINES_AT_MOST
    assert result.stderr.count(f"those after the first {LINES_AT_MOST} are not named (-v names each)") == 1
    every = cli.index(folder, extra=("-v",))
    assert len([line for line in every.stderr.splitlines() if "which is not there" in line]) == LINES_AT_MOST + 5


def scrambled_tiff(path: Path, seed: int) -> Path:
    """An LZW TIFF whose compressed pixels were partly overwritten: libtiff refuses it and says
    why on the process's stderr ("Using code not yet in table.")."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    for start in (5_000, 20_000, 40_000):
        data[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def tiff_with_too_many_samples(path: Path) -> Path:
    """A TIFF claiming 65,535 samples a pixel: Pillow refuses it, logging why at ERROR level."""
    Image.fromarray(np.zeros((12, 16, 3), dtype=np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    assert data[:2] == b"II"  # little-endian, as Pillow writes it
    (ifd,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * entries, 12):
        if struct.unpack_from("<H", data, entry)[0] == 277:  # SamplesPerPixel, a SHORT
            struct.pack_into("<H", data, entry + 8, 65535)
    path.write_bytes(bytes(data))
    return path


def jpeg_with_a_gap(path: Path, seed: int) -> Path:
    """A JPEG missing part of its scan, still ending with its end marker: Pillow decodes it quietly,
    libjpeg through torchvision with "Corrupt JPEG data: premature end of data segment"."""
    whole = paint_photo(path, seed).read_bytes()
    path.write_bytes(whole[: len(whole) // 2] + whole[-500:])
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="there the main process leaves its stderr as it is")
@pytest.mark.parametrize(
    ("where_decoded", "verbose"),
    [(("--workers", "0"), False), (("--jpeg-decoder", "model"), False), (("--workers", "0"), True)],
    ids=["in-process", "jpegs-where-the-model-runs", "in-process-verbose"],
)
def test_decoders_chatter_in_the_main_process_stays_out_of_the_log_unless_verbose(
    where_decoded: tuple[str, str], verbose: bool, tmp_path: Path
) -> None:
    """The workers send C decoders' complaints (no file named in them) nowhere; the main process
    decodes too (--workers 0; JPEGs with --jpeg-decoder model on the CPU) and hides them the same
    way: the log is the run's own lines, the bad file named in one. A real process: the C
    libraries write to its file descriptor 2, which this test process's capture would not see."""
    import subprocess

    from conftest import REPO, SUMMARY

    folder = tmp_path / "photos"
    for seed in range(3):
        paint_photo(folder / f"good-{seed}.jpg", seed)
    jpeg_with_a_gap(folder / "gap.jpg", seed=7)
    scrambled_tiff(folder / "scan.tif", seed=8)
    tiff_with_too_many_samples(folder / "odd.tif")
    prog = "imagedb-faiss.py"
    command = [sys.executable, str(REPO / prog), "--index", str(folder), *MODEL_ARGS,
               "--db", str(tmp_path / "db"), *where_decoded, *(["-v"] if verbose else [])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    summary = SUMMARY.search(done.stderr)
    assert summary and summary.groups() == ("4", "0", "0", "0", "2"), done.stderr  # the gap's JPEG indexed
    assert f"{prog}: skipped {folder / 'scan.tif'}: corrupt or unsupported image data" in done.stderr
    assert f"{prog}: skipped {folder / 'odd.tif'}: not a recognised image" in done.stderr
    others = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(f"{prog}: ")]
    pillows = [line for line in done.stderr.splitlines() if "samples per pixel" in line]
    if verbose:
        assert any("not yet in table" in line for line in others), done.stderr
        assert pillows, done.stderr
    else:
        assert others == [] and pillows == [], others + pillows


@pytest.mark.skipif(sys.platform == "win32", reason="there the main process leaves its stderr as it is")
def test_a_verbose_command_after_a_quiet_one_in_the_same_process_shows_the_workers_chatter(tmp_path: Path) -> None:
    """The decoding server outlives the command that started it: one started while a quiet
    command hid descriptor 2 had kept the null device for every later command's workers, so a
    program calling ``main`` again with ``-v`` saw no decoder's message. A real process again (the
    workers write to the descriptor 2 their server had)."""
    import subprocess

    from conftest import REPO

    quiet, verbose = tmp_path / "quiet", tmp_path / "verbose"
    paint_photo(quiet / "good.jpg", seed=1)
    paint_photo(verbose / "good.jpg", seed=2)
    scrambled_tiff(verbose / "scan.tif", seed=8)
    script = (
        "import sys\n"
        "from common.backends import load_backend_script\n"
        "front = load_backend_script('faiss')\n"
        f"model = {MODEL_ARGS!r}\n"
        f"assert front.main(['--index', {str(quiet)!r}, *model, '--db', {str(tmp_path / 'q')!r}]) == 0\n"
        "print('--- verbose', file=sys.stderr, flush=True)\n"
        f"assert front.main(['--index', {str(verbose)!r}, *model, '--db', {str(tmp_path / 'v')!r}, '-v']) == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO)

    assert done.returncode == 0, done.stderr
    before, _, after = done.stderr.partition("--- verbose")
    assert "not yet in table" not in before and "not yet in table" in after, done.stderr


def test_a_file_the_user_named_that_fails_makes_the_status_1_once_the_rest_is_indexed(cli: Cli, tmp_path: Path) -> None:
    """``--index notes.txt good.jpg``: the user asked for that very file, so the run says it is not
    indexed and ends with status 1 (as ``cp`` does for a file it cannot read), the rest indexed;
    named again, its earlier failure (not read again) says so too, even with -q. A broken file
    found in a folder stays a skipped file of a successful run."""
    folder = tmp_path / "photos"
    good = paint_photo(folder / "good.jpg", seed=1)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list\n")
    said = f"imagedb-{cli.backend}.py: error: --index {{}}: not indexed: not a recognised image (unknown format or corrupt header)"

    named = cli("--index", notes, good, *MODEL_ARGS)
    assert named.code == 1 and named.stderr_lines()[-1] == said.format(notes), named.stderr
    assert sorted(cli.records()) == [str(good)]
    for _ in range(2):  # read, then left alone as unchanged since it failed
        again = cli("--index", broken, *MODEL_ARGS, "-q")
        assert again.code == 1 and again.stderr_lines()[-1] == said.format(broken), again.stderr
    whole = cli("--index", folder, *MODEL_ARGS)
    assert whole.code == 0 and "error" not in whole.stderr, whole.stderr
    assert sorted(cli.records()) == [str(good)] and set(cli.failures_by_name()) == {"broken.jpg", "notes.txt"}
    good.write_bytes(b"overwritten by a download that broke")  # a file indexed before, broken now
    changed = cli("--index", good, *MODEL_ARGS)
    assert changed.code == 1 and changed.stderr_lines()[-1].endswith(
        f"error: --index {good}: not indexed as it is now (its row from before is kept): not a recognised image "
        "(unknown format or corrupt header)"
    )
    assert sorted(cli.records()) == [str(good)]


def test_an_archive_named_to_index_is_refused_saying_to_extract_it(cli: Cli, tmp_path: Path) -> None:
    """Google Takeout comes as .zip and .tgz parts: named to --index, one was read as a picture
    that failed ("not a recognised image")."""
    archive = tmp_path / "takeout-20261206T101010Z-001.zip"
    archive.write_bytes(b"PK\x03\x04 a zip archive")
    refused = cli("--index", archive, *MODEL_ARGS)
    assert refused.code == 2 and refused.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --index {archive}: an archive, not a picture: extract it, then index "
        "the folder it makes"
    ]
    assert not cli.db.exists(), "nothing written"
