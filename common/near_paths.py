"""A path that is not there, and the one spelt nearly so that is: ``--index ~/Pictures/2019-rmoe``
offered ``~/Pictures/2019-rome``, ``--search IMG_042.jpg`` offered ``IMG_0042.jpg``.

'Folder not found' or 'query image not found' alone left the user to list the folder and
compare. From the deepest folder of the path that is there, each name that is not is matched
against the names the folder holds, case aside (``common.spelt_nearly``: two neighbouring
letters swapped, 'jgp' for 'jpg', or alike to ``LIKENESS``). Only on the refusal's path, and
a folder of more than ``MOST_NAMES_READ`` names is not read.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable

from common.spelt_nearly import spelt_nearly

LIKENESS = 0.8  # 'Pentax_K10.jpg' and 'Pentax_K10D.jpg' 0.97; '2019-rmoe' and '2019-rome' 0.89
MOST_NAMES_READ = 10_000


def path_spelt_nearly(path: str, *, folder: bool) -> str | None:
    """The path that is there (a folder if ``folder``, else a file) spelt nearly as ``path``, which
    is not, or None. As ``path`` is written: relative where it is."""
    parts = os.path.normpath(path).split(os.sep)
    there = len(parts)
    while there > 0 and not os.path.lexists(os.sep.join(parts[:there]) or os.sep):
        there -= 1
    if there == len(parts):
        return None
    found = parts[:there]
    for name in parts[there:]:
        near = _name_spelt_nearly(os.sep.join(found) or (os.sep if parts[0] == "" else "."), name)
        if near is None:
            return None
        found.append(near)
    spelt = os.sep.join(found)
    return spelt if (os.path.isdir(spelt) if folder else os.path.isfile(spelt)) else None


def _name_spelt_nearly(folder: str, name: str) -> str | None:
    """The name in ``folder`` spelt nearly as ``name`` (case aside; the likest), or None."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in itertools.islice(entries, MOST_NAMES_READ + 1)]
    except OSError:
        return None
    return name_spelt_nearly(name, names) if len(names) <= MOST_NAMES_READ else None


def name_spelt_nearly(name: str, names: Iterable[str]) -> str | None:
    """The one of ``names`` spelt nearly as ``name`` (case aside; ``common.spelt_nearly``), or None."""
    found = spelt_nearly(name, names, most=1, likeness=LIKENESS)
    return found[0] if found else None
