"""The benchmark's smoke configuration: it runs end to end and its report holds together.

Timings are not asserted (they belong to the benchmark, not the suite); structure, counts and
the relations between the numbers are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.report import write_report

SEARCH_KINDS = ("image", "text", "metadata", "filtered")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    # Two copies: the way a GPU run repeats the corpus (link_copies) is exercised too.
    results = run.main(["--smoke", "--copies", "2", "--out", str(out)])
    return results, out


@pytest.mark.slow
def test_smoke_report_files(smoke) -> None:
    results, out = smoke
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(results))
    markdown = (out / "report.md").read_text()
    for heading in (
        "## Headline ratios", "## Indexing", "## Videos and Live Photos", "## Load", "## Search", "## Re-index", "## Scale"
    ):  # fmt: skip
        assert heading in markdown
    # The model's label names its precision where that is not fp32 (bf16 on a CPU with AMX or AVX512-BF16).
    (label,) = [model["model"] for model in results["photos"]]
    assert label == (
        "tiny" if results["photos"][0]["precision"] == "fp32" else f"tiny ({results['photos'][0]['precision']})"
    )
    assert f"{label}: reading alone (no model), images/s" in markdown
    assert (f"the queries of {label} ran in fp32" in markdown) == (results["photos"][0]["precision"] != "fp32")
    # With the model on the CPU, indexing is also read against what the cores can do for both.
    cores = results["environment"]["cpu_count"]
    (model,) = results["photos"]
    for backend, data in model["backends"].items():
        # Each trial is read against reading alone measured on either side of it (as its ceiling).
        index = data["index"]
        cpu_ms = index["reading_cpu_ms_per_image"]
        bound = cores / (cores / index["ceiling_images_per_second"] + cpu_ms / 1000)
        assert bound < min(index["ceiling_images_per_second"], cores * 1000 / cpu_ms)
        assert index["trial_vs_reading"] == [index["vs_reading"]]  # the smoke run indexes once
        assert index["vs_reading"] == pytest.approx(index["images_per_second"] / index["reading_images_per_second"])
        if model["reading_alone"]["images_per_second"] < model["ceiling"]["images_per_second"]:  # reading limits
            assert f"| {label}: {backend} indexing / reading alone | {index['vs_reading']:.2f} |" in markdown
        row = f"| {label}: {backend} indexing / what {cores} shared cores allow | {index['images_per_second'] / bound:.2f} |"
        assert (row in markdown) == (model["device"] == "cpu"), row
    assert f"{label}: index a copy of the library (new paths, same bytes), faiss" in markdown
    assert "12 of 12 files took their stored vectors, 0 embedded" in markdown
    assert f"{label}: cold `--search photo.jpg` (a photo of the index), lancedb" in markdown
    assert f"{label}: `--search -` session, each prompt after the first, faiss" in markdown
    (clips,) = results["clips"]
    assert f"| {label}: lancedb indexing Live Photos / their stills alone | {clips['live_vs_stills']:.2f} |" in markdown
    assert "6 stills with a 2 s 1440x1080 H.264 clip each; 1.0 = the clips cost nothing; 6 of 6 clips took" in markdown
    assert f"| {label}: lancedb indexing videos / model-only ceiling | {clips['clips_vs_ceiling']:.2f} |" in markdown
    for chart in ("index_throughput.png", "search_latency.png", "scale.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({chart})" in markdown
    for key in ("torch", "lancedb", "faiss", "cpu_count", "date"):
        assert results["environment"][key]
    (root,) = results["corpus"]["roots"]  # the painted originals, not the links
    assert (
        f"Corpus: {root}, 2 copies of each file (links, each read and embedded as under --force) (24 images)"
        in markdown
    )


@pytest.mark.slow
def test_a_report_written_again_from_its_json_is_the_same(smoke, tmp_path: Path) -> None:
    """A report is written again from its ``report.json`` (a table reworded, a ratio added), and
    JSON sorts its keys: the tables keep the run's order of backends and libraries."""
    _, out = smoke
    write_report(json.loads((out / "report.json").read_text()), tmp_path)
    assert (tmp_path / "report.md").read_text() == (out / "report.md").read_text()


