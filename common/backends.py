"""Find a backend's store class by name, importing its front script by path.

The front scripts are named for people (``imagedb-lancedb.py``), not for import; tests and
benchmarks that drive both backends load them through here.
"""

from __future__ import annotations

import importlib.util
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
