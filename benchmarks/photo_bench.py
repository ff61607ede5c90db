"""Index and search a real photo folder with each backend, and the model's own ceiling.

One model is loaded once and shared by both backends, so both index the same vectors; the
numbers that matter are ratios (backend / model-only ceiling, lancedb / faiss), since absolute
times on shared machines drift.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.ceiling_probe import CeilingProbe, faster_ceiling
from benchmarks.stats import REPO, directory_bytes, latency_stats, run_child, time_each
from common.backends import store_class
from common.decoding import decode_image
from common.defaults import default_batch_size
from common.discovery import find_image_files
from common.embedding import Embedder, ModelSpec, choose_precision
from common.failures import FailureReport
from common.pipeline import index_roots
from common.store import IndexInfo
from common.text_search import tokenize
from common.thumbnails import THUMBNAIL_DIR
from common.workers import DecodePool, default_worker_count, read_file

MODELS = {
    "tiny": ModelSpec(
        "imagedb-tiny-cifar10",
        str(REPO / "models" / "imagedb-tiny-cifar10.pt"),
        str(REPO / "models" / "imagedb-tiny-cifar10.json"),
    ),
    # Same architecture and FLOPs as the real ViT-B-32; random weights because none can be
    # downloaded here. Speed is what is measured, not relevance.
    "vit-b-32-random": ModelSpec("ViT-B-32", "none"),
}
# "name@precision" runs a model at a precision other than the CLI's default for the device
# (``common.embedding.choose_precision``): "vit-b-32-random@fp32" beside a bf16 default.
PRECISION_MARK = "@"
FALLBACK_PROMPTS = [
    "a dog on a beach", "a red car", "people at a market", "a plate of food", "a city street at night",
    "a cat on a sofa", "mountains and a lake", "a train at a station", "children playing football", "a bowl of fruit",
]  # fmt: skip
FILTER = "width >= 400"
# A cold --near by a place's name: the camera set has a photo taken there (DSCN0027).
PLACE = "Arezzo"
# A --search - session: prompts (the first pays the cold start), then photos of the index.
SESSION_PROMPTS = 11
SESSION_IMAGES = 5


@dataclass
class PhotoCorpus:
    """The folders to index plus the queries to run against them."""

    roots: list[str]
    images: list[str]  # every image file under the roots
    query_images: list[str]
    prompts: list[str]

    @property
    def image_count(self) -> int:
        return len(self.images)


def load_corpus(roots: list[str], queries: int, seed: int = 0) -> PhotoCorpus:
    """Find the images; take text prompts from COCO captions when a root has them."""
    images = [f.path for f in find_image_files(roots)]
    if not images:
        raise SystemExit(f"no images under {', '.join(roots)}")
    prompts: list[str] = []
    for root in roots:
        for captions in sorted(Path(root).glob("annotations/captions_*.json")):
            prompts += [a["caption"].strip() for a in json.loads(captions.read_text())["annotations"]]
    rng = random.Random(seed)
    prompts = rng.sample(prompts, min(queries, len(prompts))) if prompts else FALLBACK_PROMPTS
    query_images = rng.sample(images, min(queries, len(images)))
    return PhotoCorpus(roots, images, cycle_to(query_images, queries), cycle_to(prompts, queries))


def cycle_to(items: list[Any], n: int) -> list[Any]:
    return [items[i % len(items)] for i in range(n)]


def model_ceiling(embedder: Embedder, batch: int, min_seconds: float = 3.0) -> dict[str, float]:
    """Forward-pass throughput on preloaded tensors: what indexing could reach if I/O were free."""
    import torch

    size = embedder.model.visual.image_size
    height, width = size if isinstance(size, tuple | list) else (size, size)
    pixels = torch.randn(batch, 3, height, width, device=embedder.device)  # preloaded where the model runs
    embedder.embed_pixels(pixels)  # warm-up
    batches, started = 0, time.perf_counter()
    while batches < 3 or time.perf_counter() - started < min_seconds:
        embedder.embed_pixels(pixels)
        batches += 1
    seconds = time.perf_counter() - started
    return {"images_per_second": batches * batch / seconds, "batch": batch, "batches": batches}


def reading_alone(
    paths: list[str], embedder: Embedder, workers: int, thumbnail_dir: str, reader: Callable[..., Any] = read_file
) -> dict[str, float]:
    """The decoding workers reading every file with no model running: the most images/s any
    indexing run can reach on this machine, whatever the model.

    It is the limit for a model faster than reading (the tiny model here; ViT-B-32 on a GPU,
    whose host's cores do nothing else), and its CPU per image says how many cores a given rate
    needs. Timed as indexing is: from starting the pool to the last file, thumbnails made, the
    server the workers are forked from already up (the CLI starts it while the model loads; its
    own start, ~1 s of CPU loading the script and the places, would count against the first
    model measured here, not the second). ``reader``: the workers' job (``read_for_model_device``:
    a JPEG's header alone, its pixels left to the model's device).
    """
    warm_up = DecodePool(1, embedder.pixel_recipe)  # its first fork waits for the server's start
    try:
        list(warm_up.read(paths[:1], window=1))
    finally:
        warm_up.close()
    started = time.perf_counter()
    pool = DecodePool(workers, embedder.pixel_recipe, reader=reader, thumbnail_dir=thumbnail_dir)
    try:
        results = list(pool.read(paths, window=4 * workers))
    finally:
        pool.close()
    seconds = time.perf_counter() - started
    read = [r for r in results if r.reason is None]
    cpu_ms = 1000 * sum(r.cpu_seconds for r in results) / max(1, len(read))
    return {
        "images": len(read),
        "failed": len(results) - len(read),
        "workers": workers,
        "seconds": seconds,
        "images_per_second": len(read) / seconds,
        "cpu_ms_per_image": cpu_ms,
        "images_per_second_per_core": 1000 / cpu_ms if cpu_ms else 0.0,
    }


def metadata_words(store: Any, n: int, seed: int = 0) -> list[str]:
    """Words that occur in the indexed text (file names, cameras): realistic metadata queries."""
    words = sorted({t for r in store.get_records() for t in tokenize(r["search_text"] or "") if len(t) > 2})
    return cycle_to(random.Random(seed).sample(words, min(n, len(words))), n)


def search_latencies(
    store: Any, embedder: Embedder, corpus: PhotoCorpus, words: list[str], limit: int = 10
) -> dict[str, Any]:
    """p50/p95 per search kind: end to end (decode/embed + search) and the store's part alone."""

    def image_total(path: str) -> None:
        store.search_by_vector(embedder.embed_images([decode_image(path).image])[0], limit)

    def text_total(prompt: str) -> None:
        store.search_by_vector(embedder.embed_texts([prompt])[0], limit)

    def filtered_total(prompt: str) -> None:
        store.search_by_vector(embedder.embed_texts([prompt])[0], limit, FILTER)

    image_vectors = [embedder.embed_images([decode_image(p).image])[0] for p in corpus.query_images]
    text_vectors = [embedder.embed_texts([p])[0] for p in corpus.prompts]
    for warm in range(3):  # first queries pay for caches and lazy initialisation
        image_total(corpus.query_images[warm % len(corpus.query_images)])
        store.search_by_text(words[warm % len(words)], limit)
        filtered_total(corpus.prompts[warm % len(corpus.prompts)])
    return {
        "image": {
            "total": latency_stats(time_each(corpus.query_images, image_total)),
            "store": latency_stats(time_each(image_vectors, lambda v: store.search_by_vector(v, limit))),
        },
        "text": {
            "total": latency_stats(time_each(corpus.prompts, text_total)),
            "store": latency_stats(time_each(text_vectors, lambda v: store.search_by_vector(v, limit))),
        },
        "metadata": {
            "total": latency_stats(time_each(words, lambda w: store.search_by_text(w, limit))),
            "store": latency_stats(time_each(words, lambda w: store.search_by_text(w, limit))),
        },
        "filtered": {
            "total": latency_stats(time_each(corpus.prompts, filtered_total)),
            "store": latency_stats(time_each(text_vectors, lambda v: store.search_by_vector(v, limit, FILTER))),
        },
    }


