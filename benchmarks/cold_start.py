"""Child process for the load benchmark: from interpreter start to ready-to-search.

Run as ``python benchmarks/cold_start.py BACKEND DB MODEL PRETRAINED PRECISION [MODEL_CONFIG]``. It
imports, opens the store and loads the model in the order a search does, and prints one JSON
line with the wall-clock time at each step, so the parent can subtract its own start time.
PRECISION is the model's (``--precision``): a row labelled fp32 loads the model as fp32 does.
"""

from __future__ import annotations

import time

STARTED = time.time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    backend, db, model, pretrained, precision = sys.argv[1:6]
    model_config = sys.argv[6] if len(sys.argv) > 6 else None
    marks = {"started": STARTED}
    from common.cli import Session  # noqa: F401 - what every invocation imports

    marks["imported_cli"] = time.time()
    import open_clip  # noqa: F401
    import torch  # noqa: F401

    marks["imported_torch"] = time.time()
    from common.backends import store_class

    cls = store_class(backend)
    store = cls.open(db)
    store.count()
    marks["store_ready"] = time.time()
    from common.embedding import Embedder, ModelSpec

    embedder = Embedder(ModelSpec(model, pretrained, model_config), "auto", precision=precision)
    marks["model_ready"] = time.time()
    embedder.embed_texts(["a photo of a dog"])
    marks["first_query_embedded"] = time.time()
    print(json.dumps(marks | {"precision": embedder.precision}), flush=True)


if __name__ == "__main__":
    main()
