"""Run the imagedb benchmark and write its report: ``python -m benchmarks.run`` (``make bench``).

Phases, all in one run so every figure is read against the others:
  photos  index a real photo folder with each backend (same model, same vectors), re-index it
          unchanged, time four kinds of search, and measure cold start; per model
  clips   index Live Photos (stills with their clips), the stills alone and the clips alone; per model
  limits  the model's forward throughput on preloaded tensors (the ceiling for indexing) and
          exact NumPy / FAISS-flat search (the reference for query time and recall)
  scale   each store alone at 10k and 100k rows (1M with --scale-1m)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.clip_bench import LIVE_PHOTOS, make_live_library, run_clip_benchmark  # noqa: E402
from benchmarks.photo_bench import MODELS, load_corpus, run_photo_benchmark  # noqa: E402
from benchmarks.reindex_bench import CLI_REPEATS, make_tree, measure_unchanged_reindex  # noqa: E402
from benchmarks.report import write_report  # noqa: E402
from benchmarks.scale_bench import DISTRIBUTIONS, measure_in_subprocess  # noqa: E402
from benchmarks.stats import environment  # noqa: E402
from common.backends import BACKENDS  # noqa: E402
from common.embedding import let_idle_torch_threads_sleep  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_CORPUS = [SHARED / "coco-mini", SHARED / "camera"]
# At ~1,500 images/s the 340 photos of the default corpus index in a quarter of a second, less
# than the pool's start: on a GPU the corpus is repeated until a run takes seconds.
GPU_CORPUS_IMAGES = 10_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    parser.add_argument(
        "--corpus", nargs="+", type=Path, help="photo folders to index (default ../shared/data/coco-mini and camera)"
    )
    parser.add_argument(
        "--models",
        help=f"comma-separated, from {', '.join(MODELS)}, each at the CLI's precision or at one named after an @ "
        "('vit-b-32-random@fp32'); default vit-b-32-random,tiny, and vit-b-32-random@fp32 too where the CLI's "
        "precision on this CPU is not fp32 (bf16 with AMX or AVX512-BF16)",
    )
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--batch",
        type=at_least_one,
        help="images per forward pass, for indexing and the ceiling (default: as the CLI, 32 on the CPU, 128 on a CUDA GPU)",
    )
    parser.add_argument(
        "--queries", type=int, default=100, help="queries per search kind (at least 100 for the report)"
    )
    parser.add_argument("--scale", default="10000,100000", help="store-only sizes, comma-separated ('' to skip)")
    parser.add_argument("--scale-1m", action="store_true", help="add the 1,000,000-row scale point (minutes)")
    parser.add_argument(
        "--distributions", default=",".join(DISTRIBUTIONS), help="synthetic vector layouts for the scale phase"
    )
    parser.add_argument(
        "--live-photos",
        type=int,
        default=LIVE_PHOTOS,
        help="Live Photos (a corpus JPEG and a 2 s clip of it) to index per model, with the first backend (0 to skip)",
    )
    parser.add_argument(
        "--reindex-files", type=int, default=100_000, help="size of the generated unchanged tree (0 to skip)"
    )
    parser.add_argument(
        "--index-trials",
        type=int,
        default=3,
        help="indexing runs per backend and model, each between two ceilings (median)",
    )
    parser.add_argument(
        "--load-repeats", type=int, default=5, help="cold starts and cold text searches per backend and model (median)"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument(
        "--workers", type=int, help="decoding processes while indexing (default: as the CLI, one per core)"
    )
    parser.add_argument("--out", type=Path, help="report folder (default benchmarks/results/cpu, or /cuda on a GPU)")
    parser.add_argument(
        "--copies",
        type=at_least_one,
        help="index the corpus as this many copies (file links), so a fast GPU runs long enough to time "
        f"(default: 1 on the CPU; on a GPU, enough for {GPU_CORPUS_IMAGES:,} images)",
    )
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run on painted photos, for the test suite")
    return parser.parse_args(argv)


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def smoke_corpus(folder: Path) -> list[Path]:
    """A few painted photos, so the smoke run needs no shared data."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        pixels = rng.integers(0, 256, (96 + 8 * i, 128, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((480, 360 + 8 * i)).save(folder / f"painted-{i:02d}.jpg")
    return [folder]


def link_copies(roots: list[str], copies: int, folder: Path) -> list[str]:
    """``copies`` mirrors of ``roots`` whose files are symbolic links to the originals.

    Each copy is a distinct file to the indexer (its own path and row), decoded from the same
    bytes. Links to files, not to folders: discovery visits a linked folder once, however many
    links lead to it, so linked folders would be indexed once.
    """
    files = {
        root: [os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names]
        for root in roots
    }
    linked = []
    for copy in range(copies):
        for number, root in enumerate(roots):
            mirror = folder / f"copy-{copy:03d}" / f"{number}-{Path(root).name}"
            for relative in files[root]:
                (mirror / relative).parent.mkdir(parents=True, exist_ok=True)
                (mirror / relative).symlink_to(os.path.join(root, relative))
            linked.append(str(mirror))
    return linked


