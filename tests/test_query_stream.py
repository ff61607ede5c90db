"""--search -: queries read from stdin, one a line, each answered as it comes, the model and the
index loaded once; a query that cannot be answered is one error line and the next is read."""

from __future__ import annotations

import io
import json
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, Cli, paint_photo


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    for i in range(6):
        paint_photo(folder / f"photo-{i}.jpg", seed=700 + i)
    return folder


def answers(stdout: str) -> list[dict]:
    """Each answer of a ``--format json`` stream: one line, a list of one query's results."""
    lines = stdout.splitlines()
    assert all(len(json.loads(line)) == 1 for line in lines)
    return [json.loads(line)[0] for line in lines]


def test_each_query_of_stdin_is_answered_and_a_bad_one_is_reported(
    cli: Cli, library: Path, tmp_path: Path, monkeypatch, model_loads: list[str]
) -> None:
    cli.index(library)
    outside = paint_photo(tmp_path / "elsewhere" / "new.jpg", seed=799)  # a photo the index does not hold
    typed = [
        "a photo of a dog",
        "",  # blank lines are skipped
        str(library / "photo-3.jpg"),
        str(tmp_path / "missing.jpg"),
        str(outside),
        f"{library}/",
        "  a photo of a cat  ",
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(typed) + "\n"))
    model_loads.clear()
    result = cli("--search", "-", "--limit", "3", "--format", "json", "--html", tmp_path / "session.html")

    assert result.code == 2  # two queries were refused
    found = answers(result.stdout)
    assert [(a["query"], a["query_kind"]) for a in found] == [
        ("a photo of a dog", "text"), (str(library / "photo-3.jpg"), "image"), (str(outside), "image"),
        ("a photo of a cat", "text"),
    ]  # fmt: skip
    assert all(len(a["results"]) == 3 for a in found)
    assert (found[1]["results"][0]["filename"], found[1]["results"][0]["score"]) == ("photo-3.jpg", 1.0)
    assert result.stderr_lines()[-3:] == [
        f"imagedb-{cli.backend}.py: error: query image not found: {tmp_path / 'missing.jpg'}",
        f"imagedb-{cli.backend}.py: error: --search {library}/: that is a folder; give an image file (or words to search for)",
        f"imagedb-{cli.backend}.py: wrote {tmp_path / 'session.html'}",
    ]
    # The text tower for the first prompt; the whole model once a photo had to be embedded; no more.
    assert len(model_loads) == 2
    page = (tmp_path / "session.html").read_text(encoding="utf-8")
    assert "a photo of a dog" in page and "a photo of a cat" in page


def test_what_would_fail_every_query_fails_the_session_once(cli: Cli, library: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a photo of a dog\na photo of a cat\n"))
    no_index = cli("--search", "-")
    assert no_index.code == 2 and no_index.stdout == ""
    assert no_index.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: no index at {cli.db}: create one with --index DIR (or point --db at one)"
    ]

    cli.index(library)
    for extra in (("--search", "-", "a dog"), ("--search", "-", "--text", "canon")):
        refused = cli(*extra)
        assert refused.code == 2 and refused.stdout == ""
        assert "--search - reads every query from stdin, one a line" in refused.stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO("a photo of a dog\na photo of a cat\n"))
    other_model = cli("--search", "-", "--model", "RN50", "--pretrained", "openai")
    assert other_model.code == 2 and other_model.stdout == "" and len(other_model.stderr_lines()) == 1
    assert "was built with imagedb-tiny-cifar10" in other_model.stderr


