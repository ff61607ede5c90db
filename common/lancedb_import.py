"""LanceDB imported without the part of it a database in a folder never uses.

Its own module so that the benchmark's cold-start floor (``benchmarks/cold_floor.py``) imports
LanceDB as the LanceDB store does, and nothing else of imagedb's.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

# The package of the REST client Lance's namespaces are generated with: `import lancedb` takes
# its models, and its __init__ builds every API class besides (366 methods through pydantic's
# validate_call: ~0.5 s of a 1.1-1.3 s import on two cores) that a database in a folder never calls.
NAMESPACE_REST_CLIENT = "lance_namespace_urllib3_client"


def import_lancedb() -> ModuleType:
    """``lancedb``, with the namespace REST client's package entered without running its
    ``__init__`` (``NAMESPACE_REST_CLIENT``): its submodules, the models LanceDB takes, import as
    ever, and the first name asked of the package itself runs the ``__init__`` then, so a program
    that does use the client finds it whole. A cold LanceDB command (``--where``, a search by an
    indexed photo, ``--stats``) spent a third of its time building a client it never calls."""
    if "lancedb" not in sys.modules and NAMESPACE_REST_CLIENT not in sys.modules:
        spec = importlib.util.find_spec(NAMESPACE_REST_CLIENT)
        if spec is not None and spec.loader is not None:
            package = importlib.util.module_from_spec(spec)
            loader = spec.loader

            def __getattr__(name: str) -> Any:
                del package.__getattr__
                loader.exec_module(package)
                return getattr(package, name)

            package.__getattr__ = __getattr__  # type: ignore[method-assign]
            sys.modules[NAMESPACE_REST_CLIENT] = package
    import lancedb

    return lancedb