def default_models(device: str) -> str:
    """ViT-B-32 and the test model at the CLI's precision; ViT-B-32 in fp32 as well where that is
    not fp32 on the CPU (bf16, with AMX or AVX512-BF16, where it was measured faster): how much the
    precision gains, and the ratio to the ceiling the model in fp32 leaves to reading."""
    from common.embedding import choose_device, choose_precision

    chosen = choose_device(device)
    if chosen == "cpu" and choose_precision("auto", chosen) != "fp32":
        return "vit-b-32-random,vit-b-32-random@fp32,tiny"
    return "vit-b-32-random,tiny"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from tqdm import tqdm

    # Indexing here should run as the CLI's does: it sets this when it loads a model, but
    # environment() below imports torch first.
    let_idle_torch_threads_sleep()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imagedb-bench-corpus-") as scratch:
        if args.smoke:
            args.corpus = args.corpus or smoke_corpus(Path(scratch) / "painted")
            args.models, args.queries, args.scale, args.load_repeats = "tiny", min(args.queries, 5), "1500", 1
            args.index_trials = 1
            args.reindex_files = min(args.reindex_files, 2000)
            args.live_photos = min(args.live_photos, 6)
        roots = [str(p.resolve()) for p in (args.corpus or DEFAULT_CORPUS) if p.exists()]
        if not roots:
            raise SystemExit("no corpus folder found: pass --corpus DIR")
        env = environment()
        copies = args.copies or (1 if not env["gpu"] else -(-GPU_CORPUS_IMAGES // load_corpus(roots, 1).image_count))
        corpus = load_corpus(
            link_copies(roots, copies, Path(scratch) / "copies") if copies > 1 else roots, args.queries
        )
        models = [m for m in (args.models or default_models(args.device)).split(",") if m]
        backends = [b for b in args.backends.split(",") if b]
        sizes = [int(s) for s in args.scale.split(",") if s] + ([1_000_000] if args.scale_1m else [])

        results: dict[str, Any] = {
            "environment": env,
            "corpus": {"roots": roots, "copies": copies, "images": corpus.image_count},
            "queries": args.queries,
            "batch": args.batch,  # as asked; None: the CLI's default for the device (each model's "batch")
            "photos": [],
            "clips": [],
            "reindex": [],
            "scale": [],
        }
        distributions = [d for d in args.distributions.split(",") if d]
        phases = (
            len(models) * (2 if args.live_photos else 1)
            + (len(backends) if args.reindex_files else 0)
            + len(sizes) * len(backends) * len(distributions)
        )
        steps = tqdm(total=phases, desc="benchmark", unit="phase")
        for model in models:
            steps.set_postfix_str(f"photos, {model}")
            results["photos"].append(
                run_photo_benchmark(
                    model, corpus, backends, args.batch, args.load_repeats, args.device, args.workers, args.index_trials
                )
            )
            steps.update()
        if args.live_photos:
            steps.set_postfix_str(f"making {args.live_photos} Live Photos")
            libraries = make_live_library(corpus.images, Path(scratch) / "live", args.live_photos)
            for model in models:
                steps.set_postfix_str(f"videos and Live Photos, {model}")
                results["clips"].append(
                    run_clip_benchmark(
                        model, libraries, backends[0], args.batch, args.device, args.workers, args.index_trials
                    )
                )
                steps.update()
        if args.reindex_files:
            from common.embedding import Embedder

            steps.set_postfix_str(f"generating a {args.reindex_files:,}-file tree")
            tree = make_tree(Path(scratch) / "tree", args.reindex_files)
            embedder = Embedder(MODELS["tiny"], "cpu")
            for backend in backends:
                steps.set_postfix_str(f"unchanged re-index, {backend}")
                results["reindex"].append(
                    measure_unchanged_reindex(
                        backend, tree, embedder, Path(scratch), cli_repeats=1 if args.smoke else CLI_REPEATS
                    )
                )
                steps.update()
        for distribution in distributions:
            for rows in sizes:
                for backend in backends:
                    steps.set_postfix_str(f"scale {rows:,} {distribution}, {backend}")
                    results["scale"].append(measure_in_subprocess(backend, rows, 512, args.queries, distribution))
                    steps.update()
        steps.close()
    results["seconds"] = time.perf_counter() - started
    out = args.out or REPO / "benchmarks" / "results" / ("cuda" if env["gpu"] else "cpu")
    paths = write_report(results, out)
    print(f"wrote {paths['markdown']} and {paths['json']} ({results['seconds']:.0f} s)", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