@pytest.mark.slow
def test_smoke_numbers_are_positive_and_consistent(smoke) -> None:
    results, _ = smoke
    (model,) = results["photos"]
    assert model["model"].startswith("tiny") and model["ceiling"]["images_per_second"] > 0
    ceiling = model["ceiling"]  # each measurement: the faster of the CLI's threads and torch's default
    assert len(ceiling["measurements"]) == len(ceiling["sleeping_threads"]) == len(ceiling["default_threads"]) == 3
    for best, *both in zip(
        ceiling["measurements"], ceiling["sleeping_threads"], ceiling["default_threads"], strict=True
    ):
        assert best == max(both) > 0
    assert results["environment"]["openmp_wait_policy"] == "PASSIVE", "indexed as the CLI indexes"
    # Searched as the CLI searches: a process that indexes nothing keeps the CPU's model in fp32.
    assert model["search_precision"] == ("fp32" if model["device"] == "cpu" else model["precision"])
    assert set(model["backends"]) == {"lancedb", "faiss"}
    reading = model["reading_alone"]  # the workers with no model: the bound for a fast one
    assert reading["images"] == results["corpus"]["images"] and reading["failed"] == 0
    assert reading["images_per_second"] == pytest.approx(reading["images"] / reading["seconds"])
    assert reading["images_per_second_per_core"] == pytest.approx(1000 / reading["cpu_ms_per_image"])
    for data in model["backends"].values():
        index = data["index"]
        assert index["images"] == results["corpus"]["images"] == 2 * 12 and index["failed"] == 0
        assert index["images_per_second"] == pytest.approx(index["images"] / index["seconds"])
        assert index["vs_ceiling"] == pytest.approx(index["images_per_second"] / index["ceiling_images_per_second"])
        assert index["trial_vs_ceiling"] == [index["vs_ceiling"]]  # the smoke run indexes once
        assert index["trial_images_per_second"] == [index["images_per_second"]]
        assert 0 < index["model_busy"] <= 1
        assert index["read_cpu_seconds"] > 0 and 0 < index["read_cpu_share"] < 1
        assert all(v >= 0 for v in index["stage_seconds"].values())
        assert sum(index["stage_seconds"].values()) <= index["seconds"] * 1.01
        assert index["stage_seconds"]["embed"] > 0 and index["stage_seconds"]["decode"] > 0
        assert data["reindex_embedded"] == 0 and data["reindex_unchanged_seconds"] > 0
        copied = data["copied_library"]  # the 12 painted files at new paths: no decode, no forward pass
        assert copied == {"files": 12, "reused": 12, "embedded": 0, "seconds": copied["seconds"]}
        load = data["load"]
        assert load["precision"] == model["precision"]
        parts = ("interpreter_s", "imports_s", "torch_open_clip_import_s", "store_s", "model_s")
        assert all(load[p] >= 0 for p in parts)
        assert load["ready_s"] == pytest.approx(sum(load[p] for p in parts), rel=0.05)
        assert load["first_text_query_s"] >= load["ready_s"]
        cold = data["cold_text_search"]
        assert cold["cli_s"] > 0 and cold["floor_s"] > 0
        assert cold["ratio"] == pytest.approx(cold["cli_s"] / cold["floor_s"])  # one pair in the smoke run
        assert cold["pair_ratios"] == [cold["ratio"]]
        image = data["cold_image_search"]  # an indexed photo: its stored vector, no model loaded
        assert image["stored_vector"] is True and image["cli_s"] > 0 and image["runs"] == [image["cli_s"]]
        place = data["cold_place_search"]  # --near by a name lists the rows of the --where it makes
        assert place["same_rows"] is True and place["cli_s"] > 0 and place["where_s"] > 0
        session = data["session_search"]  # --search -: one process, a query at a time on its stdin
        assert (session["prompts"], session["images"]) == (11, 5)
        assert session["first_s"] > 0 and session["next_prompt_ms"] > 0 and session["image_ms"] > 0
        for kind in SEARCH_KINDS:
            for part in ("total", "store"):
                stats = data["search"][kind][part]
                assert stats["n"] == results["queries"]
                assert 0 < stats["p50_ms"] <= stats["p95_ms"]
    (clips,) = results["clips"]  # one Live library made of 6 painted photos, indexed three ways with lancedb
    assert clips["backend"] == "lancedb" and clips["model"] == model["model"] and clips["live_photos"] == 6
    stills, live, alone = (clips["runs"][library] for library in ("stills", "live", "clips"))
    # The smoke run's one trial: each still embedded; each Live clip read, and its still's vector taken.
    assert [(r["files"], r["embedded"], r["from_stills"], r["failed"]) for r in stills] == [(6, 6, 0, 0)]
    assert [(r["files"], r["embedded"], r["from_stills"], r["failed"]) for r in live] == [(12, 6, 6, 0)]
    assert [(r["files"], r["embedded"], r["from_stills"], r["failed"]) for r in alone] == [(6, 6, 0, 0)]
    assert all(r["read_cpu_ms_per_file"] > 0 and 0 < r["model_busy"] <= 1 for r in stills + live + alone)
    assert len(clips["ceilings"]) == 2 and all(c > 0 for c in clips["ceilings"])
    around = sum(clips["ceilings"]) / 2
    assert clips["live_vs_stills"] == pytest.approx(live[0]["seconds"] / stills[0]["seconds"])
    assert clips["clips_vs_ceiling"] == pytest.approx(alone[0]["images_per_second"] / around)
    assert clips["stills_vs_ceiling"] == pytest.approx(stills[0]["images_per_second"] / around)
    for reindex in results["reindex"]:
        assert reindex["files"] == 2000 and reindex["failed"] == 20 and reindex["unchanged"] == 1980
        assert reindex["embedded"] == reindex["removed"] == 0
        assert reindex["read_cpu_seconds"] == 0, "no file read, the broken ones included"
        assert 0 < reindex["stage_seconds"]["scan"] <= reindex["seconds"] < reindex["cli_seconds"]
    assert {(s["backend"], s["distribution"]) for s in results["scale"]} == {
        (b, d) for b in ("lancedb", "faiss") for d in ("uniform", "clustered")
    }
    for scale in results["scale"]:
        assert scale["recall_at_10"] == scale["recall_at_1"] == 1.0, "below the ANN threshold search is exact"
        assert scale["filtered_recall_at_10"] == scale["album_recall_at_10"] == 1.0
        assert 0 < scale["album_query"]["p50_ms"] <= scale["album_query"]["p95_ms"]
        assert scale["build_seconds"] == pytest.approx(scale["write_seconds"] + scale["index_seconds"])
        assert scale["disk_bytes"] > scale["rows"] * scale["dim"] * 4 * 0.5
        assert scale["peak_rss_bytes"] >= scale["data_rss_bytes"] > 0
        assert 0 < scale["query"]["p50_ms"] <= scale["query"]["p95_ms"]
        assert scale["stored_vectors_1000_ms"] > 0
        assert scale["small_commit_ms"] > 0 and scale["open_ms"] > 0
        assert scale["first_text_query_ms"] > 0 and 0 < scale["text_query"]["p50_ms"] <= scale["text_query"]["p95_ms"]
        assert scale["later_first_text_query_ms"] > 0 and scale["after_commits_first_text_query_ms"] > 0