def cold_start(backend: str, db: str, spec: ModelSpec, repeats: int, precision: str = "auto") -> dict[str, Any]:
    """Process start → ready-to-search in a fresh interpreter, split by step (medians of
    ``repeats``), the model loaded at ``precision``."""
    script = str(REPO / "benchmarks" / "cold_start.py")
    command = [sys.executable, script, backend, db, spec.model, spec.pretrained, precision]
    command += [spec.model_config] if spec.model_config else []
    runs = []
    for _ in range(repeats):
        spawned = time.time()
        done = run_child(command, f"cold start of {backend}")
        marks = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append(
            {
                "interpreter_s": marks["started"] - spawned,
                "imports_s": marks["imported_cli"] - marks["started"],
                "torch_open_clip_import_s": marks["imported_torch"] - marks["imported_cli"],
                "store_s": marks["store_ready"] - marks["imported_torch"],
                "model_s": marks["model_ready"] - marks["store_ready"],
                "ready_s": marks["model_ready"] - spawned,
                "first_text_query_s": marks["first_query_embedded"] - spawned,
            }
        )
    medians = {key: float(np.median([run[key] for run in runs])) for key in runs[0]}
    return medians | {"repeats": repeats, "precision": marks["precision"]}


def cold_text_search(backend: str, db: str, spec: ModelSpec, repeats: int) -> dict[str, float]:
    """A cold ``--search "text"`` through the real CLI against its floor (medians of ``repeats``).

    Each CLI run follows a floor run; the ratio is the median of those pairs' ratios, so a
    machine that slows down between pairs does not move it (the margin to read is ~10 %).
    """
    script = REPO / f"imagedb-{backend}.py"
    cli = [sys.executable, str(script), "--db", db, "--search", "a photo of a dog", "--format", "paths", "-q"]
    floor = [sys.executable, str(REPO / "benchmarks" / "cold_floor.py"), backend, spec.pretrained]
    pairs = [time_each([floor, cli], lambda command: run_child(command, " ".join(command))) for _ in range(repeats)]
    ratios = [cli_s / floor_s for floor_s, cli_s in pairs]
    return {
        "cli_s": float(np.median([cli_s for _, cli_s in pairs])),
        "floor_s": float(np.median([floor_s for floor_s, _ in pairs])),
        "ratio": float(np.median(ratios)),
        "pair_ratios": ratios,
        "repeats": repeats,
    }


