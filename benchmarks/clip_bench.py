"""Videos and Live Photos: what a phone's library costs to index beside its stills alone.

An iPhone library holds every Live Photo twice, a still and a ~2 s clip beside it; a clip read in
the same run takes its still's vector (``common.live_clips``), so a Live Photo library should
cost little more than its stills alone: the clip's first frame is read (its thumbnail, size and
facts are its own), no forward pass is made for it. A video without a still is read at ~10 % of
its length and embedded: indexing videos should keep the model as busy as photos do. Both are
measured here on clips made from the corpus's photos (the machine has no phone's library):
H.264 at an iPhone Live clip's 1440x1080, 30 frames a second, 2 s, a still beside each.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.photo_bench import MODELS, PRECISION_MARK, model_ceiling
from common.backends import store_class
from common.defaults import default_batch_size
from common.embedding import Embedder
from common.failures import FailureReport
from common.pipeline import IndexSummary, index_roots
from common.store import IndexInfo
from common.thumbnails import THUMBNAIL_DIR
from common.workers import default_worker_count

# Live Photos made for the measurement: enough for seconds of ViT-B-32 work on a CPU.
LIVE_PHOTOS = 150
CLIP_SIZE = (1440, 1080)  # an iPhone's Live clip, landscape
CLIP_FPS = 30
CLIP_SECONDS = 2.0
# The libraries indexed, each into a fresh store: the stills alone, the stills with their clips,
# the clips alone (videos with no still beside them: each embedded from its own frame).
LIBRARIES = ("stills", "live", "clips")


def make_live_library(photos: list[str], folder: Path, count: int = LIVE_PHOTOS) -> dict[str, str]:
    """Three folders under ``folder`` (``LIBRARIES``) made from the first ``count`` distinct JPEGs
    of ``photos`` (a link's target once): 'IMG_0001.JPG' (the photo) with 'IMG_0001.MOV' (a clip
    showing it) in 'live', the same stills alone in 'stills' and the same clips alone in 'clips'.
    Links where the file system allows them, so the three hold the same bytes."""
    from PIL import Image

    jpegs = sorted({os.path.realpath(p) for p in photos if p.lower().endswith((".jpg", ".jpeg"))})[:count]
    if not jpegs:
        raise SystemExit("no JPEG in the corpus to make Live Photos of")
    roots = {name: folder / name for name in LIBRARIES}
    for root in roots.values():
        root.mkdir(parents=True, exist_ok=True)
    for number, photo in enumerate(jpegs, start=1):
        still, clip = f"IMG_{number:04d}.JPG", f"IMG_{number:04d}.MOV"
        with Image.open(photo) as opened:
            write_clip(roots["live"] / clip, opened.convert("RGB"))
        _link_or_copy(photo, roots["live"] / still)
        _link_or_copy(roots["live"] / still, roots["stills"] / still)
        _link_or_copy(roots["live"] / clip, roots["clips"] / clip)
    return {name: str(root) for name, root in roots.items()}


def write_clip(path: Path, picture: Any) -> None:
    """A ``CLIP_SECONDS`` H.264 clip of ``picture`` at ``CLIP_SIZE``, a keyframe a second."""
    import av

    frame_picture = picture.resize(CLIP_SIZE)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_FPS, options={"preset": "ultrafast", "g": str(CLIP_FPS)})
        stream.width, stream.height = CLIP_SIZE
        stream.pix_fmt = "yuv420p"
        for _ in range(int(CLIP_SECONDS * CLIP_FPS)):
            for packet in stream.encode(av.VideoFrame.from_image(frame_picture)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _link_or_copy(source: str | Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


def run_clip_benchmark(
    model_name: str,
    libraries: dict[str, str],
    backend: str,
    batch: int | None,
    device: str = "auto",
    workers: int | None = None,
    trials: int = 3,
) -> dict[str, Any]:
    """Index each of ``libraries`` (``make_live_library``) into a fresh ``backend`` store,
    ``trials`` times in turn, as the CLI does (decoding workers, thumbnails). The ratios are read
    trial by trial, each library's run seconds from the others', against the model-only ceiling
    measured before and after the trial: on a shared machine speeds drift by tens of percent
    within minutes. A first run, not counted, starts what a run's first pool waits for."""
    name, _, precision = model_name.partition(PRECISION_MARK)
    embedder = Embedder(MODELS[name], device, precision=precision or "auto")
    workers = default_worker_count(embedder.device) if workers is None else workers
    batch = default_batch_size(embedder.device) if batch is None else batch
    runs: dict[str, list[dict[str, Any]]] = {library: [] for library in LIBRARIES}
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory(prefix="imagedb-bench-clips-") as workdir:
        _index_fresh(backend, embedder, libraries["live"], Path(workdir) / "db", batch, workers)  # warm-up
        ceilings.append(model_ceiling(embedder, batch)["images_per_second"])
        for trial in range(trials):
            for library in LIBRARIES if trial % 2 == 0 else LIBRARIES[::-1]:
                summary = _index_fresh(backend, embedder, libraries[library], Path(workdir) / "db", batch, workers)
                runs[library].append(_run_facts(summary))
            ceilings.append(model_ceiling(embedder, batch)["images_per_second"])
    return {
        "model": name if embedder.precision == "fp32" else f"{name} ({embedder.precision})",
        "backend": backend,
        "live_photos": runs["stills"][0]["files"],
        "libraries": list(LIBRARIES),  # the order they are read in (a report's JSON sorts keys)
        "clip": {"size": list(CLIP_SIZE), "fps": CLIP_FPS, "seconds": CLIP_SECONDS, "codec": "H.264"},
        "batch": batch,
        "workers": workers,
        "runs": runs,
        "ceilings": ceilings,
        **live_and_clip_ratios(runs, ceilings),
    }