@pytest.mark.parametrize("backend", ["faiss"])
def test_an_answer_comes_before_the_next_query_is_typed(backend: str, library: Path, tmp_path: Path) -> None:
    """A program (or a person) writes a query and reads its answer before writing the next: the
    answer must be written out then, not held until stdin ends."""
    cli = Cli(backend, tmp_path / "db")
    cli.index(library)
    session = subprocess.Popen(
        [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--db", str(cli.db), "--search", "-", "--format", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        waiting = selectors.DefaultSelector()
        waiting.register(session.stdout, selectors.EVENT_READ)
        for query in ("a photo of a dog", str(library / "photo-1.jpg")):
            session.stdin.write(query + "\n")
            session.stdin.flush()
            assert waiting.select(timeout=120), "no answer while stdin stays open"
            (answer,) = json.loads(session.stdout.readline())
            assert answer["query"] == query and len(answer["results"]) == 6
        session.stdin.close()
        assert session.wait(timeout=60) == 0, session.stderr.read()
    finally:
        session.kill()
        session.wait()


def test_a_session_finds_what_another_process_indexed_meanwhile(cli: Cli, library: Path, tmp_path: Path) -> None:
    """An index run in another terminal during a session: the next query finds its photos (the
    session opens the index again), and the first query's answer stays what it was."""
    cli.index(library)
    session = subprocess.Popen(
        [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--db", str(cli.db), "--search", "-", "--format", "json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def ask(query: str) -> list[tuple[str, float]]:
        session.stdin.write(query + "\n")
        session.stdin.flush()
        (answer,) = json.loads(session.stdout.readline())
        return [(Path(hit["path"]).name, hit["score"]) for hit in answer["results"]]

    try:
        assert sorted(name for name, _ in ask("a photo of a dog")) == [f"photo-{i}.jpg" for i in range(6)]
        for i in (6, 7):
            paint_photo(library / f"photo-{i}.jpg", seed=700 + i)
        (library / "photo-0.jpg").unlink()
        cli.index(library)
        assert sorted(name for name, _ in ask("a photo of a dog")) == [f"photo-{i}.jpg" for i in range(1, 8)]
        assert ask(str(library / "photo-7.jpg"))[0] == ("photo-7.jpg", 1.0)  # the new photo finds itself
        session.stdin.close()
        assert session.wait(timeout=60) == 0, session.stderr.read()
    finally:
        session.kill()
        session.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_queries_typed_at_a_terminal_are_edited_with_a_history(tmp_path: Path, library: Path) -> None:
    """At a terminal the session prompts, and the up arrow brings back the last query: typed
    again with Enter, it is answered again. Ctrl-D ends the session, exit 0."""
    import os
    import pty

    cli = Cli("faiss", tmp_path / "db")
    cli.index(library)
    leader, follower = pty.openpty()
    session = subprocess.Popen(
        [sys.executable, str(REPO / "imagedb-faiss.py"), "--db", str(cli.db), "--search", "-", "--limit", "2"],
        stdin=follower, stdout=follower, stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    seen = b""

    def read_until(text: bytes, count: int) -> None:
        nonlocal seen
        waiting = selectors.DefaultSelector()
        waiting.register(leader, selectors.EVENT_READ)
        while seen.count(text) < count:
            assert waiting.select(timeout=120), f"waited for {text!r} in {seen!r}"
            seen += os.read(leader, 4096)

    try:
        read_until(b"query> ", 1)
        os.write(leader, b"a photo of a dog\r")
        read_until(b"query> ", 2)
        os.write(leader, b"\x1b[A\r")  # up arrow, Enter: the same query again
        read_until(b"query> ", 3)
        os.write(leader, b"\x04")  # Ctrl-D on an empty line
        assert session.wait(timeout=60) == 0, session.stderr.read()
    finally:
        session.kill()
        session.wait()
        os.close(leader)
    assert seen.count(b"a photo of a dog  (text, vector, 2 results)") == 2, seen.decode(errors="replace")


def test_a_query_that_finds_nothing_still_gets_its_line(cli: Cli, library: Path, monkeypatch) -> None:
    """A program reading an answer a line must get one for every query, an empty one too."""
    cli.index(library)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"a photo of a dog\n{library / 'photo-2.jpg'}\n"))
    result = cli("--search", "-", "--format", "json", "--min-score", "0.999")
    assert result.code == 0, result.stderr
    assert [(a["query"], [Path(h["path"]).name for h in a["results"]]) for a in answers(result.stdout)] == [
        ("a photo of a dog", []), (str(library / "photo-2.jpg"), ["photo-2.jpg"])
    ]  # fmt: skip


def test_a_filter_no_row_meets_is_said_once_in_a_session(cli: Cli, library: Path, monkeypatch) -> None:
    """The --where is the session's: where it lets no row through, each query finds nothing, and
    the line that says why came again at every query."""
    cli.index(library)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a photo of a dog\na photo of a cat\na red car\n"))
    result = cli("--search", "-", "--format", "json", "--where", "width > 5000")
    assert result.code == 0, result.stderr
    assert [a["results"] for a in answers(result.stdout)] == [[], [], []]
    assert result.stderr_lines() == [
        f"imagedb-{cli.backend}.py: --where: no row has width > 5000; the highest width is 160"
    ]


def test_a_line_in_another_encoding_is_refused_and_the_session_goes_on(cli: Cli, library: Path, monkeypatch) -> None:
    """A line written in Latin-1 ('café' as one byte é) among UTF-8 ones: that query is refused
    in one line naming its bytes; the others are answered (the session ended on an unexpected
    UnicodeDecodeError before, answering none after it)."""
    cli.index(library)
    piped = b"a photo of a dog\ncaf\xe9 au lait\na photo of a cat\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped), encoding="utf-8"))
    result = cli("--search", "-", "--format", "json", "--limit", "2")
    assert result.code == 2
    assert [a["query"] for a in answers(result.stdout)] == ["a photo of a dog", "a photo of a cat"]
    assert result.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: query caf\\xe9 au lait: not UTF-8 text (a line written in another encoding?)"
    ]


def test_queries_from_a_file_windows_saved_are_read_as_typed(cli: Cli, library: Path, monkeypatch) -> None:
    """Notepad's UTF-8 starts with a byte order mark and ends lines with CR LF: the first query,
    a photo's path, was "not found" for the mark before it."""
    cli.index(library)
    piped = f"\ufeff{library / 'photo-2.jpg'}\r\na photo of a cat\r\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped), encoding="utf-8"))
    result = cli("--search", "-", "--format", "json", "--limit", "1")
    assert result.code == 0, result.stderr
    first, second = answers(result.stdout)
    assert (first["query"], first["query_kind"]) == (str(library / "photo-2.jpg"), "image")
    assert first["results"][0]["filename"] == "photo-2.jpg" and second["query"] == "a photo of a cat"