def session_search(backend: str, db: str, prompts: list[str], images: list[str]) -> dict[str, Any]:
    """A ``--search -`` session through the real CLI: one process answering ``prompts`` then
    ``images`` (photos of the index) written to its stdin one at a time, each written once the
    answer before it came. Its first answer pays the cold start; the next ones only what a query
    costs with the index and the model loaded (the figure to read against a cold text search)."""
    script = REPO / f"imagedb-{backend}.py"
    command = [sys.executable, str(script), "--db", db, "--search", "-", "--format", "json", "--limit", "10", "-q"]
    started = time.perf_counter()
    session = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seconds: list[float] = []
    try:
        for query in (" ".join(query.split()) for query in [*prompts, *images]):  # a query a line
            asked = time.perf_counter() if seconds else started
            session.stdin.write(query + "\n")
            session.stdin.flush()
            (answer,) = json.loads(session.stdout.readline() or "[null]")
            if answer is None or answer["query"] != query:
                raise RuntimeError(
                    f"{backend} --search - gave no answer to {query!r}:\n{session.stderr.read()[-2000:]}"
                )
            seconds.append(time.perf_counter() - asked)
        session.stdin.close()
        if session.wait(timeout=60) != 0:
            raise RuntimeError(f"{backend} --search - failed:\n{session.stderr.read()[-2000:]}")
    finally:
        session.kill()
        session.wait()
    return {
        "first_s": seconds[0],
        "next_prompt_ms": 1000 * float(np.median(seconds[1 : len(prompts)])),
        "image_ms": 1000 * float(np.median(seconds[len(prompts) :])),
        "prompts": len(prompts),
        "images": len(images),
    }


