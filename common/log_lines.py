"""The run's lines on stderr: 'prog: message', one line each, names shown and not obeyed.

Results alone go to stdout. imagedb's own lines are at INFO (``-q``: warnings alone, ``-v``:
debug); the libraries' chatter is held to their warnings. A ``--watch`` round that has nothing to
say says nothing, and a warning every look would give (a drive away) is said once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from common.native_messages import CurrentStderrHandler
from common.visible import visible

# The loggers of imagedb's own lines (the front scripts' and common's modules), set apart from
# the libraries' (configure_logging).
OWN_LOGGERS = ("imagedb", "common")


@contextlib.contextmanager
def only_warnings_logged() -> Iterator[None]:
    """imagedb's own info lines held back (a --watch round that may have nothing to say); -v
    still shows everything."""
    loggers = [logging.getLogger(name) for name in OWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.level == logging.INFO:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class RepeatsHeldBack(logging.Filter):
    """A watch's warnings said once, not at every look: a drive away for an hour gave two
    lines a second with ``--watch 1`` ("cannot read folder", "kept the rows"). A warning the
    look before gave too is held back; once a look no longer gives it, it is said again the
    next time it comes (the drive away a second time)."""

    def __init__(self) -> None:
        super().__init__()
        self.said_last_look: set[tuple[int, str]] = set()
        self.said_this_look: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        said = (record.levelno, record.getMessage())
        self.said_this_look.add(said)
        return said not in self.said_last_look

    @contextlib.contextmanager
    def during_a_look(self) -> Iterator[None]:
        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            handler.addFilter(self)
        try:
            yield
        finally:
            for handler in handlers:
                handler.removeFilter(self)
            self.said_last_look, self.said_this_look = self.said_this_look, set()


class VisibleMessages(logging.Formatter):
    """Each message on its one line, the file names and tags in it shown, not obeyed
    (``common.visible``); a traceback (``--verbose``) keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))


def configure_logging(prog: str, quiet: bool, verbose: bool) -> None:
    """Logs to stderr as 'prog: message' lines; results alone go to stdout."""
    handler = CurrentStderrHandler()
    handler.setFormatter(VisibleMessages(f"{prog}: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    # Libraries (open_clip, faiss) log chatter at INFO through the root logger: only their
    # warnings are shown, unless --verbose.
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for ours in OWN_LOGGERS:
        logging.getLogger(ours).setLevel(level)
    # Pillow logs what it finds wrong in a file it then refuses ("More samples per pixel than can
    # be decoded: 65535", at ERROR), naming no file: the run's line for that file says it. The
    # decoding workers' logs go nowhere (``common.native_messages``); the same here, unless --verbose.
    logging.getLogger("PIL").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
