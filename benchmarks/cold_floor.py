"""Child process for the cold-text-search floor: only what a text query cannot avoid.

``python benchmarks/cold_floor.py BACKEND CHECKPOINT``: start the interpreter, import torch and
open_clip, import the store's library, read the checkpoint file. A cold ``--search "text"`` is
judged against this (target: within 1.1 ×).
"""

from __future__ import annotations

import sys

import open_clip  # noqa: F401
import torch

if __name__ == "__main__":
    backend, checkpoint = sys.argv[1:3]
    __import__({"lancedb": "lancedb", "faiss": "faiss"}[backend])
    torch.load(checkpoint, map_location="cpu", weights_only=True)