def cold_image_search(backend: str, db: str, image: str, repeats: int) -> dict[str, Any]:
    """A cold ``--search photo.jpg`` through the real CLI, for a photo the index holds (median of
    ``repeats``): it searches by the stored vector, so no model is loaded. One more run with
    ``-v``, untimed, must print the line that says so."""
    script = REPO / f"imagedb-{backend}.py"
    cli = [sys.executable, str(script), "--db", db, "--search", image, "--format", "paths", "--limit", "10"]
    runs = time_each([cli] * repeats, lambda command: run_child(command, " ".join(command)))
    said = run_child([*cli, "-v"], f"{backend} search by an indexed photo, -v").stderr
    stored = "searching by the vector the index holds for it" in said
    return {"cli_s": float(np.median(runs)), "runs": runs, "stored_vector": stored, "repeats": repeats}


def cold_place_search(backend: str, db: str, place: str, repeats: int) -> dict[str, Any]:
    """A cold ``--near PLACE`` (a place by its name: the places read, no model) through the real
    CLI, each run after a cold ``--where`` holding the very condition it makes: the difference is
    what finding the place by its name costs (medians of ``repeats``). One untimed run of each
    first: the rows they list must be the same, and a first use's compiling of the places into
    the user's cache (``common.place_data``) is not what is timed."""
    from common.defaults import DEFAULT_RADIUS_KM
    from common.nearby import centre_of, within_condition

    script = REPO / f"imagedb-{backend}.py"
    where = within_condition(centre_of(place), DEFAULT_RADIUS_KM)
    near = [sys.executable, str(script), "--db", db, "--near", place, "--format", "paths", "-q"]
    filtered = [sys.executable, str(script), "--db", db, "--where", where, "--format", "paths", "-q"]
    listed = [set(run_child(command, " ".join(command)).stdout.split()) for command in (near, filtered)]
    pairs = [time_each([filtered, near], lambda command: run_child(command, " ".join(command))) for _ in range(repeats)]
    return {
        "place": place,
        "cli_s": float(np.median([near_s for _, near_s in pairs])),
        "where_s": float(np.median([where_s for where_s, _ in pairs])),
        "rows": len(listed[0]),
        "same_rows": listed[0] == listed[1],
        "repeats": repeats,
    }


def checkpoint_for(spec: ModelSpec, embedder: Embedder, workdir: str) -> ModelSpec:
    """Random weights saved as a local checkpoint, so cold start reads weights as a user's would."""
    if spec.pretrained != "none":
        return spec
    import torch

    path = str(Path(workdir) / f"{spec.model}-random-weights.pt")
    # In fp32, as a user's checkpoint is, whatever precision the embedder computes in.
    weights = {k: v.float() if v.is_floating_point() else v for k, v in embedder.model.state_dict().items()}
    torch.save({"state_dict": weights}, path)
    return ModelSpec(spec.model, path, spec.model_config)


