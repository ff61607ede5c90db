"""Write a benchmark run as JSON (everything), Markdown (the tables a reader needs) and PNG charts."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.scale_bench import HYBRID_QUERIES
from common.backends import BACKENDS

SEARCH_KINDS = ("image", "text", "metadata", "filtered")
# The decoding workers of a 16-core GPU host (common.workers.default_worker_count: every core but
# the main process's), for projecting the reading rate measured here onto the GPU target.
GPU_HOST_WORKERS = 15


def _per_backend(results: dict[str, Any], key: str) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(model, backend, the backend's results, their ``key`` entry) for each model and backend
    whose results have one (an older run's report may lack it)."""
    for model in results["photos"]:
        for backend, data in model["backends"].items():
            if data.get(key):
                yield model["model"], backend, data, data[key]


def _bf16(env: dict[str, Any]) -> str:
    """Whether the CPU multiplies bf16 in hardware, with what and how fast beside fp32, where the
    run says (older runs do not; runs before AVX512-BF16 counted knew AMX alone)."""
    if "cpu_bf16_hardware" not in env:
        return ""
    if "cpu_bf16_instructions" not in env:
        return ", bf16 in hardware (AMX)" if env["cpu_bf16_hardware"] else ", no bf16 hardware (AMX)"
    found = env["cpu_bf16_instructions"]
    if not found:
        return ", no bf16 hardware (AMX, AVX512-BF16)"
    speed = env.get("cpu_bf16_speed_over_fp32")
    return f", bf16 in hardware ({found}{f': {speed:.2f}× fp32 speed' if speed else ''})"


def _batches(results: dict[str, Any]) -> str:
    """The batch size each model ran at (the CLI's default for the device unless one was asked for)."""
    sizes = sorted({model["batch"] for model in results["photos"]}) or [results["batch"]]
    return " / ".join(map(str, sizes))