def test_backends_are_compared_trial_by_trial() -> None:
    """Each backend's median trial may come from minutes apart; trials run back to back may not."""
    from benchmarks.report import paired_throughput_ratio

    # LanceDB runs at 0.8 × FAISS; the machine slowed down for the first pair and
    # again during FAISS's second run. The ratio of the medians would say 1.6.
    lance = {"trial_images_per_second": [4.0, 8.0, 8.0]}
    faiss = {"trial_images_per_second": [5.0, 5.0, 10.0]}
    assert paired_throughput_ratio(lance, faiss) == pytest.approx(0.8)


@pytest.mark.slow
def test_load_row_loads_the_model_at_its_rows_precision(tmp_path) -> None:
    """The fp32 row the benchmark adds beside the CLI's bf16 (on a CPU with AMX or AVX512-BF16) times loading
    fp32, not the CLI's default: the load child is told the row's precision, and says which it
    loaded. Asked here for the one that is not this machine's default, so the test fails on any
    machine where the child ignored it."""
    from benchmarks.photo_bench import MODELS, cold_start
    from common.backends import store_class
    from common.embedding import choose_precision
    from common.store import IndexInfo

    spec = MODELS["tiny"]
    other = "fp32" if choose_precision("auto", "cpu") == "bf16" else "bf16"
    db = str(tmp_path / "db")
    store_class("faiss").create(db, IndexInfo(spec, 64)).close()
    load = cold_start("faiss", db, spec, repeats=1, precision=other)
    assert load["precision"] == other and load["ready_s"] > 0


def test_the_jpeg_decoder_benchmark_compares_the_decoders_on_the_same_files(tmp_path) -> None:
    """``python -m benchmarks.jpeg_decoding``: each decoder indexes every file, the workers' and
    the model's indexes hold the same paths with near-identical vectors, and the report says so."""
    from benchmarks import jpeg_decoding
    from benchmarks.run import smoke_corpus

    corpus = smoke_corpus(tmp_path / "painted")[0]
    out = tmp_path / "report"
    results = jpeg_decoding.main(
        ["--model", "tiny", "--device", "cpu", "--corpus", str(corpus), "--trials", "1", "--out", str(out)]
    )
    assert set(jpeg_decoding.DECODERS) == {"workers", "model", "both"}
    for decoder in jpeg_decoding.DECODERS:
        (trial,) = results["trials"][decoder]
        assert trial["images"] == 12 and trial["failed"] == 0 and trial["main_cpu_seconds"] > 0
        # The painted corpus is 12 JPEGs: the model's device decodes none, all, or its share.
        assert 0 <= trial["decoded_on_device"] <= 12
        if decoder != "both":
            assert trial["decoded_on_device"] == {"workers": 0, "model": 12}[decoder]
    assert {d: results["reading_alone"][d]["images"] for d in results["reading_alone"]} == {"workers": 12, "model": 12}
    alike = results["alike"]
    assert alike["rows"] == [12, 12] and alike["same_paths"] == 12 and alike["thumbnails"] == [12, 12]
    assert alike["vector_cosine_min"] > 0.99 and alike["color_dot_min"] > 0.99
    report = (out / "jpeg_decoding.md").read_text()
    assert "| workers |" in report and "| model |" in report and "| both |" in report
    assert json.loads((out / "jpeg_decoding.json").read_text())["corpus"]["images"] == 12
