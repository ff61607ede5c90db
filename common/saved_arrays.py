"""Arrays kept in plain ``.npz`` files, for what imagedb saves to skip work it can always redo
(a FAISS index's word postings, ``common.text_search.Postings``; the compiled places,
``common.place_data``): numbers, and text as UTF-8, never pickles, so reading a file runs no
code. Whoever reads one checks it is whole and theirs, and makes it again when it is not."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import Any

import numpy as np

# What reading a missing, damaged, cut-short or foreign file raises.
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
_END = "\x00"  # after each text of a list (no name or word holds it)


def save_arrays(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as they are (``path`` keeps its name: no .npz is added)."""
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def open_arrays(path: str) -> Any:
    """The arrays ``save_arrays`` wrote, by name (a context manager; pickles refused)."""
    return np.load(path, allow_pickle=False)


def text_array(texts: Iterable[str]) -> np.ndarray:
    """Texts as one array of UTF-8, each ended by a NUL (so [] and [''] differ)."""
    return np.frombuffer("".join(f"{text}{_END}" for text in texts).encode(), dtype=np.uint8)


def text_list(array: np.ndarray) -> list[str]:
    """The texts ``text_array`` made this array of."""
    return array.tobytes().decode().split(_END)[:-1]
