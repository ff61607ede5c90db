"""Child process for the cold-text-search floor: only what a text query cannot avoid.

``python benchmarks/cold_floor.py BACKEND CHECKPOINT``: start the interpreter, import torch and
open_clip, import the store's libraries, read the checkpoint file. A cold ``--search "text"`` is
judged against this (target: within 1.1 ×).

The store's libraries are what its design cannot answer a query without: LanceDB for the
LanceDB store; FAISS plus pandas and Parquet for the FAISS store, whose metadata is a pandas
frame read from a Parquet file (results carry that metadata).
"""

from __future__ import annotations

import sys
from pathlib import Path

import open_clip  # noqa: F401
import torch

STORE_LIBRARIES = {"lancedb": ("lancedb",), "faiss": ("faiss", "pandas", "pyarrow.parquet")}

if __name__ == "__main__":
    backend, checkpoint = sys.argv[1:3]
    if backend == "lancedb":  # as the store imports it (common.lancedb_import): its REST client unbuilt
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from common.lancedb_import import import_lancedb

        import_lancedb()
    for library in STORE_LIBRARIES[backend]:
        __import__(library)
    torch.load(checkpoint, map_location="cpu", weights_only=True)
