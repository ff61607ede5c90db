"""Indexing with JPEGs decoded by the workers, where the model runs, or both.

    python -m benchmarks.jpeg_decoding [--corpus DIR ...] [--copies N] [--trials 3] [--out DIR]

Same model, corpus, batch and workers; only ``--jpeg-decoder`` differs (``common.device_decoding``).
Each trial indexes the corpus into a fresh FAISS store once per decoder, in turns ("both": each
JPEG by the side that has room for it, ``DecodePool``'s lighter reader). Also measured: the
model-only ceiling, the workers reading every file with no model running (for "model", JPEGs'
headers alone: the CPU a file still costs; "both" has no such rate: its split depends on the
model's process), how many JPEGs each decoded on the device, and how alike the workers' and the
model's indexes are (each file's vector and colour signature, thumbnails written). Writes
``jpeg_decoding.md`` and ``.json`` to ``--out`` (default benchmarks/results/cuda on a GPU, else cpu).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.photo_bench import MODELS, load_corpus, model_ceiling, reading_alone
from benchmarks.run import DEFAULT_CORPUS, GPU_CORPUS_IMAGES, link_copies
from benchmarks.stats import REPO, environment
from common.backends import store_class
from common.defaults import default_batch_size
from common.embedding import Embedder, let_idle_torch_threads_sleep
from common.failures import FailureReport
from common.pipeline import index_roots
from common.store import IndexInfo
from common.thumbnails import THUMBNAIL_DIR
from common.workers import default_worker_count, read_file, read_for_model_device

DECODERS = ("workers", "model", "both")
READERS = {"workers": read_file, "model": read_for_model_device}  # reading alone, one reader each


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", type=Path, help="photo folders (default coco-mini and camera)")
    parser.add_argument("--model", default="vit-b-32-random", choices=sorted(MODELS))
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--copies", type=int, help=f"corpus copies (default: 1 on a CPU, {GPU_CORPUS_IMAGES:,} images on a GPU)"
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    let_idle_torch_threads_sleep()
    started = time.perf_counter()
    roots = [str(p.resolve()) for p in (args.corpus or DEFAULT_CORPUS) if p.exists()]
    if not roots:
        raise SystemExit("no corpus folder found: pass --corpus DIR")
    env = environment()
    embedder = Embedder(MODELS[args.model], args.device)
    batch = args.batch or default_batch_size(embedder.device)
    workers = default_worker_count(embedder.device) if args.workers is None else args.workers
    with tempfile.TemporaryDirectory(prefix="imagedb-jpeg-") as scratch:
        copies = args.copies or (1 if not env["gpu"] else -(-GPU_CORPUS_IMAGES // load_corpus(roots, 1).image_count))
        linked = link_copies(roots, copies, Path(scratch) / "copies") if copies > 1 else roots
        corpus = load_corpus(linked, 1)
        results: dict[str, Any] = {
            "environment": env,
            "corpus": {"roots": roots, "copies": copies, "images": corpus.image_count},
            "model": args.model,
            "precision": embedder.precision,
            "batch": batch,
            "workers": workers,
            "ceiling": model_ceiling(embedder, batch),
            "reading_alone": {
                decoder: reading_alone(
                    corpus.images, embedder, workers, str(Path(scratch) / f"alone-{decoder}"), READERS[decoder]
                )
                for decoder in READERS
            },
            "trials": {decoder: [] for decoder in DECODERS},
        }
        for trial in range(args.trials):
            for decoder in DECODERS[trial % len(DECODERS) :] + DECODERS[: trial % len(DECODERS)]:
                db = str(Path(scratch) / decoder)
                shutil.rmtree(db, ignore_errors=True)
                store = store_class("faiss").create(db, IndexInfo(embedder.spec, embedder.dim))
                main_cpu = time.process_time()
                summary = index_roots(
                    store, lambda: embedder, linked, force=True, batch_size=batch, failures=FailureReport(None),
                    progress=False, workers=workers, thumbnail_dir=str(Path(db) / THUMBNAIL_DIR),
                    jpeg_decoder=decoder,
                )  # fmt: skip
                main_cpu = time.process_time() - main_cpu
                store.close()
                results["trials"][decoder].append(
                    {
                        # This process alone (its threads too): with the model on a GPU, the one
                        # core that takes every file from the workers and issues the GPU's work.
                        "main_cpu_seconds": main_cpu,
                        "images": summary.embedded,
                        "failed": summary.failed,
                        "seconds": summary.seconds,
                        "images_per_second": summary.images_per_second,
                        "stage_seconds": summary.stage_seconds,
                        "read_cpu_seconds": summary.read_cpu_seconds,
                        "decoded_on_device": summary.decoded_on_device,
                    }
                )
                print(f"trial {trial} {decoder}: {summary.line()}", file=sys.stderr)
        results["alike"] = how_alike(str(Path(scratch) / "workers"), str(Path(scratch) / "model"))
    results["seconds"] = time.perf_counter() - started
    out = args.out or REPO / "benchmarks" / "results" / ("cuda" if env["gpu"] else "cpu")
    write_report(results, out)
    return results


def how_alike(workers_db: str, model_db: str) -> dict[str, Any]:
    """How close the index made with JPEGs decoded on the model's device is to the workers' one."""
    stores = [store_class("faiss").open(db) for db in (workers_db, model_db)]
    try:
        paths = [[r["path"] for r in s.get_records()] for s in stores]
        vectors = [s.get_vectors(p) for s, p in zip(stores, paths, strict=True)]
        colors = [s.get_colors(p) for s, p in zip(stores, paths, strict=True)]
    finally:
        for store in stores:
            store.close()
    paths = sorted(set(vectors[0]) & set(vectors[1]))
    cosines = np.array([float(np.dot(vectors[0][p], vectors[1][p])) for p in paths])
    color_dots = np.array(
        [float(np.dot(colors[0][p], colors[1][p])) for p in paths if p in colors[0] and p in colors[1]]
    )
    thumbnails = [sum(len(files) for _, _, files in os.walk(Path(db) / THUMBNAIL_DIR)) for db in (workers_db, model_db)]
    return {
        "rows": [len(v) for v in vectors],
        "same_paths": len(paths),
        "vector_cosine_min": float(cosines.min()) if len(cosines) else None,
        "vector_cosine_median": float(np.median(cosines)) if len(cosines) else None,
        "color_dot_min": float(color_dots.min()) if len(color_dots) else None,
        "thumbnails": thumbnails,
    }


def main_cpu_ms(trial: dict[str, Any]) -> str:
    """The main process's CPU an image of a trial ("-" for a report from before it was measured)."""
    if "main_cpu_seconds" not in trial:
        return "-"
    return f"{1000 * trial['main_cpu_seconds'] / max(1, trial['images']):.2f}"


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "jpeg_decoding.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    env, ceiling = results["environment"], results["ceiling"]["images_per_second"]
    lines = [
        "# JPEGs decoded by the workers, where the model runs, or both",
        "",
        f"{env['date']} · {env['cpu']} · {env['cpu_count']} CPUs · GPU: {env['gpu'] or 'none'} · torch {env['torch']}",
        f"Corpus: {', '.join(results['corpus']['roots'])}, {results['corpus']['copies']} copies "
        f"({results['corpus']['images']} images); {results['model']} ({results['precision']}), batch "
        f"{results['batch']}, {results['workers']} workers; model-only ceiling {ceiling:,.0f} images/s.",
        "",
        "| JPEGs decoded by | indexing images/s (median) | trials | vs ceiling | reading alone images/s | "
        "reading CPU ms an image | main process CPU ms an image | JPEGs decoded on the device | embed s | "
        "decode wait s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for decoder in DECODERS:
        trials = results["trials"].get(decoder)
        if not trials:  # a report from before "both"
            continue
        rates = [t["images_per_second"] for t in trials]
        middle = trials[int(np.argsort(rates)[len(rates) // 2])]
        alone = results["reading_alone"].get(decoder)
        lines.append(
            f"| {decoder} | {middle['images_per_second']:,.0f} | {' / '.join(f'{r:,.0f}' for r in rates)} | "
            f"{middle['images_per_second'] / ceiling:.2f} | "
            + (f"{alone['images_per_second']:,.0f} | {alone['cpu_ms_per_image']:.1f}" if alone else "- | -")
            + f" | {main_cpu_ms(middle)} | {middle.get('decoded_on_device', '-')} | "
            f"{middle['stage_seconds']['embed']:.2f} | {middle['stage_seconds']['decode']:.2f} |"
        )
    alike = results["alike"]
    lines += [
        "",
        f"Alike: {alike['same_paths']} paths in both indexes (rows {alike['rows'][0]} / {alike['rows'][1]}); "
        f"vector cosine min {alike['vector_cosine_min']:.4f}, median {alike['vector_cosine_median']:.4f}; "
        f"colour signature dot min {alike['color_dot_min']:.4f}; thumbnails {alike['thumbnails'][0]} / "
        f"{alike['thumbnails'][1]}.",
        "",
        f"Total benchmark time: {results['seconds']:.0f} s.",
    ]
    (out / "jpeg_decoding.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
