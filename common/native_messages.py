"""Native libraries' messages kept off the user's terminal, as the decoding workers keep them.

Decoders written in C (libtiff above all, libjpeg, libheif) and other native code write their
complaints about odd files straight to the process's standard error (file descriptor 2), past
Python: "Using code not yet in table.", "Corrupt JPEG data: premature end of data segment",
hundreds of lines for a folder of scans, none naming its file. The run's own lines say what
matters (one per skipped file, naming it and why). The decoding workers send descriptor 2 to the
null device (``common.workers``); the main process decodes too, with ``--workers 0``, with
``--jpeg-decoder model`` or ``both`` on the CPU, and for the picture a search starts from, so it
does the same while a command runs, and keeps Python's own standard error (imagedb's lines,
warnings, progress bars, tracebacks) on a copy of where descriptor 2 went. ``--verbose`` shows
everything, as it does for the workers.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import logging
import os
import sys
from collections.abc import Iterator

# While ``native_messages_hidden`` hides them: a copy of where descriptor 2 went before
# (``descriptor_2_shown``); None otherwise.
_shown_on: int | None = None


def send_to_null_device(fd: int) -> None:
    """Point file descriptor ``fd`` at the null device (what is written to it goes nowhere)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@contextlib.contextmanager
def native_messages_hidden(show: bool = False) -> Iterator[None]:
    """Within: descriptor 2 goes to the null device and ``sys.stderr``, when it wrote to
    descriptor 2, to a copy of it; both put back after (``show``: nothing changes).

    A crash of the interpreter itself still says where it happened, on the copy (``faulthandler``,
    unless something enabled it already: pytest, ``PYTHONFAULTHANDLER``). On Windows nothing
    changes (below): the workers alone hide decoders' messages there."""
    global _shown_on
    if show or sys.platform == "win32":
        # (Windows: Python writes to a console through its own console I/O, in UTF-16; a copy of
        # the descriptor would write bytes in the console's code page instead: names garbled.)
        yield
        return
    try:
        os.fstat(2)
    except OSError:  # closed (``2>&-``): nothing to hide, nowhere to show it
        yield
        return
    python_stderr = sys.stderr
    writes_to_fd2 = _fileno(python_stderr) == 2
    if writes_to_fd2:
        python_stderr.flush()
    saved = os.dup(2)
    copy: io.TextIOWrapper | None = None
    if writes_to_fd2:
        copy = io.TextIOWrapper(
            io.FileIO(saved, "w", closefd=False),
            encoding=python_stderr.encoding,
            errors=python_stderr.errors,
            line_buffering=True,
            write_through=True,
        )
        sys.stderr = copy
    enabled_here = copy is not None and not faulthandler.is_enabled()
    if enabled_here:
        faulthandler.enable(file=copy)
    send_to_null_device(2)
    _shown_on = saved
    try:
        yield
    finally:
        _shown_on = None
        if enabled_here:
            faulthandler.disable()
        if copy is not None:
            sys.stderr = python_stderr
            # Closed, so a write through a reference kept to it fails instead of going to
            # whatever file is given its descriptor's number next.
            copy.close()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def descriptor_2_shown() -> Iterator[None]:
    """Within: descriptor 2 where it went before ``native_messages_hidden`` hid it (while it
    does), for a process started here to inherit. The decoding server is one, started by the
    first command that indexes and kept for the process's life: started with the null device,
    it would have left every later command's workers nowhere to write, ``--verbose`` ones too,
    where a program runs several commands in one process (``main`` called again). Its workers
    send descriptor 2 to the null device themselves unless verbose."""
    if _shown_on is None:
        yield
        return
    hidden = os.dup(2)
    os.dup2(_shown_on, 2)
    try:
        yield
    finally:
        os.dup2(hidden, 2)
        os.close(hidden)


class CurrentStderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes, not to the one there
    when it was made: ``native_messages_hidden`` puts another in place while a command runs (the
    idea of Python's own last-resort handler)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _stream) -> None:
        pass


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a StringIO, a closed or detached stream
        return None
