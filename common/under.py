"""``--under DIR``: narrow any search, a listing, ``--stats``, ``--duplicates`` or ``--export`` to
the files under some folders ("beach photos from the 2023 trip", rclip's search of one folder).

Rows hold absolute paths as the walk wrote them (``common.discovery.normalise_root``: ``~`` and
``..`` resolved, symlinks kept), so the files under a folder are a range of paths: from ``DIR/``
up to, not including, ``DIR0`` (``0`` is the character after ``/``), and ``DIR`` itself when it
names a file. Both engines compare text byte by byte, and UTF-8 keeps the characters' order, so
that range holds exactly the paths that start with ``DIR/`` (LanceDB answers it from its
index of paths). ``path LIKE 'DIR/%'`` would not do: a ``_`` or ``%`` in a folder's name is a
wildcard there (``2023_rome`` also matched ``2023-rome``). The range becomes one more SQL
condition joined to ``--where`` with AND, as ``--near``'s circle does, so every backend
filters it with its own engine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from common.store import sql_string, where_and

if TYPE_CHECKING:
    from common.store import ImageStore

# The character after the path separator: the first that ends a folder's range of paths.
_AFTER_SEPARATOR = chr(ord(os.sep) + 1)


def under_condition(folders: Sequence[str]) -> str:
    """SQL that holds for the rows of the files under any of ``folders`` (or that are one), each
    absolute and as the index names it (``common.folder_names.folders_as_indexed``: normalised
    there, not here, where a look at a share that stopped answering would never end)."""
    ranges = []
    for folder in folders:
        start = folder.rstrip(os.sep)  # the root folder: every absolute path
        ranges.append(
            f"path = {sql_string(folder)} OR (path >= {sql_string(start + os.sep)}"
            f" AND path < {sql_string(start + _AFTER_SEPARATOR)})"
        )
    return "(" + " OR ".join(ranges) + ")"


def with_under(where: str | None, folders: Sequence[str]) -> str:
    """``where`` (if any) and the folders' ranges, as one condition."""
    return where_and(where, under_condition(folders))


def under_label(label: str | None, folders: Sequence[str]) -> str:
    """How results and counts name the filter: 'under /photos/2023'."""
    under = "under " + " or ".join(folders)
    return f"{label} AND {under}" if label else under


def holds_rows_under(store: ImageStore, folder: str) -> bool:
    """Whether the index holds a row under ``folder`` (or of it, a file), asking for one row."""
    return bool(store.get_records(under_condition([folder]), 1))
