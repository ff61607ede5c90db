"""Warnings of one kind, each on its own line up to ``LINES_AT_MOST`` a run, then one for the rest.

A library with thousands of broken files (or links into a drive long gone, or folders another
user keeps) is not a screenful of lines per thousand: the first are named, so the user sees what
kind of trouble it is, and one line says more were left unnamed and where they are listed.
"""

from __future__ import annotations

import logging

# How many warnings of one kind a run says before it leaves the rest to one line.
LINES_AT_MOST = 20


class WarningLines:
    """Say each warning on ``logger`` up to ``LINES_AT_MOST``, then ``more`` once (every one with -v)."""

    def __init__(self, logger: logging.Logger, more: str) -> None:
        self.logger = logger
        self.more = more
        self.said = 0

    def say(self, message: str, *args: object) -> None:
        self.said += 1
        if self.said <= LINES_AT_MOST or self.logger.isEnabledFor(logging.DEBUG):
            self.logger.warning(message, *args)
        elif self.said == LINES_AT_MOST + 1:
            self.logger.warning("%s", self.more)
