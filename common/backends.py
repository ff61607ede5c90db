"""Find a backend's store class by name, importing its front script by path.

The front scripts are named for people (``imagedb-lancedb.py``), not for import; tests and
benchmarks that drive both backends load them through here.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from common.store import ImageStore

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("lancedb", "faiss")


@cache
def load_backend_script(backend: str) -> ModuleType:
    """Import ``imagedb-<backend>.py`` as a module (once per process)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    path = REPO / f"imagedb-{backend}.py"
    spec = importlib.util.spec_from_file_location(f"imagedb_{backend}", path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as importlib's recipe does: dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def store_class(backend: str) -> type[ImageStore]:
    """The ``ImageStore`` subclass a backend script defines."""
    module = load_backend_script(backend)
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ImageStore) and value is not ImageStore
    ]
    (found,) = classes
    return found


def other_backend_at(db_path: str, backend: str) -> str | None:
    """Which other backend's index is at ``db_path``, if any.

    Each backend needs a folder of its own (they would share the failures report and the
    thumbnails); asked only where ``backend`` finds no index of its own, so a mistaken ``--db``
    is refused with the script to use instead of being told there is nothing there.
    """
    for name in BACKENDS:
        if name == backend:
            continue
        try:
            if store_class(name).exists(db_path):
                return name
        except ImportError:  # that backend's libraries are not installed: it made nothing here
            continue
    return None
