"""One folder, several names: a symlink (``~/photos`` -> ``/mnt/disk2/photos``), a bind mount, or
another case on a case-insensitive disk (macOS's ``~/pictures`` is ``~/Pictures``).

Rows keep paths as the walk wrote them (``common.discovery.normalise_root`` resolves no
symlink: paths stay the user's), so the name a folder was first indexed by is the index's name
for it. Named another way later, the folder would hold nothing to ``--under`` or ``--forget``
(refused as a typo), and ``--index`` would add every file again under the new name beside the
old rows: each photo twice in every result. So a folder that holds nothing under the name given
is looked for under the index's names: the folders the index's paths run through that are the
same folder on disk (same device and inode), or, for a folder not indexed yet, the same for its
nearest parent the index holds, the rest of the path kept (``/link/2024`` is ``/real/2024``
when ``/link`` is ``/real``).

Only a name that holds nothing and is there pays for the look (every path read once, the
index's folders stat'ed, shallowest first, for ``LOOK_SECONDS`` at most: 0.06 s at 300k rows on
a local disk): a search or a re-index by the name the index uses costs what it did, and so does
a mistyped ``--under``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence

import pyarrow.compute as pc

from common.discovery import FolderKey, folder_key, normalise_root
from common.reading import NoAnswer, each_within
from common.store import ImageStore

log = logging.getLogger(__name__)

# How long the index's folders may be stat'ed for one name (``IndexedFolders``).
LOOK_SECONDS = 2.0


class IndexedFolders:
    """The folders the index's paths run through, by their identity on disk."""

    def __init__(self, store: ImageStore) -> None:
        paths = store.get_columns(["path"]).column("path")
        # Each path's folder, computed by Arrow over the whole column: a million paths in
        # Python's os.path.dirname would take as long as the rest of a search.
        parents = pc.replace_substring_regex(
            paths, pattern=re.escape(os.sep) + "[^" + re.escape(os.sep) + "]*$", replacement=""
        )
        folders: set[str] = set()
        for folder in pc.unique(parents).to_pylist():
            folder = folder or os.sep  # a file at the top of the disk
            while folder not in folders:
                folders.add(folder)
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
        self.names_by_key: dict[FolderKey, list[str]] = {}
        # Shallowest first, for as long as LOOK_SECONDS allows: on a network share each stat is a
        # round trip, and a library of 50k folders there could keep a command waiting a minute.
        # The folders a symlink or a mount names are mostly an indexed tree's top ones, and a
        # parent's name leads to its subfolders' as well (``names_of``).
        # A stat that never returns (a share that stopped answering) is left waiting on a thread
        # of its own (``each_within``), the folders after it not compared.
        deadline = time.monotonic() + LOOK_SECONDS
        in_order = sorted(folders, key=lambda folder: (folder.count(os.sep), folder))
        looked = 0
        keys = each_within(((folder, folder_key(folder)) for folder in in_order), max(0.0, LOOK_SECONDS))
        with contextlib.closing(keys):
            try:
                for folder, key in keys:
                    if time.monotonic() > deadline:
                        break
                    if key is not None:  # not there now (a drive unplugged): no other name can be it
                        self.names_by_key.setdefault(key, []).append(folder)
                    looked += 1
            except NoAnswer:
                pass
        if looked < len(in_order):
            log.info(
                "compared %d of the index's %d folders with the one given (a slow disk, or one not answering?)",
                looked, len(in_order),
            )  # fmt: skip

    def names_of(self, path: str) -> list[str]:
        """The index's names for ``path``, a folder or a file that is there (``folders_as_indexed``
        asks of no other), its nearest parent the index holds deciding; the path itself when
        neither it nor any parent is known to the index by another name."""
        here = path
        while True:
            key = folder_key(here)
            names = self.names_by_key.get(key) if key is not None else None
            if names:
                rest = os.path.relpath(path, here)
                return [name if rest == os.curdir else os.path.join(name, rest) for name in names]
            parent = os.path.dirname(here)
            if parent == here:
                return [path]
            here = parent


def folders_as_indexed(
    store: ImageStore, folders: Sequence[str], holds_something: Callable[[str], bool]
) -> dict[str, list[str]]:
    """Each of ``folders`` (normalised) with the names the index holds it by: itself when
    ``holds_something`` says so of that name, else what ``IndexedFolders`` finds (itself again
    when nothing). A name changed is said once, on the info log."""
    indexed: IndexedFolders | None = None
    names: dict[str, list[str]] = {}
    for folder in map(normalise_root, folders):
        # A name that holds rows is the index's; one that is not there (a typo, a drive away)
        # has nothing to compare: neither pays for the index's folders to be stat'ed.
        if holds_something(folder) or folder_key(folder) is None:
            names[folder] = [folder]
            continue
        indexed = indexed or IndexedFolders(store)
        names[folder] = indexed.names_of(folder)
        if names[folder] != [folder]:
            log.info("%s is the folder this index holds as %s: taken by that name", folder, " and ".join(names[folder]))
    return names
