"""Where imagedb keeps what it can always make again, shared by every index of the user's (the
places compiled from their packages, ``common.place_data``): never anything an index needs."""

from __future__ import annotations

import os
import sys

CACHE_ENVIRONMENT = "IMAGEDB_CACHE"


def cache_folder() -> str:
    """``$IMAGEDB_CACHE``, else the platform's cache folder's ``imagedb``: ``$XDG_CACHE_HOME``
    or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows."""
    chosen = os.environ.get(CACHE_ENVIRONMENT)
    if chosen:
        return os.path.expanduser(chosen)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return os.path.join(os.environ["LOCALAPPDATA"], "imagedb", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/imagedb")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "imagedb")
