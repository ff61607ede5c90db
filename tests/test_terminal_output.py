"""A file name holding control characters is shown on the terminal, not obeyed (common.visible).

An ESC in a name printed raw would recolour, clear or retitle the terminal, and a newline split
the results table's row; the formats programs read keep every name exact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.visible import visible
from conftest import REPO, Cli, paint_photo

# Any control character but the newline that ends a line of output, and the bidirectional
# overrides, embeddings and isolates, which reorder the rest of a line.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

RETITLING = "new\nline\x1b]0;pwned\x07.jpg"  # a newline, then an OSC sequence that retitles the window
CLEARING_FOLDER = "dir\x1b[2J"  # CSI: clear the screen
EIGHT_BIT_CSI = "copy\x9b31m.jpg"  # U+009B: a one-character CSI to terminals that take 8-bit controls
BROKEN = "bad\x1b[31m.jpg"  # red from here on
REVERSED = "holiday\u202egnp.exe.jpg"  # shown raw: 'holidaygpj.exe.png', and the rest of its row reversed


def test_visible_writes_control_characters_out_and_leaves_the_rest() -> None:
    assert visible("a\nb\tc\x1b[31m\x9bd\x00\x7f\r") == "a\\nb\\tc\\x1b[31m\\x9bd\\x00\\x7f\\r"
    assert visible("a\u202eb\u2067c\u2069d") == "a\\u202eb\\u2067c\\u2069d"
    ordinary = "é 東京 👍🏽 می\u200cخواهم family 👨\u200d👩\u200d👧 שלום\u200f"  # accents, CJK, emoji, joiners, marks
    assert visible(ordinary) == ordinary


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    paint_photo(root / RETITLING, seed=1)
    shutil.copy(root / RETITLING, root / EIGHT_BIT_CSI)  # the same bytes: an exact duplicate
    paint_photo(root / CLEARING_FOLDER / "a.jpg", seed=2)
    paint_photo(root / REVERSED, seed=3)
    (root / BROKEN).write_bytes(b"not a picture")
    return root


def test_names_with_control_characters_are_shown_not_obeyed(cli: Cli, library: Path) -> None:
    indexed = cli.index(library)
    assert not CONTROL.search(indexed.stderr), indexed.stderr
    assert f"skipped {library / visible(BROKEN)}: " in indexed.stderr

    listed = cli("--where", "width > 0")
    assert listed.code == 0, listed.stderr
    assert not CONTROL.search(listed.stdout), listed.stdout
    rows = [line for line in listed.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == 4  # each file on its one row: the newline in a name did not split it
    names = (RETITLING, EIGHT_BIT_CSI, f"{CLEARING_FOLDER}/a.jpg", REVERSED)
    shown = {visible(str(library / name)) for name in names}
    assert all(any(path in row for row in rows) for path in shown), listed.stdout

    stats = cli("--stats")
    assert stats.code == 0 and not CONTROL.search(stats.stdout), stats.stdout
    assert visible(str(library / CLEARING_FOLDER)) in stats.stdout

    duplicates = cli("--duplicates")
    assert duplicates.code == 0 and not CONTROL.search(duplicates.stdout), duplicates.stdout
    assert visible(str(library / RETITLING)) in duplicates.stdout

    (library / CLEARING_FOLDER / "a.jpg").unlink()
    checked = cli("--check")
    assert checked.code == 1 and not CONTROL.search(checked.stdout + checked.stderr), checked.stdout
    assert visible(str(library / CLEARING_FOLDER / "a.jpg")) in checked.stdout + checked.stderr


def test_the_html_page_shows_names_as_the_table_does(cli: Cli, library: Path, tmp_path: Path) -> None:
    """In the page too a bidirectional override reordered a name ('holidaygpj.exe.png'), and the
    page is what gets passed on: names are written out as the table writes them."""
    cli.index(library)
    page = tmp_path / "page.html"
    assert cli("--where", "width > 0", "--html", page).code == 0
    text = page.read_text(encoding="utf-8")
    assert not CONTROL.search(text.replace("\n", "")), "a control character or override written raw"
    assert visible(str(library / REVERSED)) in text and visible(str(library / RETITLING)) in text


def test_an_argument_refused_is_quoted_on_its_one_line(cli: Cli) -> None:
    refused = cli("--stats", RETITLING)  # an argument no option takes: argparse quotes it
    assert refused.code == 2 and len(refused.stderr_lines()) == 1, refused.stderr
    assert not CONTROL.search(refused.stderr) and visible(RETITLING) in refused.stderr, refused.stderr


def test_formats_for_programs_keep_names_exact(cli: Cli, library: Path) -> None:
    cli.index(library)
    exact = {str(library / name) for name in (RETITLING, EIGHT_BIT_CSI, f"{CLEARING_FOLDER}/a.jpg", REVERSED)}
    [listing] = cli.search("--where", "width > 0")
    assert {hit["path"] for hit in listing["results"]} == exact
    nul_ended = cli("--where", "width > 0", "--format", "paths0")
    assert set(nul_ended.stdout.split("\0")[:-1]) == exact


def test_an_output_that_cannot_write_every_character_gets_each_name_escaped_not_a_crash(
    cli: Cli, tmp_path: Path
) -> None:
    """Where Python writes stdout in a code page (Windows redirecting to a file: cp1252; here
    PYTHONIOENCODING=ascii), a name with an emoji or an accent stopped the run at the first row
    with a UnicodeEncodeError. JSON escapes them its own way (the same names once parsed); the
    table and the logs write \\x/\\u escapes; paths and CSV too, and say so once on stderr."""
    names = {"café.jpg", "🎉 party.jpg", "plain.jpg"}
    for seed, name in enumerate(sorted(names)):
        paint_photo(tmp_path / "photos" / name, seed=seed)
    cli.index(tmp_path / "photos")
    script = [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--db", str(cli.db), "--where", "width > 0"]
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*script, *args], capture_output=True, env=env, check=False)

    as_json = run("--format", "json")
    assert as_json.returncode == 0 and as_json.stderr == b"", as_json.stderr
    assert {Path(hit["path"]).name for hit in json.loads(as_json.stdout)[0]["results"]} == names
    table = run()
    assert table.returncode == 0 and b"caf\\xe9.jpg" in table.stdout and b"\\U0001f389 party.jpg" in table.stdout
    for fmt in ("paths", "csv"):
        listed = run("--format", fmt)
        assert listed.returncode == 0 and b"caf\\xe9.jpg" in listed.stdout and b"plain.jpg" in listed.stdout
        (warning,) = listed.stderr.decode().splitlines()
        assert "2 path(s) hold characters standard output's encoding (ascii) cannot write" in warning
        assert "set PYTHONUTF8=1" in warning
    (tmp_path / "photos" / "brûlé 💥.jpg").write_bytes(b"not a picture")  # its warning names it
    shutil.copy(tmp_path / "photos" / "café.jpg", tmp_path / "photos" / "café (1).jpg")
    index_log = subprocess.run([*script[:4], "--index", str(tmp_path / "photos")], capture_output=True, env=env)
    assert index_log.returncode == 0 and b"br\\xfbl\\xe9 \\U0001f4a5.jpg" in index_log.stderr, index_log.stderr
    # The other JSON writers (--duplicates, --stats, --check) write valid JSON too.
    duplicates = subprocess.run([*script[:4], "--duplicates", "--format", "json"], capture_output=True, env=env)
    (group,) = json.loads(duplicates.stdout)["exact"]
    assert {Path(p).name for p in group["paths"]} == {"café.jpg", "café (1).jpg"}
    for action in ("--stats", "--check"):
        assert json.loads(
            subprocess.run([*script[:4], action, "--format", "json"], capture_output=True, env=env).stdout
        )


def test_names_in_wide_characters_keep_the_table_s_columns_in_line(cli: Cli, tmp_path: Path) -> None:
    """A Chinese, Japanese or Korean character takes two columns of a terminal and a combining
    accent none: measured as one each, 旅行/写真.jpg pushed its row's later columns three
    columns right of the others'."""
    from common.output import shown_width

    for seed, name in enumerate(("photo.jpg", "旅行/写真.jpg", "cafe\u0301/e\u0301te\u0301.jpg", "사진.jpg")):
        paint_photo(tmp_path / "photos" / name, seed=seed)
    cli.index(tmp_path / "photos")
    listed = cli("--where", "width > 0")
    rows = [line for line in listed.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == 4 and any("写真" in row for row in rows)
    assert len({shown_width(row[: row.index("×")]) for row in rows}) == 1, listed.stdout  # all 160×120


def test_the_table_fits_a_narrow_terminal_by_leaving_out_columns_never_paths(cli: Cli, tmp_path: Path) -> None:
    """A row wider than the terminal wrapped onto two lines, every row; at a terminal, the less
    telling columns are left out to fit, and into a pipe or a file every column stays."""
    from common.output import shown_width

    for seed in range(3):
        paint_photo(tmp_path / "photos" / "a folder with a long name" / f"{seed}.jpg", seed=seed)
    cli.index(tmp_path / "photos")
    script = [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--db", str(cli.db), "--where", "width > 0"]
    columns = len(str(tmp_path / "photos" / "a folder with a long name" / "0.jpg")) + 30  # the path fits
    env = {**os.environ, "COLUMNS": str(columns)}
    terminal, at_terminal = os.openpty()
    try:
        ran = subprocess.run(script, stdout=at_terminal, stderr=subprocess.PIPE, env=env, timeout=120, check=False)
        os.close(at_terminal)
        shown = b""
        while chunk := _read_or_nothing(terminal):
            shown += chunk
    finally:
        os.close(terminal)
    assert ran.returncode == 0, ran.stderr
    lines = shown.decode().replace("\r\n", "\n").splitlines()
    assert all(shown_width(line) <= columns for line in lines), lines
    header = next(line for line in lines if line.lstrip().startswith("#")).split()
    assert header[:3] == ["#", "score", "path"] and "camera" not in header, header
    assert sum(str(tmp_path / "photos" / "a folder with a long name") in line for line in lines) == 3
    piped = subprocess.run(script, capture_output=True, env=env, timeout=120, check=False).stdout.decode()
    assert "camera" in piped.splitlines()[1] and max(map(shown_width, piped.splitlines())) > columns


def _read_or_nothing(terminal: int) -> bytes:
    """What a pseudo-terminal holds, b"" once it holds no more (Linux says EIO then)."""
    try:
        return os.read(terminal, 65536)
    except OSError:
        return b""
