"""--config (YAML options, flags override) and --export (JSON Lines / pickle, round-trips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import MODEL_ARGS, TINY_CONFIG, TINY_WEIGHTS, Cli, paint_photo


def write_config(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def library_config(cli: Cli, photos: Path, settings: str) -> Path:
    """A config file beside ``photos`` naming them as its roots, ``cli``'s index and the tiny
    model, and then ``settings`` (YAML lines)."""
    return write_config(
        photos.parent / "imagedb.yaml",
        f"roots: [{photos}]\ndb: {cli.db}\nmodel-config: {TINY_CONFIG}\npretrained: {TINY_WEIGHTS}\n{settings}",
    )


def test_a_config_file_holds_options_and_flags_override_it(cli: Cli, photos: Path) -> None:
    config = library_config(cli, photos, "batch: 4\noutput: json\nlimit: 5\n")
    indexed = cli("--config", config, db=False)
    assert indexed.code == 0, indexed.stderr
    assert indexed.summary()["new"] == 12
    searched = cli("--config", config, "--search", str(photos / "a.jpg"), db=False)
    (hits,) = searched.json()
    assert len(hits["results"]) == 5 and hits["results"][0]["path"] == str(photos / "a.jpg")
    overridden = cli("--config", config, "--search", str(photos / "a.jpg"), "--limit", "2", "--format", "paths",
                     db=False)  # fmt: skip
    assert overridden.stdout.splitlines() == [h["path"] for h in hits["results"][:2]]


def test_search_settings_in_a_config_file_leave_indexing_and_stats_alone(cli: Cli, photos: Path) -> None:
    """'preview: true' or 'distinct: true', as the example file invites, refused every run but a
    search ('--preview shows search results…', exit 2), the file's own --index of its roots
    included; 'exclude' refused every search. A setting in the file is for the runs it has a
    part in; typed, where it has none, it is still refused."""
    config = library_config(
        cli,
        photos,
        "exclude: [deeper]\npreview: true\ndistinct: true\norder-by: path DESC\nmin-score: 0.5\noutput: paths\n",
    )
    indexed = cli("--config", config, db=False)
    assert indexed.code == 0, indexed.stderr
    assert indexed.summary()["new"] == 11, "its roots indexed, 'deeper' left out"
    stats = cli("--config", config, "--stats", "--format", "json", db=False)
    assert stats.code == 0 and stats.json()["files"] == 11, stats.stderr
    searched = cli("--config", config, "--search", str(photos / "a.jpg"), "--limit", "5", db=False)
    assert searched.code == 0, searched.stderr
    listed = searched.stdout.splitlines()
    assert str(photos / "a.jpg") in listed and listed == sorted(listed, reverse=True), "ordered by the file's order-by"
    scored = cli("--config", config, "--search", str(photos / "a.jpg"), "--format", "json", db=False).json()[0]
    assert scored["results"] and all(hit["score"] >= 0.5 for hit in scored["results"]), "its min-score kept"
    typed = cli("--config", config, "--stats", "--preview", db=False)
    assert typed.code == 2 and "--preview shows search results" in typed.stderr


def test_a_config_file_s_roots_are_indexed_by_a_run_that_asks_for_nothing_else(cli: Cli, photos: Path) -> None:
    """With 'roots' in the file, every search, --stats and --check walked the whole tree and
    embedded what was new before it answered (as rclip does, which its users turn off). The
    roots are indexed by '--config file' alone, or with --index typed; a search before that says
    so, not "create one with --index DIR"."""
    config = library_config(cli, photos, "")
    first = cli("--config", config, "--search", "a dog", db=False)
    assert first.code == 2 and first.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: no index at {cli.db}: index the config file's roots first, with "
        f"--config {config} on its own"
    ]
    indexed = cli("--config", config, db=False)
    assert indexed.code == 0 and indexed.summary()["new"] == 12, indexed.stderr
    later = paint_photo(photos / "later.jpg", seed=99)
    for run in (["--search", "a dog"], ["--stats"], ["--check"], ["--where", "width > 0"], ["--text", "later"]):
        answered = cli("--config", config, *run, db=False)
        assert answered.code == 0, (run, answered.stderr)
        assert "found " not in answered.stderr and "indexed " not in answered.stderr, (run, answered.stderr)
    assert str(later) not in cli.records()
    both = cli("--config", config, "--index", photos, "--search", str(later), "--limit", "1", "--format", "paths",
               db=False)  # fmt: skip
    assert both.code == 0 and both.summary()["new"] == 1 and both.stdout == f"{later}\n", both.stderr
    paint_photo(photos / "last.jpg", seed=98)
    assert cli("--config", config, db=False).summary()["new"] == 1


def test_indexing_flags_typed_with_a_config_file_and_a_search_say_how_its_roots_are_indexed(
    cli: Cli, photos: Path
) -> None:
    """'--config file --watch 60 --search x' was told "--watch only applies to --index" though the
    file names roots: the refusal now says they are indexed by a run of the file on its own."""
    config = library_config(cli, photos, "")
    assert cli("--config", config, db=False).code == 0
    for typed, usage in (
        (["--watch", "60"], "--watch SECONDS"),
        (["--force"], "--force"),
        (["--retry-failed"], "--retry-failed"),
        (["--exclude", "x"], "--exclude PATTERN"),
    ):
        refused = cli("--config", config, *typed, "--search", "a dog", db=False)
        option = usage.split()[0]
        assert refused.code == 2 and refused.stderr_lines() == [
            f"imagedb-{cli.backend}.py: error: {option} applies to indexing, and a config file's roots are indexed "
            f"by a run that asks for nothing else: run --config {config} {usage} on its own (or give --index DIR)"
        ], typed
    plain = cli("--force", "--search", "a dog")
    assert plain.code == 2 and plain.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --force only applies to --index"
    ]


@pytest.mark.parametrize("thumbnails", [False, True])
def test_thumbnails_in_a_config_file_mean_what_they_say(
    cli: Cli, photos: Path, tmp_path: Path, thumbnails: bool
) -> None:
    """'thumbnails: false' was read as --thumbnails (the flag for true was the last of the two,
    --no-thumbnails, given when true): each meant the other."""
    config = write_config(tmp_path / "imagedb.yaml", f"thumbnails: {str(thumbnails).lower()}\n")
    assert cli("--config", config, "--index", photos, *MODEL_ARGS).code == 0
    made = list((cli.db / "thumbnails").rglob("*.jpg"))
    assert len(made) == (12 if thumbnails else 0)


def test_a_value_that_starts_with_a_minus_is_a_value_not_an_option(cli: Cli, tmp_path: Path) -> None:
    """'exclude: -drafts' in a file named the folder '-drafts'; the parser read it as an option
    ('--exclude: expected at least one argument'). Alone it is a value; in a list, one line."""
    photos = tmp_path / "photos"
    paint_photo(photos / "kept.jpg", seed=1)
    paint_photo(photos / "-drafts" / "draft.jpg", seed=2)
    config = write_config(tmp_path / "c.yaml", f"index: {photos}\nexclude: -drafts\n")
    indexed = cli("--config", config, *MODEL_ARGS)
    assert indexed.code == 0 and indexed.summary()["new"] == 1, indexed.stderr
    assert list(cli.records()) == [str(photos / "kept.jpg")]
    listed = cli("--config", write_config(tmp_path / "l.yaml", "exclude: [tmp, -drafts]\n"), "--index", photos)
    assert listed.code == 2 and len(listed.stderr_lines()) == 1
    assert "l.yaml: exclude: a value that starts with a minus ('-drafts') can only be given alone" in listed.stderr


def test_a_bad_config_file_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    cases = {
        "unknown option 'colour'": "colour: red\n",
        # A bad value is blamed on the file and its key, not on a '--batch' the user never typed.
        "bad.yaml: batch: must be at least 1": "batch: 0\n",
        "bad.yaml: limit: not a whole number: 'three'": "limit: three\n",
        "bad.yaml: format: 'xml' is not one of table,": "format: xml\n",
        # A key or value typed wrong is offered the one spelt nearly so, as on the command line.
        "unknown option 'serach'; did you mean search? (options:": "serach: a dog\n",
        "format: 'jsn' is not one of table, json, jsonl, csv, paths, paths0; did you mean json?": "format: jsn\n",
        "unknown option 'top'; did you mean limit? (options:": "top: 5\n",  # another tool's name (rclip's)
        "unknown option 'num_images'; did you mean limit? (options:": "num_images: 5\n",  # clip-retrieval's
        # YAML reads NO (Norway's code), on, yes as truth values: they were searched as 'False', 'True'.
        'bad.yaml: near: YAML reads this as false (yes, no, on and off are true or false to it): put the text in quotes, as in near: "NO"': "near: NO\n",
        "bad.yaml: text: YAML reads this as true": "text: on\n",
        "bad.yaml: limit: YAML reads this as true": "limit: yes\n",
        "bad.yaml: text: takes text or a number, not a mapping": "text: {a: b}\n",  # searched as "{'a': 'b'}"
        "bad.yaml: exclude: takes text or a number, not a list": "exclude: [tmp, [old]]\n",
        # Where and what, not PyYAML's first line ("while scanning for the next token").
        "bad.yaml is not valid YAML: line 2, column 1: expected ',' or ']'": "batch: [1\n",
        "bad.yaml is not valid YAML: line 2, column 1: found character '\\t' that cannot start any token": "limit: 3\n\tbatch: 4\n",
        # Kept the last of the two before, without a word: the first list's folders went unindexed.
        "bad.yaml: line 3: 'roots' again (line 1 gave it already): give each option once": "roots: [a]\nlimit: 2\nroots: [b]\n",
        "bad.yaml: line 2: 'index', which is 'roots' by another name (line 1 gave it already)": "roots: [a]\nindex: b\n",
        "must be a mapping": "- just a list\n",
        # Saved as "ANSI" by an editor: a traceback before.
        "bad.yaml is not UTF-8 text (byte 0xe9 at offset 9): save it as UTF-8": "text: caf\xe9\n".encode("latin-1"),
    }
    for expected, text in cases.items():
        result = cli("--config", write_config(tmp_path / "bad.yaml", text), "--where", "width > 0")
        assert result.code == 2 and len(result.stderr_lines()) == 1 and expected in result.stderr, result.stderr
    missing = cli("--config", tmp_path / "nope.yaml", "--where", "width > 0")
    assert missing.code == 2 and "cannot read config file" in missing.stderr
    assert not cli.db.exists()


def test_the_example_config_file_names_only_real_options() -> None:
    from common.backends import store_class
    from common.config import config_to_argv
    from common.options import build_parser
    from conftest import REPO

    words = config_to_argv(str(REPO / "imagedb.example.yaml"), build_parser(store_class("faiss")))
    assert words[:2] == ["--index", str(Path.home() / "Pictures")] and "--time-limit" in words
    assert words[2:5] == ["--exclude", "Screenshots", "*_thumb.jpg"]


def test_export_round_trips_through_json_lines_and_pickle(cli: Cli, photos: Path, tmp_path: Path) -> None:
    from common.export import read_export

    cli.index(photos)
    store = cli.store()
    records = {r["path"]: r for r in store.get_records()}
    vectors = store.get_vectors(list(records))
    for name in ("out.jsonl", "out.pkl"):
        result = cli("--export", tmp_path / name)
        assert result.code == 0 and "exported 12 images" in result.stderr, result.stderr
        exported = read_export(str(tmp_path / name))
        assert sorted(e["metadata"]["path"] for e in exported) == sorted(records)
        for entry in exported:
            meta, record = entry["metadata"], records[entry["metadata"]["path"]]
            assert set(entry) == {"vector", "metadata"}
            assert set(meta) == {"path", "filename", "size_bytes", "creation_time", "modification_time", "width",
                                 "height", "exif"}  # fmt: skip
            assert (meta["filename"], meta["size_bytes"], meta["width"], meta["height"]) == (
                record["filename"], record["size_bytes"], record["width"], record["height"])  # fmt: skip
            assert meta["modification_time"] == Path(meta["path"]).stat().st_mtime
            assert isinstance(meta["exif"], dict) and isinstance(meta["creation_time"], float)
            # JSON holds each float32 at its shortest exact form: read back as float32, bit for bit.
            np.testing.assert_array_equal(np.asarray(entry["vector"], dtype=np.float32), vectors[meta["path"]])


def test_export_to_parquet_holds_every_record_column_typed_and_the_vectors_bit_for_bit(
    cli: Cli, photos: Path, tmp_path: Path, monkeypatch
) -> None:
    """A row an image: the record's typed columns, ``vector`` as float32, the model in the file's
    metadata; readable by pyarrow (and so pandas, DuckDB). Row groups of a few rows here, so that
    a file of several groups is read back whole."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from common.export import read_export
    from common.records import RECORD_COLUMNS

    monkeypatch.setattr("common.export.PARQUET_ROW_GROUP", 5)
    monkeypatch.setattr("common.export.EXPORT_CHUNK", 4)
    cli.index(photos)
    store = cli.store()
    records = {r["path"]: r for r in store.get_records()}
    vectors = store.get_vectors(list(records))
    result = cli("--export", tmp_path / "library.parquet")
    assert result.code == 0 and "exported 12 images" in result.stderr, result.stderr

    parquet = pq.ParquetFile(tmp_path / "library.parquet")
    assert parquet.metadata.num_rows == 12 and parquet.metadata.num_row_groups == 3
    schema = parquet.schema_arrow
    assert schema.names == [c for c in RECORD_COLUMNS if c not in ("search_text", "record_version")] + ["vector"]
    assert schema.field("width").type == pa.int32() and schema.field("mtime").type == pa.float64()
    assert schema.field("vector").type == pa.list_(pa.float32(), store.info.dim)
    assert json.loads(schema.metadata[b"imagedb"]) == json.loads(store.info.to_json())

    table = parquet.read()
    assert table.column("path").to_pylist() == sorted(records)
    stacked = table.column("vector").combine_chunks().flatten().to_numpy().reshape(12, store.info.dim)
    np.testing.assert_array_equal(stacked, np.stack([vectors[p] for p in sorted(records)]))
    for row in read_export(str(tmp_path / "library.parquet")):
        record = records[row["metadata"]["path"]]
        assert {k: row["metadata"][k] for k in ("filename", "size_bytes", "width", "height", "mtime", "format")} == {
            k: record[k] for k in ("filename", "size_bytes", "width", "height", "mtime", "format")
        }

    # Narrowed as the other formats are.
    narrowed = cli("--export", tmp_path / "sub.parquet", "--under", str(photos / "sub"))
    assert narrowed.code == 0, narrowed.stderr
    assert sorted(pq.read_table(tmp_path / "sub.parquet").column("filename").to_pylist()) == [
        "g.jpg",
        "h.jpeg",
        "i.png",
    ]