def live_and_clip_ratios(runs: dict[str, list[dict[str, Any]]], ceilings: list[float]) -> dict[str, Any]:
    """The medians over trials of: the Live library's time over its stills' alone (1.0 = the clips
    cost nothing; about 2 had each clip been embedded), and the clips' indexing throughput over
    the ceiling measured either side of their trial (1.0 = the model is the only limit)."""
    trials = len(runs["stills"])
    around = [(ceilings[t] + ceilings[t + 1]) / 2 for t in range(trials)]
    return {
        "live_vs_stills": statistics.median(
            runs["live"][t]["seconds"] / runs["stills"][t]["seconds"] for t in range(trials)
        ),
        "clips_vs_ceiling": statistics.median(runs["clips"][t]["images_per_second"] / around[t] for t in range(trials)),
        "stills_vs_ceiling": statistics.median(
            runs["stills"][t]["images_per_second"] / around[t] for t in range(trials)
        ),
    }


def _index_fresh(backend: str, embedder: Embedder, root: str, db: Path, batch: int, workers: int) -> IndexSummary:
    shutil.rmtree(db, ignore_errors=True)
    store = store_class(backend).create(str(db), IndexInfo(embedder.spec, embedder.dim))
    try:
        return index_roots(
            store,
            lambda: embedder,
            [root],
            batch_size=batch,
            failures=FailureReport(None),
            progress=False,
            workers=workers,
            thumbnail_dir=str(db / THUMBNAIL_DIR),
        )
    finally:
        store.close()


def _run_facts(summary: IndexSummary) -> dict[str, Any]:
    return {
        "files": summary.new,
        "embedded": summary.embedded,
        "from_stills": summary.from_stills,
        "failed": summary.failed,
        "seconds": summary.seconds,
        "images_per_second": summary.images_per_second,
        "read_cpu_ms_per_file": 1000 * summary.read_cpu_seconds / max(1, summary.new),
        "model_busy": summary.stage_seconds.get("embed", 0.0) / summary.seconds if summary.seconds else 0.0,
    }
