"""Where an index may live: a folder of its own, beside the photos or among them, never theirs.

An index made in the photo folder itself (``--db ~/Pictures --index ~/Pictures``, --db taken
for "where my photos are") indexed nothing, since a run never enters its own database's folder
(its thumbnails are JPEGs), and spread its files among the photos; one made in a folder of other
things (``--db ~``) did the second. Both are refused before the model loads.
"""

from __future__ import annotations

import os
import re

from common.discovery import is_under_root
from common.failures import FAILURES_FILE
from common.thumbnails import THUMBNAIL_DIR

# What an index writes in its folder (the LanceDB table images.lance; FAISS's images-, delta-
# and text- files of a generation, its manifest.json; thumbnails, failures, each perhaps as a
# temporary file while written): a first run stopped while making them leaves some, and the
# next run is to finish the index there, not refuse its folder.
AN_INDEXS_OWN = re.compile(
    rf"images\.lance|(images|delta|text)-[0-9a-f]{{12}}[.-].*|manifest\.json.*"
    rf"|{re.escape(FAILURES_FILE)}.*|{re.escape(THUMBNAIL_DIR)}"
)


def roots_inside(roots: list[str], db_path: str) -> list[str]:
    """The ``roots`` that are the database's folder or lie in it, by whatever names (symlinks
    resolved): a run leaves that folder out, so it would find nothing there."""
    database = os.path.realpath(db_path)
    return [root for root in roots if is_under_root(os.path.realpath(root), database)]


def other_things_in(folder: str) -> list[str]:
    """The names in ``folder`` (no index yet) that a new index would sit among, sorted. Hidden
    ones (.DS_Store, a lock) do not count: an empty folder made for the index may hold them;
    nor does what an index writes (``AN_INDEXS_OWN``)."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(name for name in names if not name.startswith(".") and not AN_INDEXS_OWN.fullmatch(name))