def write_report(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """``results`` as ``report.json``, ``report.md`` and charts in ``out``; a run's own results,
    or a ``report.json`` read back (its keys sorted) to write the report again, in the same order."""
    results = in_run_order(results)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    paths.update(write_charts(results, out))
    paths["markdown"].write_text(markdown(results, {k: v.name for k, v in paths.items() if v.suffix == ".png"}))
    return paths


def in_run_order(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` with each model's backends in the order a run takes them (``BACKENDS``), where
    JSON sorted them: the report's tables list them so."""
    rank = {backend: number for number, backend in enumerate(BACKENDS)}
    photos = [
        model | {"backends": dict(sorted(model["backends"].items(), key=lambda item: rank.get(item[0], len(rank))))}
        for model in results.get("photos", [])
    ]
    return results | {"photos": photos}


def paired_throughput_ratio(lance: dict[str, Any], faiss: dict[str, Any]) -> float:
    """LanceDB / FAISS indexing speed: the median of the ratios of trials run back to back.

    The two medians' ratio would compare runs minutes apart, and on a shared machine the speed
    drifts by tens of percent in minutes (one run put LanceDB at 0.62 × FAISS with its model
    ceiling at 9.4 images/s against FAISS's 16.6: the machine, not the store).
    """
    pairs = zip(lance["trial_images_per_second"], faiss["trial_images_per_second"], strict=True)
    return statistics.median(a / b for a, b in pairs)


def shared_cores_bound(model: dict[str, Any], index: dict[str, Any], cores: int) -> float | None:
    """What indexing can reach when the model and the reading workers share the same ``cores``
    (the model on the CPU): every core busy all the time, each image costing the core time the
    model spends on it at its ceiling (``cores`` / ceiling) plus the CPU time reading it takes
    (reading alone's CPU an image). A pipeline that wastes nothing reaches it; one can pass it only
    where the model computes more per core on fewer cores than at its ceiling (torch's threads
    rarely scale perfectly). None when the model runs elsewhere (its cores are not the workers')
    or reading alone was not measured."""
    if not reads_on_the_models_cores(model):
        return None
    core_seconds = cores / index["ceiling_images_per_second"] + reading_cpu_ms(model, index) / 1000
    return cores / core_seconds


def reading_cpu_ms(model: dict[str, Any], index: dict[str, Any]) -> float:
    """The CPU reading an image took around this indexing trial (reading alone measured on either
    side of it); in a report from before those measurements, reading alone's one measurement."""
    return index.get("reading_cpu_ms_per_image") or model["reading_alone"]["cpu_ms_per_image"]


def vs_reading_alone(model: dict[str, Any], index: dict[str, Any]) -> tuple[float, str]:
    """Indexing / reading alone across the trials, and how it was taken: the median of each
    trial's ratio to reading alone measured on either side of it, or (an older report) the median
    of the trials' images/s against the one measurement before them."""
    if index.get("trial_vs_reading"):
        ratios = index["trial_vs_reading"]
        taken = f"the median of {len(ratios)} trials, each against reading alone on either side of it"
        return statistics.median(ratios), taken
    trials = index.get("trial_images_per_second") or [index["images_per_second"]]
    taken = (
        f"the median of {len(trials)} trials' images/s (the trial the ratios above read is the median by its ceiling)"
    )
    return statistics.median(trials) / model["reading_alone"]["images_per_second"], taken


def reads_on_the_models_cores(model: dict[str, Any]) -> bool:
    """Whether ``model`` ran on the CPU, where the reading workers are, and reading alone was
    measured: what ``shared_cores_bound`` needs."""
    return model.get("device", "cpu") == "cpu" and bool(model.get("reading_alone"))


def headline(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, ratio, meaning) rows: the numbers that survive machine drift."""
    rows = []
    for model in results["photos"]:
        backends = model["backends"]
        for backend, data in backends.items():
            rows.append(
                (
                    f"{model['model']}: {backend} indexing / model-only ceiling",
                    f"{data['index']['vs_ceiling']:.2f}",
                    "1.0 = the model is the only limit",
                )
            )
        cores = results["environment"]["cpu_count"]
        for backend, data in backends.items():
            bound = shared_cores_bound(model, data["index"], cores)
            if bound:
                index = data["index"]
                rows.append(
                    (
                        f"{model['model']}: {backend} indexing / what {cores} shared cores allow",
                        f"{index['images_per_second'] / bound:.2f}",
                        f"{bound:.1f} images/s = {bound / index['ceiling_images_per_second']:.2f} × the ceiling: "
                        f"every core busy with the model ({1000 * cores / index['ceiling_images_per_second']:.1f} ms of "
                        f"core time an image) or reading ({reading_cpu_ms(model, index):.1f} ms)",
                    )
                )
        reading = model.get("reading_alone")
        if reading:
            rows.append(
                (
                    f"{model['model']}: reading alone (no model), images/s",
                    f"{reading['images_per_second']:.1f}",
                    f"{reading['workers']} workers; {reading['cpu_ms_per_image']:.1f} ms of CPU an image, "
                    f"{reading['images_per_second_per_core']:.0f} images/s per core: "
                    f"{GPU_HOST_WORKERS} workers of a {GPU_HOST_WORKERS + 1}-core GPU host with cores as fast as these would read "
                    f"{GPU_HOST_WORKERS * reading['images_per_second_per_core']:,.0f}",
                )
            )
            if reading["images_per_second"] < model["ceiling"]["images_per_second"]:  # reading is the limit
                for backend, data in backends.items():
                    ratio, taken = vs_reading_alone(model, data["index"])
                    rows.append(
                        (
                            f"{model['model']}: {backend} indexing / reading alone",
                            f"{ratio:.2f}",
                            f"1.0 = reading is the only limit (it is slower than the model here); {taken}",
                        )
                    )
        if {"lancedb", "faiss"} <= backends.keys():
            lance, faiss = backends["lancedb"], backends["faiss"]
            rows.append(
                (
                    f"{model['model']}: indexing throughput lancedb / faiss",
                    f"{paired_throughput_ratio(lance['index'], faiss['index']):.2f}",
                    "> 1: lancedb indexes faster (median of trial-by-trial ratios)",
                )
            )
            for kind in SEARCH_KINDS:
                ratio = lance["search"][kind]["store"]["p50_ms"] / faiss["search"][kind]["store"]["p50_ms"]
                rows.append(
                    (
                        f"{model['model']}: {kind} search, store p50 lancedb / faiss",
                        f"{ratio:.2f}",
                        "< 1: lancedb answers faster",
                    )
                )
    for model, backend, data, copied in _per_backend(results, "copied_library"):
        rows.append(
            (
                f"{model}: index a copy of the library (new paths, same bytes), {backend}",
                f"{copied['seconds']:.2f} s",
                f"{copied['reused']:,} of {copied['files']:,} files took their stored vectors, "
                f"{copied['embedded']} embedded; indexing them took {data['index']['seconds']:.2f} s",
            )
        )
    for clips in results.get("clips", []):
        runs, named = clips["runs"], f"{clips['model']}: {clips['backend']}"
        clip = clips["clip"]
        live, stills = median_run(runs["live"]), median_run(runs["stills"])
        rows.append(
            (
                f"{named} indexing Live Photos / their stills alone",
                f"{clips['live_vs_stills']:.2f}",
                f"{clips['live_photos']} stills with a {clip['seconds']:g} s {clip['size'][0]}x{clip['size'][1]} "
                f"{clip['codec']} clip each; 1.0 = the clips cost nothing; {live['from_stills']} of "
                f"{clips['live_photos']} clips took their still's vector (no forward pass); their reading is what "
                f"is left: {clip_reading_ms(live, stills):.1f} ms of CPU a clip (the Live run's reading less the "
                f"stills'), {stills['read_cpu_ms_per_file']:.1f} a still",
            )
        )
        rows.append(
            (
                f"{named} indexing videos / model-only ceiling",
                f"{clips['clips_vs_ceiling']:.2f}",
                f"the same clips, no still beside them: each read at 10 % ({median_run(runs['clips'])['read_cpu_ms_per_file']:.1f} "
                f"ms of CPU) and embedded; the stills alone: {clips['stills_vs_ceiling']:.2f}",
            )
        )
    for model, backend, _, cold in _per_backend(results, "cold_text_search"):
        rows.append(
            (
                f'{model}: cold `--search "text"` / floor, {backend}',
                f"{cold['ratio']:.2f}",
                f"median of {cold['repeats']} back-to-back pairs; medians {cold['cli_s']:.2f} s vs "
                f"{cold['floor_s']:.2f} s (floor: import torch + open_clip + the store's libraries, read weights)",
            )
        )
    for model, backend, data, image in _per_backend(results, "cold_image_search"):
        text = data["cold_text_search"]
        rows.append(
            (
                f"{model}: cold `--search photo.jpg` (a photo of the index), {backend}",
                f"{image['cli_s']:.2f} s",
                f"median of {image['repeats']}; by its stored vector, no model loaded"
                f"{'' if image['stored_vector'] else ' (NOT in every run)'}: "
                f"{image['cli_s'] / text['cli_s']:.2f} × a cold text search ({text['cli_s']:.2f} s)",
            )
        )
    for model, backend, _, place in _per_backend(results, "cold_place_search"):
        rows.append(
            (
                f"{model}: cold `--near {place['place']}` (a place by its name), {backend}",
                f"{place['cli_s']:.2f} s",
                f"median of {place['repeats']}; a cold `--where` holding the same condition: "
                f"{place['where_s']:.2f} s ({place['rows']} row(s) listed"
                f"{', the same' if place['same_rows'] else ', NOT the same rows'})",
            )
        )
    for model, backend, data, session in _per_backend(results, "session_search"):
        rows.append(
            (
                f"{model}: `--search -` session, each prompt after the first, {backend}",
                f"{session['next_prompt_ms']:.0f} ms",
                f"median of {session['prompts'] - 1}, the index and the model loaded once; its first answer "
                f"{session['first_s']:.2f} s after the start (a cold text search, start to exit: "
                f"{data['cold_text_search']['cli_s']:.2f} s); "
                f"a photo of the index {session['image_ms']:.0f} ms (median of {session['images']})",
            )
        )
    for reindex in results.get("reindex", []):
        rows.append(
            (
                f"re-index of an unchanged {reindex['files']:,}-file tree: {reindex['backend']}",
                f"{reindex['cli_seconds']:.2f} s",
                f"the whole `--index` command (no model loaded); indexing itself {reindex['seconds']:.2f} s, "
                f"walk + diff {reindex['stage_seconds']['scan']:.2f} s; {reindex['embedded']} embedded, "
                f"{reindex.get('failed', 0):,} broken files not read again",
            )
        )
    for scale in results.get("scale", []):
        reference = scale["reference"]["numpy_exact"]["p50_ms"]
        rows.append(
            (
                f"scale {scale['rows']:,} {scale['distribution']} rows: {scale['backend']} query p50 / exact NumPy",
                f"{scale['query']['p50_ms'] / reference:.2f}",
                f"recall@10 {scale['recall_at_10']:.3f}, recall@1 {scale['recall_at_1']:.3f}"
                + "".join(
                    f"; {what} recall@10 {scale[key]:.3f}"
                    for what, key in (("filtered", "filtered_recall_at_10"), ("one album", "album_recall_at_10"))
                    if scale.get(key) is not None
                ),
            )
        )
    # Metadata search at scale: the stores' text is the same whatever their vectors, so one pair a size.
    text_at = {(s["rows"], s["backend"]): s for s in results.get("scale", []) if "text_query" in s}
    for rows_count in sorted({count for count, _ in text_at}):
        lance, faiss = text_at.get((rows_count, "lancedb")), text_at.get((rows_count, "faiss"))
        if lance and faiss:
            rows.append(
                (
                    f"scale {rows_count:,} rows: metadata search p50 lancedb / faiss",
                    f"{lance['text_query']['p50_ms'] / faiss['text_query']['p50_ms']:.2f}",
                    f"{lance['text_query']['p50_ms']:.1f} / {faiss['text_query']['p50_ms']:.1f} ms; the first after "
                    f"the index run {lance['first_text_query_ms']:.0f} / {faiss['first_text_query_ms']:.0f} ms "
                    "(FAISS reads the BM25 postings the run saved), the first after a few commits "
                    f"{lance.get('after_commits_first_text_query_ms', float('nan')):.0f} / "
                    f"{faiss.get('after_commits_first_text_query_ms', float('nan')):.0f} ms (FAISS carries them "
                    f"over), in a later process {lance.get('later_first_text_query_ms', float('nan')):.0f} / "
                    f"{faiss.get('later_first_text_query_ms', float('nan')):.0f} ms (FAISS reads them)",
                )
            )
    return rows


def clip_reading_ms(live: dict[str, Any], stills: dict[str, Any]) -> float:
    """A Live clip's reading CPU: the Live library's run (stills and clips) less its stills' alone."""
    clips = live["files"] - stills["files"]
    total = live["read_cpu_ms_per_file"] * live["files"] - stills["read_cpu_ms_per_file"] * stills["files"]
    return total / clips if clips else 0.0


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of the median time among a library's trials (``benchmarks.clip_bench``)."""
    return sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]


def markdown(results: dict[str, Any], charts: dict[str, str]) -> str:
    env = results["environment"]
    lines = [
        "# imagedb benchmark",
        "",
        f"{env['date']} · {env['cpu']} · {env['cpu_count']} CPUs (torch threads {env['torch_threads']}, OpenMP wait policy {env.get('openmp_wait_policy', 'default')}{_bf16(env)}) · GPU: {env['gpu'] or 'none'}",
        f"torch {env['torch']} · open_clip {env['open_clip']} · lancedb {env['lancedb']} · faiss {env['faiss']} · Python {env['python']}",
        f"Corpus: {', '.join(results['corpus']['roots'])}{_copies(results['corpus'])} ({results['corpus']['images']} images); {results['queries']} queries per search kind; "
        f"{_batches(results)} images per forward pass (indexing and ceiling).",
        "",
        "Models: `vit-b-32-random` is ViT-B-32 with random weights — the same architecture and FLOPs as the",
        "real one (no weights can be downloaded here), so its speed is the real model's speed; `tiny` is the",
        "project's 32 px test model. A model computing in another format than fp32 says which: the CLI's",
        "`--precision auto` runs the image tower in bf16 on a CPU with Intel AMX or AVX512-BF16, in fp16 on a CUDA GPU.",
        "Absolute times drift on shared machines: read the ratios.",
        "",
        "## Headline ratios",
        "",
        *table(["measure", "ratio", "reading"], "lrl", [list(row) for row in headline(results)]),
        "",
    ]
    if "index" in charts:
        lines += [f"![indexing throughput vs the model-only ceiling]({charts['index']})", ""]
    backends = [(model, backend, data) for model in results["photos"] for backend, data in model["backends"].items()]
    lines += ["## Indexing", ""]
    lines += [
        "As the CLI indexes by default: decoding workers (one per core; on the CPU at low priority, with",
        "torch's idle OpenMP threads asleep) and thumbnails. Each row is the median of its trials; each",
        "trial is read against the model-only ceiling measured just before and just after it, and the",
        "backends' trials take turns. The ceiling is the faster of two measurements: in the indexing",
        "process (threads asleep) and in a probe process with torch's default, spinning threads. `model",
        "busy`: the share of the run the model was computing (below 1: it waited for decoded files or the",
        "store). `reading CPU`: the share of all the machine's CPU time during the run that went to",
        "reading files (decode, EXIF, crop, colour, thumbnail). With the model on the CPU, that time would",
        "be taken from it at equal priority (a ratio near model busy × (1 − reading CPU)); at low priority",
        "the workers use the moments the model leaves a core idle, and the ratio can pass that bound.",
    ]
    if any(reads_on_the_models_cores(model) for model in results["photos"]):
        lines += [
            "Whatever the priorities, a model on the CPU cannot have the core time reading takes: the",
            "headline's `what N shared cores allow` sets each image's core time (the model's, as its ceiling",
            "spends it on all cores, plus reading's CPU) against every core busy all the time: 1.0 = nothing",
            "wasted (a model that computes more per core on fewer cores than at its ceiling can pass it).",
        ]
    lines.append("")
    lines += table(
        ["model", "backend", "images", "images/s", "ceiling images/s", "vs ceiling", "trials", "model busy",
         "reading CPU", "decode s", "embed s", "write s", "index build s", "re-index unchanged s", "disk"],
        "llrrrrrrrrrrrrr",
        [
            [model["model"], backend, str(index["images"]), f"{index['images_per_second']:.1f}",
             f"{index['ceiling_images_per_second']:.1f}", f"{index['vs_ceiling']:.2f}",
             " / ".join(f"{r:.2f}" for r in index["trial_vs_ceiling"]), f"{index['model_busy']:.2f}",
             f"{index['read_cpu_share']:.2f}",
             *[f"{index['stage_seconds'][stage]:.2f}" for stage in ("decode", "embed", "write", "finish")],
             f"{data['reindex_unchanged_seconds']:.2f}", f"{data['disk_bytes'] / 1e6:.1f} MB"]
            for model, backend, data in backends
            for index in [data["index"]]
        ],
    )  # fmt: skip
    readings = [(model["model"], model["reading_alone"]) for model in results["photos"] if "reading_alone" in model]
    if readings:
        lines += [
            "",
            "Reading alone: the same workers, one per core at normal priority, read every file (decode,",
            "EXIF, crop, colour, thumbnail) with no model running. That is the most images/s indexing can",
            "reach here whatever the model, the limit for a model faster than it (the tiny model here,",
            "ViT-B-32 on a GPU), and its CPU per image says how many cores a GPU's rate needs.",
        ]
        if any(
            "reading_cpu_ms_per_image" in data["index"]
            for model in results["photos"]
            for data in model["backends"].values()
        ):
            lines += [
                "The table holds the measurement before the indexing trials; it was measured again after each",
                "trial, and each trial is read against the two on either side of it (the shared-core bound",
                "and indexing / reading alone above): its CPU an image drifts with the machine.",
            ]
        lines += [""]
        lines += table(
            ["model", "workers", "images", "images/s", "CPU ms an image", "images/s per core"],
            "lrrrrr",
            [
                [name, str(r["workers"]), str(r["images"]), f"{r['images_per_second']:.1f}",
                 f"{r['cpu_ms_per_image']:.1f}", f"{r['images_per_second_per_core']:.0f}"]
                for name, r in readings
            ],
        )  # fmt: skip
    lines += ["", "## Load (process start → ready to search)", ""]
    lines += table(
        ["model", "backend", "ready s", "interpreter s", "imports s", "torch + open_clip import s", "store s", "model s",
         "first text query s"],
        "llrrrrrrr",
        [
            [model["model"], backend, f"{load['ready_s']:.2f}", f"{load['interpreter_s']:.2f}", f"{load['imports_s']:.2f}",
             f"{load['torch_open_clip_import_s']:.2f}", f"{load['store_s']:.3f}", f"{load['model_s']:.2f}",
             f"{load['first_text_query_s']:.2f}"]
            for model, backend, data in backends
            for load in [data["load"]]
        ],
    )  # fmt: skip
    lines += ["", "## Search (model loaded; p50 / p95 ms)", ""]
    queried: dict[str, list[str]] = {}  # a precision queries ran in → the models indexed otherwise
    for model in results["photos"]:
        if model.get("search_precision", model["precision"]) != model["precision"]:
            queried.setdefault(model["search_precision"], []).append(model["model"])
    if queried:
        lines += [
            "Queries are embedded as the CLI's searches embed them: a process that indexes nothing keeps the",
            "model in fp32 on a CPU (a picture alone in bf16 pays a whole padded pass), so the queries of "
            + "; of ".join(f"{' and '.join(names)} ran in {precision}" for precision, names in queried.items())
            + ".",
            "",
        ]
    if "search" in charts:
        lines += [f"![search latency per kind and backend]({charts['search']})", ""]
    lines += table(
        ["model", "backend", "kind", "end to end p50", "p95", "store p50", "store p95"],
        "lllrrrr",
        [
            [model["model"], backend, kind, f"{s['total']['p50_ms']:.2f}", f"{s['total']['p95_ms']:.2f}",
             f"{s['store']['p50_ms']:.3f}", f"{s['store']['p95_ms']:.3f}"]
            for model, backend, data in backends
            for kind in SEARCH_KINDS
            for s in [data["search"][kind]]
        ],
    )  # fmt: skip
    if results.get("clips"):
        lines += ["", "## Videos and Live Photos", ""]
        lines += [
            "An iPhone library holds every Live Photo twice: its still and a ~2 s clip beside it. Made here",
            "from the corpus's JPEGs (`IMG_0001.JPG` with `IMG_0001.MOV`: the photo held for the clip's",
            "length, a keyframe a second; a real scene's frames after the first would cost more to decode,",
            "a Live clip's first frame the same), and indexed three ways, each into a fresh store with the",
            "first backend, the three taking turns within each trial: the stills alone, the Live Photos",
            "(stills and clips: a clip read in the same run takes its still's vector, its first frame read",
            "for its thumbnail, size and facts), and the clips alone (videos with no still beside them: each",
            "read at 10 % of its length and embedded). The median run of each library is shown, every",
            "trial's time beside it; `reading CPU ms`: the workers' CPU time a file.",
            "",
        ]
        lines += table(
            ["model", "backend", "library", "files", "embedded", "took the still's vector", "s", "files/s",
             "reading CPU ms", "model busy", "trials"],
            "lllrrrrrrrl",
            [
                [clips["model"], clips["backend"], library, str(run["files"]), str(run["embedded"]),
                 str(run["from_stills"]), f"{run['seconds']:.2f}", f"{run['files'] / run['seconds']:.1f}",
                 f"{run['read_cpu_ms_per_file']:.1f}", f"{run['model_busy']:.2f}",
                 " / ".join(f"{r['seconds']:.2f} s" for r in clips["runs"][library])]
                for clips in results["clips"]
                for library in clips["libraries"]
                for run in [median_run(clips["runs"][library])]
            ],
        )  # fmt: skip
    if results.get("reindex"):
        lines += [
            "",
            "## Re-index of an unchanged tree",
            "",
            "Generated small files, each already in the store with its real size and mtime, and one in 100",
            "broken, already listed in the failures report by an earlier run; the real indexing entry point",
            "then finds nothing to do and reads no file, broken ones included (`read CPU s`). `command s`:",
            "the same run as a user starts it, `imagedb-<backend>.py --index TREE` in a fresh process",
            "(interpreter, imports, store, walk + diff; with nothing to embed, no model is loaded).",
            "",
        ]
        lines += table(
            ["backend", "files", "command s", "indexing s", "walk + diff s", "unchanged", "failed before", "embedded",
             "read CPU s"],
            "lrrrrrrrr",
            [
                [r["backend"], f"{r['files']:,}", f"{r['cli_seconds']:.2f}", f"{r['seconds']:.2f}",
                 f"{r['stage_seconds']['scan']:.2f}", f"{r['unchanged']:,}", f"{r.get('failed', 0):,}",
                 str(r["embedded"]), f"{r.get('read_cpu_seconds', 0):.2f}"]
                for r in results["reindex"]
            ],
        )  # fmt: skip
    if results.get("scale"):
        lines += [
            "",
            "## Scale (store only, random 512-d unit vectors with realistic metadata)",
            "",
            "`uniform`: random unit vectors, the worst case for any ANN index — beyond the planted nearest",
            "neighbour, the true top-10 are barely closer than thousands of others, so recall@10 needs a",
            "near-exhaustive scan. `clustered`: groups of ~100 vectors at cosine ~0.8 around random centres,",
            "closer to how photo embeddings bunch. Below 50,000 rows FAISS searches exactly (flat), below",
            "10,000 LanceDB does; above, both use their ANN index (IVF-Flat; IVF-HNSW-Flat).",
            "`filtered`: `make = 'Canon' AND width >= 1920` (~9 % of the rows); `one album`: one folder's 16 photos",
            "(at 100k rows), a filter that lets few rows through; the headline ratios give each one's recall@10",
            "against an exact search of the rows it lets through.",
            "`1,000 stored vectors`: reading back the vectors of 1,000 random rows by path (median of 3),",
            "what indexing a moved or copied library does for each group of 1,000 files. `commit 50`: replacing",
            "50 random rows and committing (median of 3), what a `--watch` look that saw a few edited photos",
            "costs; `open`: opening the store afterwards (median of 5), what every cold search pays.",
            "`text`: metadata searches (`--text`: a camera, a model, a year, a file name, a phrase), the first",
            "after the build (FAISS reads the BM25 postings the build's `finish_indexing` saved beside the index;",
            "LanceDB reads its text index), the first in a new process after the three commits of `commit 50`",
            "(commits alone: FAISS carries the saved postings over them and saves them again), the first in a",
            "later process (median of 5 opens: FAISS reads the saved postings), then p50.",
            "",
        ]
        if "scale" in charts:
            lines += [f"![scale curves]({charts['scale']})", ""]
        lines += table(
            ["rows", "vectors", "backend", "build s (write + index)", "query p50 ms", "p95 ms", "filtered p50 ms",
             "one album p50 ms", "recall@10", "recall@1", "exact NumPy p50 ms", "FAISS flat p50 ms", "1,000 stored vectors ms",
             "commit 50 ms", "open ms", "first text ms", "first text after commits ms", "later first text ms",
             "text p50 ms", "disk MB", "peak RSS MB (data alone)"],
            "rllrrrrrrrrrrrrrrrrrr",
            [
                [f"{s['rows']:,}", s["distribution"], s["backend"],
                 f"{s['build_seconds']:.1f} ({s['write_seconds']:.1f} + {s['index_seconds']:.1f})",
                 f"{s['query']['p50_ms']:.2f}", f"{s['query']['p95_ms']:.2f}", f"{s['filtered_query']['p50_ms']:.2f}",
                 f"{s['album_query']['p50_ms']:.2f}" if s.get("album_query") else "nan",
                 f"{s['recall_at_10']:.3f}", f"{s['recall_at_1']:.3f}", f"{s['reference']['numpy_exact']['p50_ms']:.2f}",
                 f"{s['reference']['faiss_flat']['p50_ms']:.2f}", f"{s.get('stored_vectors_1000_ms', float('nan')):.1f}",
                 f"{s.get('small_commit_ms', float('nan')):.0f}", f"{s.get('open_ms', float('nan')):.0f}",
                 f"{s.get('first_text_query_ms', float('nan')):.0f}",
                 f"{s.get('after_commits_first_text_query_ms', float('nan')):.0f}",
                 f"{s.get('later_first_text_query_ms', float('nan')):.0f}",
                 f"{s['text_query']['p50_ms']:.1f}" if "text_query" in s else "nan",
                 f"{s['disk_bytes'] / 1e6:.1f}",
                 f"{s['peak_rss_bytes'] / 1e6:.0f} ({s['data_rss_bytes'] / 1e6:.0f})"]
                for s in results["scale"]
            ],
        )  # fmt: skip
        hybrid = [s for s in results["scale"] if "hybrid_query_p50_ms" in s]
        if hybrid:
            kinds = [kind for kind in HYBRID_QUERIES if kind in hybrid[0]["hybrid_query_p50_ms"]]  # as asked
            lines += [
                "",
                "Hybrid searches (a vector and metadata words, fused), p50 ms by what the words ask of the rows: "
                "`canon`, `canon -2019`, `canon +IMG_…` (one row holds it), `canon +album-001` (one album's "
                "rows), `canon +2019` (one year's).",
                "",
            ]
            lines += table(
                ["rows", "vectors", "backend", *kinds],
                "rll" + "r" * len(kinds),
                [
                    [f"{s['rows']:,}", s["distribution"], s["backend"],
                     *(f"{s['hybrid_query_p50_ms'][kind]:.1f}" for kind in kinds)]
                    for s in hybrid
                ],
            )  # fmt: skip
    lines += ["", f"Total benchmark time: {results['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def _copies(corpus: dict[str, Any]) -> str:
    copies = corpus.get("copies", 1)
    return f", {copies} copies of each file (links, each read and embedded as under --force)" if copies > 1 else ""


def table(header: list[str], align: str, rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines; ``align`` has a letter per column: l(eft) or r(ight)."""
    rule = {"l": "---", "r": "---:"}
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule[a] for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def write_charts(results: dict[str, Any], out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts: dict[str, Path] = {}
    models = results["photos"]

    figure, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        names = ["model only", *model["backends"]]
        values = [
            model["ceiling"]["images_per_second"],
            *[b["index"]["images_per_second"] for b in model["backends"].values()],
        ]
        ax.bar(names, values, color=["#888888", "#1f77b4", "#ff7f0e"][: len(values)])
        ax.set_title(f"{model['model']}: indexing images/s")
        for i, value in enumerate(values):
            ax.text(i, value, f"{value:.1f}", ha="center", va="bottom", fontsize=8)
    figure.tight_layout()
    charts["index"] = out / "index_throughput.png"
    figure.savefig(charts["index"], dpi=110)
    plt.close(figure)

    figure, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 3.6), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        width = 0.8 / max(1, len(model["backends"]))
        for i, (backend, data) in enumerate(model["backends"].items()):
            xs = [k + i * width for k in range(len(SEARCH_KINDS))]
            ax.bar(
                xs, [data["search"][k]["total"]["p50_ms"] for k in SEARCH_KINDS], width, label=f"{backend} end to end"
            )
            ax.bar(
                xs,
                [data["search"][k]["store"]["p50_ms"] for k in SEARCH_KINDS],
                width * 0.5,
                label=f"{backend} store",
                color="black",
                alpha=0.35 + 0.3 * i,
            )
        ax.set_xticks([k + width / 2 for k in range(len(SEARCH_KINDS))], SEARCH_KINDS)
        ax.set_yscale("log")
        ax.set_ylabel("p50 ms (log)")
        ax.set_title(f"{model['model']}: search latency")
        ax.legend(fontsize=7)
    figure.tight_layout()
    charts["search"] = out / "search_latency.png"
    figure.savefig(charts["search"], dpi=110)
    plt.close(figure)

    if results.get("scale"):
        figure, axes = plt.subplots(1, 3, figsize=(14, 3.6))
        for backend, distribution in sorted({(s["backend"], s["distribution"]) for s in results["scale"]}):
            points = sorted(
                (s for s in results["scale"] if (s["backend"], s["distribution"]) == (backend, distribution)),
                key=lambda s: s["rows"],
            )
            rows, label = [p["rows"] for p in points], f"{backend}, {distribution}"
            style = "-" if distribution == "clustered" else ":"
            axes[0].plot(rows, [p["query"]["p50_ms"] for p in points], style, marker="o", label=label)
            axes[1].plot(rows, [p["build_seconds"] for p in points], style, marker="o", label=label)
            axes[2].plot(rows, [p["recall_at_10"] for p in points], style, marker="o", label=label)
        points = sorted({s["rows"]: s for s in results["scale"]}.values(), key=lambda s: s["rows"])
        axes[0].plot(
            [p["rows"] for p in points],
            [p["reference"]["numpy_exact"]["p50_ms"] for p in points],
            "k--",
            label="exact NumPy",
        )
        for ax, title in zip(axes, ("query p50 ms", "build s", "recall@10"), strict=True):
            ax.set_xscale("log")
            ax.set_title(title)
            ax.set_xlabel("rows")
            ax.legend(fontsize=7)
        axes[0].set_yscale("log")
        axes[1].set_yscale("log")
        figure.tight_layout()
        charts["scale"] = out / "scale.png"
        figure.savefig(charts["scale"], dpi=110)
        plt.close(figure)
    return charts