def run_photo_benchmark(
    model_name: str,
    corpus: PhotoCorpus,
    backends: list[str],
    batch: int | None,
    load_repeats: int = 3,
    device: str = "auto",
    workers: int | None = None,
    index_trials: int = 3,
) -> dict[str, Any]:
    """Index the corpus with each backend (same model, same vectors), re-index it, search it.

    Indexing runs ``index_trials`` times per backend, each into a fresh store and each read
    against the model-only ceiling measured just before and just after it: on a shared machine
    the speed of both drifts by tens of percent within minutes, so a ceiling measured once,
    minutes away, says little about one run. The trial with the median ratio is reported. The
    backends' trials take turns, so trial k of each ran minutes apart at most, and the backends
    are compared trial by trial (``paired_throughput_ratio``). Reading alone is measured the same
    way, before and after each trial: its CPU an image moved from 10.3 to 13.1 ms between
    measurements minutes apart here, and the trials were read against one measured before them all.
    """
    name, _, precision = model_name.partition(PRECISION_MARK)
    spec = MODELS[name]
    embedder = Embedder(spec, device, precision=precision or "auto")
    result: dict[str, Any] = {
        # The precision is part of the label where it is not fp32: the same model runs several
        # times faster in bf16 on a CPU with AMX or AVX512-BF16, and a reader must see which one a row is.
        "model": name if embedder.precision == "fp32" else f"{name} ({embedder.precision})",
        "precision": embedder.precision,
        "spec": spec.to_dict(),
        "dim": embedder.dim,
        "device": embedder.device,
    }
    # What the CLI uses by default on this device, unless the benchmark was told otherwise.
    workers = default_worker_count(embedder.device) if workers is None else workers
    batch = default_batch_size(embedder.device) if batch is None else batch
    result["workers"], result["batch"] = workers, batch
    ceilings: list[dict[str, float]] = []
    result["backends"] = {}
    words: list[str] | None = None
    with tempfile.TemporaryDirectory(prefix="imagedb-bench-") as workdir:
        spec = checkpoint_for(spec, embedder, workdir)
        embedder.spec = spec
        result["checkpoint"] = spec.pretrained
        # Searches embed their queries as the CLI's do: a search process indexes nothing, and on
        # a CPU its model stays in fp32 unless told otherwise (common.embedding.choose_precision).
        searcher = embedder
        if choose_precision(precision or "auto", embedder.device, queries_only=True) != embedder.precision:
            searcher = Embedder(spec, device, precision=precision or "auto", queries_only=True)
        result["search_precision"] = searcher.precision

        def index_corpus(store: Any, db: str, roots: list[str] = corpus.roots, every_file: bool = False) -> Any:
            # As the CLI indexes by default: decoding workers, thumbnails in the database.
            # ``every_file``: as ``--force`` does, each file is read and embedded, copies of one
            # another included (the links of ``--copies``, which a plain run embeds once).
            return index_roots(
                store,
                lambda: embedder,
                roots,
                force=every_file,
                batch_size=batch,
                failures=FailureReport(None),
                progress=False,
                workers=workers,
                thumbnail_dir=str(Path(db) / THUMBNAIL_DIR),
            )

        def read_alone() -> dict[str, float]:
            thumbnails = Path(workdir) / "reading-alone" / THUMBNAIL_DIR
            shutil.rmtree(thumbnails, ignore_errors=True)  # made again each time, as indexing makes them
            return reading_alone(corpus.images, embedder, os.cpu_count() or 1, str(thumbnails))

        readings = [read_alone()]
        result["reading_alone"] = readings[0]
        trials: dict[str, list[dict[str, Any]]] = {backend: [] for backend in backends}
        with CeilingProbe(spec, embedder.device, batch, embedder.precision) as probe:

            def ceiling() -> dict[str, float]:
                return faster_ceiling(model_ceiling(embedder, batch), probe.measure())

            ceilings.append(ceiling())
            for trial in range(index_trials):
                # Interleaved, in alternating order: the backends are compared under the same drift.
                for backend in backends if trial % 2 == 0 else backends[::-1]:
                    db = str(Path(workdir) / backend)
                    shutil.rmtree(db, ignore_errors=True)  # a fresh store each time; the last one stays
                    store = store_class(backend).create(db, IndexInfo(spec, embedder.dim))
                    summary = index_corpus(store, db, every_file=True)  # a fresh store: only copies differ
                    store.close()
                    ceilings.append(ceiling())
                    readings.append(read_alone())
                    trials[backend].append(
                        index_trial(summary, ceilings[-2], ceilings[-1], (readings[-2], readings[-1]))
                    )
        for backend in backends:
            cls = store_class(backend)
            db = str(Path(workdir) / backend)
            store = cls.open(db)
            again = index_corpus(store, db)  # finds nothing changed
            store.close()
            store = cls.open(db)
            words = words or metadata_words(store, len(corpus.prompts))
            result["backends"][backend] = {
                "index": median_trial(trials[backend]),
                "reindex_unchanged_seconds": again.seconds,
                "reindex_embedded": again.embedded,
                "disk_bytes": directory_bytes(db),
                "search": search_latencies(store, searcher, corpus, words),
            }
            store.close()
            result["backends"][backend]["load"] = cold_start(backend, db, spec, load_repeats, embedder.precision)
            result["backends"][backend]["cold_text_search"] = cold_text_search(backend, db, spec, load_repeats)
            result["backends"][backend]["cold_image_search"] = cold_image_search(
                backend, db, corpus.images[0], load_repeats
            )
            result["backends"][backend]["cold_place_search"] = cold_place_search(backend, db, PLACE, load_repeats)
            result["backends"][backend]["session_search"] = session_search(
                backend, db, cycle_to(corpus.prompts, SESSION_PROMPTS), cycle_to(corpus.query_images, SESSION_IMAGES)
            )
            # Last: it adds the copy's rows to the store the searches above were timed on.
            copied = copy_of_library(corpus.images, str(Path(workdir) / "copied-library"))
            store = cls.open(db)
            summary = index_corpus(store, db, [copied])
            store.close()
            result["backends"][backend]["copied_library"] = {
                "files": summary.new,
                "reused": summary.reused,
                "embedded": summary.embedded,
                "seconds": summary.seconds,
            }
    result["ceiling"] = {
        "images_per_second": float(np.median([c["images_per_second"] for c in ceilings])),
        "batch": batch,
        "measurements": [c["images_per_second"] for c in ceilings],
        # Each measurement is the faster of the CLI's sleeping OpenMP threads and torch's default.
        "sleeping_threads": [c["sleeping_threads_images_per_second"] for c in ceilings],
        "default_threads": [c["default_threads_images_per_second"] for c in ceilings],
    }
    return result