def test_export_reads_the_library_a_chunk_at_a_time_in_path_order(cli: Cli, photos: Path) -> None:
    """Chunks of 5 paths over 12 rows: every row once, in path order, with its own vector."""
    from common.export import exported_records

    cli.index(photos)
    store = cli.store()
    exported = list(exported_records(store, chunk=5))
    paths = [e["metadata"]["path"] for e in exported]
    assert paths == sorted(r["path"] for r in store.get_records()) and len(paths) == 12
    stored = store.get_vectors(paths)
    for entry in exported:
        np.testing.assert_array_equal(entry["vector"], stored[entry["metadata"]["path"]])


def test_export_keeps_exif_of_real_photos(tmp_path: Path) -> None:
    from common.export import read_export
    from conftest import shared

    camera = shared("camera")
    cli = Cli("faiss", tmp_path / "db")
    cli.index(camera)
    assert cli("--export", tmp_path / "camera.pkl").code == 0
    exported = read_export(str(tmp_path / "camera.pkl"))
    with_make = [e for e in exported if "Image Make" in e["metadata"]["exif"]]
    assert len(with_make) >= len(exported) // 2, "most camera files carry their maker in EXIF"


def test_export_to_an_unsupported_name_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("--export", tmp_path / "out.csv")
    assert result.code == 2 and "use a .jsonl" in result.stderr


def test_an_export_named_like_a_folder_there_is_refused_before_reading_the_library(
    cli: Cli, photos: Path, tmp_path: Path
) -> None:
    cli.index(photos)
    (tmp_path / "library.jsonl").mkdir()
    result = cli("--export", tmp_path / "library.jsonl")
    assert result.code == 2 and result.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --export {tmp_path / 'library.jsonl'}: is a folder; name the file to write"
    ]
    assert not any((tmp_path / "library.jsonl").iterdir())


def test_an_export_or_page_named_from_home_in_quotes_is_written_there(
    cli: Cli, photos: Path, tmp_path: Path, monkeypatch
) -> None:
    """'~/photos.jsonl' in quotes (or from a script) reaches imagedb with its ~: it was "its
    folder does not exist", where --index, --db and a query image took ~ as home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    cli.index(photos)
    assert cli("--export", "~/photos.jsonl").code == 0
    assert cli("--where", "width > 0", "--html", "~/page.html", "--format", "paths").code == 0
    assert len((home / "photos.jsonl").read_text().splitlines()) == 12 and (home / "page.html").is_file()
