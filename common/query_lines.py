"""``--search -``: the queries of standard input, a line each, answered as they come.

A terminal gets a prompt and line editing with the session's history (GNU readline, where Python
has it); a pipe or a file is read a line at a time, each line whatever its encoding (a line in
another is refused alone, not the session), a Windows byte order mark taken off.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from common.output import stream_encoding

QUERY_PROMPT = "query> "  # --search - at a terminal


def queries_typed(stdin: TextIO, prompt: bool) -> Iterator[str]:
    """The queries of ``stdin``, a line each (blank lines skipped, ``query_in``), as they are
    typed or piped in; with ``prompt``, a prompt on stderr before each (a terminal). Typed at a
    terminal that also shows the results, they are read with line editing and the session's
    history (the arrow keys recall an earlier query to change), as a shell reads its commands."""
    if prompt and stdin is sys.stdin and sys.stdout.isatty():
        yield from _queries_edited()
        return
    read_line = _lines_kept_whole(stdin)
    while True:
        if prompt:
            sys.stderr.write(QUERY_PROMPT)
            sys.stderr.flush()
        line = read_line()
        if not line:
            if prompt:  # the shell's prompt then starts on a line of its own
                sys.stderr.write("\n")
            return
        query = query_in(line)
        if query:
            yield query


def query_in(line: str) -> str:
    """The query a line of ``--search -`` holds. A file saved by Windows' Notepad starts with a
    byte order mark, which is no whitespace: it made the first query's image "not found", or its
    prompt another text."""
    return line.strip().removeprefix("\ufeff").strip()


def _lines_kept_whole(stdin: TextIO) -> Callable[[], str]:
    """How to read ``stdin`` a line at a time so that a line in another encoding than stdin's is
    still read (its odd bytes kept as stand-ins, and that query refused), where decoding it
    strictly ended the whole session on an unexpected error."""
    raw = getattr(stdin, "buffer", None)
    if raw is None:  # already text (a test's StringIO)
        return stdin.readline
    encoding = stream_encoding(stdin)
    return lambda: raw.readline().decode(encoding, "surrogateescape")


def _queries_edited() -> Iterator[str]:
    """Queries read by ``input``, which edits the line with GNU readline where Python has it
    (importing ``readline`` turns it on; Windows' console edits lines itself)."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - imported for its side effect on input()
    while True:
        try:
            line = input(QUERY_PROMPT)
        except EOFError:  # Ctrl-D
            sys.stdout.write("\n")
            return
        query = query_in(line)
        if query:
            yield query