def copy_of_library(images: list[str], target: str) -> str:
    """The corpus's distinct files under new paths in ``target`` (made once), as a library copied
    to a new disk or moved: the same bytes. Hard links where the file system allows them (no
    bytes copied), else copies."""
    if not os.path.isdir(target):
        os.makedirs(target)
        for number, source in enumerate(sorted({os.path.realpath(p) for p in images})):
            destination = os.path.join(target, f"{number:05d}-{os.path.basename(source)}")
            try:
                os.link(source, destination)
            except OSError:
                shutil.copyfile(source, destination)
    return target


def index_trial(
    summary: Any,
    ceiling_before: dict[str, float],
    ceiling_after: dict[str, float],
    readings: tuple[dict[str, float], dict[str, float]],
) -> dict[str, Any]:
    """One indexing run read against the ceiling, and reading alone, measured on either side of it."""
    ceiling = (ceiling_before["images_per_second"] + ceiling_after["images_per_second"]) / 2
    reading_rate = sum(r["images_per_second"] for r in readings) / 2
    machine_cpu_seconds = summary.seconds * (os.cpu_count() or 1)
    return {
        "reading_images_per_second": reading_rate,
        "reading_cpu_ms_per_image": sum(r["cpu_ms_per_image"] for r in readings) / 2,
        "vs_reading": summary.images_per_second / reading_rate,
        "images": summary.embedded,
        "failed": summary.failed,
        "seconds": summary.seconds,
        "images_per_second": summary.images_per_second,
        "stage_seconds": summary.stage_seconds,
        # The share of the run the model was computing: below 1, it waited (for decoded files, the store).
        "model_busy": summary.stage_seconds.get("embed", 0.0) / summary.seconds if summary.seconds else 0.0,
        # The share of all the machine's CPU time during the run that went to reading files.
        "read_cpu_seconds": summary.read_cpu_seconds,
        "read_cpu_share": summary.read_cpu_seconds / machine_cpu_seconds if machine_cpu_seconds else 0.0,
        "ceiling_images_per_second": ceiling,
        "vs_ceiling": summary.images_per_second / ceiling,
    }


def median_trial(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial with the median ratio to its ceiling, with every trial's ratio beside it."""
    ranked = sorted(trials, key=lambda t: t["vs_ceiling"])
    return ranked[(len(ranked) - 1) // 2] | {
        "trial_vs_ceiling": [t["vs_ceiling"] for t in trials],
        "trial_images_per_second": [t["images_per_second"] for t in trials],
        "trial_vs_reading": [t["vs_reading"] for t in trials],
    }
