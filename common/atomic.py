"""Replacing a file so that readers, and a crash, see the old file or the new one, never half."""

from __future__ import annotations

import os
from collections.abc import Callable


def write_atomically(path: str, write: Callable[[str], None], durable: bool = True) -> None:
    """Call ``write(temp_path)``, then rename the result over ``path``.

    ``durable`` also fsyncs the file and its folder, so even a power cut leaves the old file or
    the new one; a cache that is cheap to remake (thumbnails) skips that cost. A write that fails
    leaves nothing behind but the old file.
    """
    temp = f"{path}.tmp-{os.getpid()}"
    try:
        write(temp)
        if durable:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    if durable:
        directory = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
