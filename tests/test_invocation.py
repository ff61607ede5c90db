"""Bad invocations: exit status 2, one clear line on stderr, and the database untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MODEL_ARGS, REPO, TINY_CONFIG, TINY_WEIGHTS, Cli, names_listed, paint_photo


def snapshot(path: Path) -> dict[str, tuple[int, float]] | None:
    """Every file under ``path`` with its size and mtime, or None when it does not exist."""
    if not path.exists():
        return None
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*") if p.is_file()}


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch) -> None:
    """No model hub and an empty weights cache, as on a machine that never downloaded weights."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


def bad_invocations(folder: Path) -> dict[str, list[str]]:
    return {
        "nothing to do": [],
        "missing folder": ["--index", str(folder / "no-such-folder"), *MODEL_ARGS],
        "empty query": ["--search", "  "],
        "empty metadata query": ["--text", ""],
        "unknown column": ["--search", "a dog", "--where", "no_such_column > 3"],
        "broken filter": ["--where", "width >"],
        "zero limit": ["--search", "a dog", "--limit", "0"],
        "a score that is not a number": ["--search", "a dog", "--min-score", "nan"],
        "unknown model": ["--index", str(folder), "--model", "ViT-Q-99", "--pretrained", "none"],
        "unknown pretrained tag": ["--index", str(folder), "--model", "ViT-B-32", "--pretrained", "no_such_tag"],
        "weights not fetchable offline": [
            "--index",
            str(folder),
            "--model",
            "ViT-B-32",
            "--pretrained",
            "laion2b_s34b_b79k",
        ],
        "hf-hub weights not fetchable offline": [
            "--index",
            str(folder),
            "--model",
            "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        ],
        "missing checkpoint": [
            "--index",
            str(folder),
            "--model-config",
            MODEL_ARGS[1],
            "--pretrained",
            str(folder / "nope.pt"),
        ],
        "missing model config": ["--index", str(folder), "--model-config", str(folder / "nope.json")],
        "force without index": ["--force", "--search", "a dog"],
        "a folder as the query image": ["--search", str(folder)],
        "exclude without index": ["--exclude", "tmp", "--search", "a dog"],
        "an exclude pattern naming nothing": ["--index", str(folder), "--exclude", "", *MODEL_ARGS],
        "an exclude pattern of the root alone": ["--index", str(folder), "--exclude", "/", *MODEL_ARGS],
        "watch without index": ["--watch", "5", "--search", "a dog"],
        # A watch runs until stopped: what would come after it never would.
        "watch then search": ["--index", str(folder), "--watch", "5", "--search", "a dog", *MODEL_ARGS],
        "watch then stats": ["--index", str(folder), "--watch", "5", "--stats", *MODEL_ARGS],
        "add without search": ["--add", "a dog"],
        "a weight of zero": ["--search", "a dog", "--add", "0:a cat"],
        "a weight and no query": ["--search", "a dog", "--add", "2:"],  # was searched as the prompt "2:"
        "a missing image to add": ["--search", "a dog", "--add", str(folder / "missing.jpg")],
        "subtract in fts mode": ["--search", "a dog", "--subtract", "a cat", "--mode", "fts"],
        "order by an unknown column": ["--where", "width > 0", "--order-by", "taken DESC"],
        "order by an unknown direction": ["--where", "width > 0", "--order-by", "width downwards"],
        "order without results": ["--check", "--order-by", "width"],
        # Bytes of another encoding (typed in a Latin-1 terminal): Python's stand-ins for them
        # reached a tokenizer, DuckDB or LanceDB, and the run ended on an unexpected error.
        "a prompt in another encoding": ["--search", "caf\udce9"],
        "metadata words in another encoding": ["--text", "caf\udce9"],
        "a condition in another encoding": ["--where", "filename = 'caf\udce9.jpg'"],
        "a web address that is none": ["--search", "http://[::1"],  # urllib's ValueError ended the run
        "a web address without a host": ["--search", "https://"],
        "a folder named in another encoding": ["--under", str(folder / "caf\udce9")],
        "a folder to forget named in another encoding": ["--forget", str(folder / "caf\udce9")],
        # Refused before the search, not after it: the page is named, not its folder.
        "a folder as the html page": ["--where", "width > 0", "--html", str(folder)],
        "an html page in a missing folder": ["--where", "width > 0", "--html", str(folder / "no" / "page.html")],
        # An empty value (a shell variable not set: --index "$PHOTOS") names nothing. As a path it
        # was the current folder (indexed, listed, its rows forgotten); else no value at all: a
        # place, a page or an export asked for was left out without a word.
        "an empty folder name to index": ["--index", "", *MODEL_ARGS],
        "an empty folder name among others": ["--index", str(folder), " ", *MODEL_ARGS],
        "an empty folder name to forget": ["--forget", ""],
        "an empty folder name to search under": ["--under", ""],
        "an empty place": ["--text", "beach", "--near", ""],
        "an empty place alone": ["--near", ""],
        "an empty html page": ["--where", "width > 0", "--html", ""],
        "an empty export file": ["--export", ""],
        "an empty palette image": ["--palette", ""],
        "an empty config file name": ["--text", "beach", "--config", ""],
        "an empty model name": ["--search", "a dog", "--model", ""],
        "an empty weights name": ["--search", "a dog", "--pretrained", ""],
        "an empty model config name": ["--search", "a dog", "--model-config", ""],
    }


CASES = list(bad_invocations(Path("/x")))


@pytest.mark.parametrize("case", CASES)
def test_bad_invocation_on_a_fresh_database(cli: Cli, tmp_path: Path, case: str, offline_hub) -> None:
    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    result = cli(*bad_invocations(folder)[case])
    assert result.code == 2, result.stderr
    assert len(result.stderr_lines()) == 1, result.stderr
    assert "error" in result.stderr
    assert result.stdout == ""
    assert snapshot(cli.db) is None, "nothing may be written"


def test_a_model_config_open_clip_would_not_read_is_refused_saying_why(cli: Cli, tmp_path: Path) -> None:
    """open_clip passes over a config file without its keys, or not named .json, without a word
    (the model was then 'unknown', sending the user to look for a typo in its name), and one
    that is not JSON ended the run with an unexpected JSONDecodeError."""
    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "cut.json").write_text('{"embed_dim": 64,')
    (configs / "half.json").write_text('{"embed_dim": 64}')
    (configs / "tiny.txt").write_text(Path(TINY_CONFIG).read_text())
    expected = {
        configs
        / "cut.json": "is not JSON (Expecting property name enclosed in double quotes: line 1 column 18 (char 17))",
        configs / "half.json": "is no open_clip model config: it has no vision_cfg, text_cfg",
        configs / "tiny.txt": ": open_clip reads model configs from .json files alone; name it tiny.json",
        configs: "is not a file but a folder",
    }
    for config, why in expected.items():
        result = cli("--index", folder, "--model-config", config, "--pretrained", "none")
        (line,) = result.stderr_lines()
        assert result.code == 2 and line.startswith(f"imagedb-{cli.backend}.py: error: model config {config}"), line
        assert why in line, line
        assert snapshot(cli.db) is None, "nothing may be written"


def test_a_checkpoint_that_does_not_fit_the_model_is_refused_saying_how(cli: Cli, tmp_path: Path) -> None:
    """A file that is no checkpoint printed torch's advice to load it with weights_only=False
    (code execution); the test model's checkpoint given to ViT-B-32 said '"compute_index_ranges_weights"
    not implemented for 'Half'', and another model's weights, the first line of torch's list of
    every layer: 'Error(s) in loading state_dict for CLIP:'."""
    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    (tmp_path / "notes.pt").write_bytes(b"not a checkpoint" * 8)
    expected = {  # what the line starts with, and what else it says
        ("--model-config", TINY_CONFIG, "--pretrained", tmp_path / "notes.pt"): (
            f"cannot load model imagedb-tiny-cifar10 (pretrained {tmp_path / 'notes.pt'}): not a checkpoint of "
            "weights torch can read (",
            "",
        ),
        ("--model", "ViT-B-32", "--pretrained", TINY_WEIGHTS): (
            f"cannot load model ViT-B-32 (pretrained {TINY_WEIGHTS}): the weights of another model: of ViT-B-32's ",
            "have another shape (text_projection is 64×64 in it, 512×512 in ViT-B-32)",
        ),
        ("--model-config", TINY_CONFIG, "--pretrained", tmp_path): (
            f"checkpoint {tmp_path} is not a file but a folder",
            "",
        ),
    }
    for model_args, (start, said) in expected.items():
        result = cli("--index", folder, *model_args)
        (line,) = result.stderr_lines()
        assert result.code == 2 and line.startswith(f"imagedb-{cli.backend}.py: error: {start}"), line
        assert said in line and "weights_only" not in line, line
        assert snapshot(cli.db) is None, "nothing may be written"


@pytest.mark.parametrize(
    "case",
    [*CASES, "search missing image", "other model on this index", "corrupt query image", "corrupt image to add",
     "terms that cancel out", "forget what is not indexed"],
)  # fmt: skip
def test_bad_invocation_leaves_an_existing_database_untouched(cli: Cli, tmp_path: Path, case: str, offline_hub) -> None:
    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    cli.index(folder)
    before = snapshot(cli.db)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    extra = {
        "search missing image": ["--search", str(tmp_path / "missing.jpg")],
        "other model on this index": ["--index", str(folder), "--model", "ViT-B-32", "--pretrained", "none"],
        "corrupt query image": ["--search", str(tmp_path / "broken.jpg")],
        "corrupt image to add": ["--search", "a dog", "--add", str(tmp_path / "broken.jpg")],
        "terms that cancel out": ["--search", str(folder / "a.jpg"), "--subtract", str(folder / "a.jpg")],
        "forget what is not indexed": ["--forget", str(tmp_path / "elsewhere")],
    }
    result = cli(*{**bad_invocations(folder), **extra}[case])
    assert result.code == 2, result.stderr
    assert len(result.stderr_lines()) == 1, result.stderr
    assert snapshot(cli.db) == before


def test_an_empty_folder_name_is_refused_not_taken_for_the_current_folder(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script's ``--forget "$GONE"`` with the variable not set, run from a library's folder,
    forgot every row there ('' is the current folder to the system): hours of embedding. Each
    such option is refused naming it, from wherever it runs; the index is as it was."""
    folder = tmp_path / "photos"
    paint_photo(folder / "2019" / "a.jpg", seed=1)
    paint_photo(tmp_path / "elsewhere" / "b.jpg", seed=2)
    cli.index(folder, tmp_path / "elsewhere")
    before = snapshot(cli.db)
    monkeypatch.chdir(folder)
    for args, says in [
        (["--forget", ""], "--forget '': names nothing (a shell variable not set?): give a folder"),
        (["--index", "", *MODEL_ARGS], "--index '': names nothing (a shell variable not set?): give a folder"),
        (["--where", "width > 0", "--html", " "], "--html ' ': names nothing (a shell variable not set?): "
         "give the page to write"),
    ]:  # fmt: skip
        result = cli(*args)
        assert result.code == 2 and result.stderr_lines() == [f"imagedb-{cli.backend}.py: error: {says}"]
    unnamed = cli("--where", "width > 0", "--db", "", db=False)
    assert unnamed.code == 2 and unnamed.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --db '': names nothing (a shell variable not set?): give the index's folder"
    ]
    assert snapshot(cli.db) == before and len(cli.records()) == 2


def test_a_value_that_starts_with_a_minus_is_refused_saying_how_to_give_it(cli: Cli, tmp_path: Path) -> None:
    """argparse took ``-drafts`` or ``-nikon`` for an option: "--exclude: expected at least one
    argument", "unrecognized arguments: -nikon". The line says how to write it, and that works."""
    folder = tmp_path / "photos"
    for name in ("a.jpg", "-drafts/b.jpg"):
        paint_photo(folder / name, seed=len(name))
    for args, says in [
        (["--index", folder, "--exclude", "-drafts"], "--exclude -drafts: a value that starts with a minus reads as "
         "an option: write it --exclude=-drafts"),
        (["--text", "-nikon"], "--text -nikon: a minus term goes inside the quoted query: --text 'canon -nikon'"),
        (["--text", "canon", "eos", "-nikon"], "--text canon eos -nikon: a minus term goes inside the quoted query: "
         "--text 'canon eos -nikon'"),
        (["--text", "-canon +nikon"], "--text -canon +nikon: a query that starts with a minus reads as an option: "
         "write it --text='-canon +nikon'"),
        (["--search", "a", "frozen", "lake", "-5°C"], "--search a frozen lake -5°C: a word that starts with a minus "
         "reads as an option: quote the prompt, --search 'a frozen lake -5°C'"),
    ]:  # fmt: skip
        result = cli(*args, *MODEL_ARGS)
        assert result.code == 2 and result.stderr_lines() == [f"imagedb-{cli.backend}.py: error: {says} (see --help)"]
    indexed = cli("--index", folder, "--exclude=-drafts", *MODEL_ARGS)
    assert indexed.code == 0 and sorted(cli.records()) == [str(folder / "a.jpg")]
    assert cli("--text=-drafts +a", "--format", "paths").stdout == f"{folder / 'a.jpg'}\n"
    assert cli("--where", "width > 0", "-qv", "--format", "paths").code == 0  # short options run together: options


def test_an_option_or_a_choice_typed_wrong_is_offered_the_one_spelt_nearly_so(cli: Cli) -> None:
    """argparse named the mistake ('unrecognized arguments: --serach dog', "invalid choice:
    'jsn'") and left the user to find the spelling in --help: the option or choice spelt nearly
    so is offered, and it runs; none where nothing is near."""
    for args, says in [
        (["--serach", "dog"], "unrecognized arguments: --serach dog; did you mean --search?"),
        (["--where", "width > 0", "--fromat", "json"], "unrecognized arguments: --fromat json; did you mean --format?"),
        (["--where", "width > 0", "--format", "jsn"], "argument --format: invalid choice: 'jsn' (choose from 'table', "
         "'json', 'jsonl', 'csv', 'paths', 'paths0'); did you mean json?"),
        (["--where", "width > 0", "--xyzzy"], "unrecognized arguments: --xyzzy"),
        # Another tool's name for one of imagedb's, typed from habit (rclip's --top, FAISS' k),
        # after a prompt's words too, where it is no minus word of the prompt.
        (["--search", "a", "dog", "-k", "3"], "unrecognized arguments: -k 3; did you mean --limit?"),
        (["--text", "canon", "-n", "3"], "unrecognized arguments: -n 3; did you mean --limit?"),
        (["--search", "a dog", "--top=3"], "unrecognized arguments: --top=3; did you mean --limit?"),
        (["--search", "a", "dog", "-n3"], "unrecognized arguments: -n3; did you mean --limit?"),
        (["--search", "a dog", "--filter", "iso > 100"], "unrecognized arguments: --filter iso > 100; did you mean "
         "--where?"),
    ]:  # fmt: skip
        result = cli(*args)
        assert result.code == 2 and result.stderr_lines() == [f"imagedb-{cli.backend}.py: error: {says} (see --help)"]
    offered = cli("--where", "width > 0", "--format", "json")
    assert "error: no index at" in offered.stderr, "parsed: it got as far as looking for the index"


def test_a_broken_filter_is_explained_in_the_users_own_words(cli: Cli) -> None:
    """The condition runs wrapped in more SQL; a syntax error used to point at the wrapping."""
    for where, near in (("width >", '">"'), ("width > 3 AND", '"AND"'), ("(width > 3", '"3"')):
        result = cli("--where", where)
        assert result.code == 2 and f"syntax error at or near {near}" in result.stderr, result.stderr


def test_a_condition_that_is_no_truth_value_or_reads_other_rows_is_refused_alike_on_both_backends(
    cli: Cli, photos: Path
) -> None:
    """DuckDB, the FAISS backend's engine, took ``width`` alone as "width is not 0" and ran a
    subquery; LanceDB refused both. Refused on either backend now, in one line saying why."""
    cli.index(photos)
    for where, said in (
        ("width", "it is a number, not true or false"),
        ("lower(make)", "it is text, not true or false"),
        ("NULL", "it is NULL, not true or false"),
        ("width IN (SELECT width FROM records)", "no subquery"),
        ("EXISTS (SELECT 1)", "no subquery"),
    ):
        result = cli("--where", where)
        (line,) = result.stderr_lines()
        assert (
            result.code == 2 and line.startswith(f"imagedb-{cli.backend}.py: error: invalid --where") and said in line
        )
    # A condition with NULL in it is still one (NULL as false, as in SQL): no row, no error.
    listed = cli("--where", "width > 0 AND NULL", "--format", "paths")
    assert (listed.code, listed.stdout, listed.stderr) == (0, "", "")


def test_text_in_double_quotes_is_explained_as_sqls_column_names(cli: Cli, photos: Path) -> None:
    """SQL reads "Canon" as a column's name: the error says to put text in single quotes; a column
    named in double quotes is still a column. So is Canon unquoted, compared with; a name close to
    a column's gets that column suggested."""
    cli.index(photos)
    result = cli("--where", 'make = "Canon"')
    assert result.code == 2 and len(result.stderr_lines()) == 1
    assert "unknown column 'Canon': text goes in single quotes in SQL ('Canon', not \"Canon\")" in result.stderr
    assert cli("--where", '"width" > 0', "--format", "paths").code == 0
    assert "(did you mean date_taken? columns: path, folder," in cli("--where", "taken_at > '2020'").stderr
    assert "(did you mean height? columns:" in cli("--where", "heigth > 3").stderr
    assert "(did you mean width? columns:" in cli("--where", "wdith > 3").stderr  # two letters swapped
    assert "(did you mean date_taken? columns:" in cli("--where", "width > 0", "--order-by", "taken DESC").stderr
    # The results' own columns are no record's: what they stand for is the order without --order-by.
    by_distance = cli("--near", "43.77,11.25", "--order-by", "distance_km")
    assert by_distance.code == 2 and "without --order-by, --near lists the nearest first" in by_distance.stderr
    assert "without --order-by, results come best first" in cli("--text", "a", "--order-by", "score DESC").stderr
    assert "(columns: path, folder," in cli("--where", "no_such_column > 3").stderr
    unquoted = cli("--where", "width > 0 AND make = Canon")
    assert unquoted.code == 2 and len(unquoted.stderr_lines()) == 1
    assert "unknown column 'Canon': text goes in single quotes in SQL ('Canon')" in unquoted.stderr
    assert "('Nikon')" in cli("--where", "make IN ('Canon', Nikon)").stderr


def test_search_without_an_index_says_how_to_make_one(cli: Cli) -> None:
    result = cli("--search", "a dog")
    assert result.code == 2
    assert "no index at" in result.stderr and "--index" in result.stderr


def test_a_limit_typed_where_nothing_is_listed_is_refused_and_a_config_file_s_is_not(cli: Cli, tmp_path: Path) -> None:
    """--export, --duplicates and --stats take every row: '--export sample.jsonl --limit 100'
    wrote the whole library, '--duplicates --limit 5' every group, saying nothing. Typed, it is
    refused; 'limit: 20' in a config file is for the searches, and the rest runs."""
    folder = tmp_path / "photos"
    for seed in range(3):
        paint_photo(folder / f"{seed}.jpg", seed=seed)
    cli.index(folder)
    for action in (
        ["--export", str(tmp_path / "sample.jsonl")],
        ["--duplicates"],
        ["--stats"],
        ["--stats", "--where", "width > 0"],
    ):
        result = cli(*action, "--limit", "2")
        assert result.code == 2, action
        (line,) = result.stderr_lines()
        assert "--limit counts search results, and this lists none" in line
    assert not (tmp_path / "sample.jsonl").exists()
    listed = cli("--where", "width > 0", "--limit", "2", "--format", "paths")
    assert listed.code == 0 and len(listed.stdout.splitlines()) == 2
    config = tmp_path / "c.yaml"
    config.write_text("limit: 2\n")
    exported = cli("--config", config, "--export", tmp_path / "all.jsonl")
    assert exported.code == 0 and len((tmp_path / "all.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize(
    "run, typed, said, in_file",
    [
        (
            ["--stats"],
            ["--duplicate-threshold", "0.9"],
            "--duplicate-threshold says how alike",
            "duplicate-threshold: 0.9",
        ),
        (
            ["--where", "width > 0"],
            ["--preview-rows", "5"],
            "--preview-rows says how tall --preview",
            "preview-rows: 5",
        ),
        (["--where", "width > 0"], ["--no-thumbnails"], "--no-thumbnails says whether --index", "thumbnails: false"),
        (["--check"], ["--thumbnails"], "--thumbnails says whether --index (or --repair)", "thumbnails: true"),
        (["--search", "a dog"], ["--batch", "64"], "--batch: tunes how --index (or --repair) reads", "batch: 64"),
        # No model runs to list rows by their metadata: 'cuda' or 'fp16' there changed nothing.
        (
            ["--where", "width > 0"],
            ["--device", "cpu", "--precision", "fp32"],
            "--device, --precision: say where and how the model runs, and this run runs none "
            "(it reads the index alone): give --index DIR or --search QUERY",
            "device: cpu\nprecision: fp32",
        ),
        (
            ["--stats"],
            ["--workers", "2", "--commit-every", "5", "--jpeg-decoder", "both"],
            "--workers, --jpeg-decoder, --commit-every: tune how --index",
            "workers: 2\ncommit-every: 5",
        ),
        # --text is a metadata search whatever the mode: it searched the words alone.
        (
            ["--text", "a red bus"],
            ["--mode", "hybrid"],
            "--mode hybrid says how a --search prompt searches, and --text matches metadata words alone: "
            "--search 'a red bus' --mode hybrid",
            "mode: hybrid",
        ),
        (["--text", "bus"], ["--mode", "fts"], "--text matches metadata words already", "mode: fts"),
        (["--where", "width > 0"], ["--mode", "fts"], "--mode fts says how a --search prompt searches", "mode: fts"),
    ],
)
def test_an_option_typed_for_what_the_run_does_not_do_is_refused(
    cli: Cli, tmp_path: Path, run: list[str], typed: list[str], said: str, in_file: str
) -> None:
    """Each was let pass, changing nothing, so '--check --thumbnails' looked like it had made the
    thumbnails a check notes missing. Set in a config file, each is for the runs it has a part in."""
    paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(tmp_path / "photos")
    result = cli(*run, *typed)
    assert result.code == 2
    (line,) = result.stderr_lines()
    assert said in line
    config = tmp_path / "c.yaml"
    config.write_text(in_file + "\n")
    assert cli("--config", config, *run).code == 0


def test_every_option_with_a_part_in_some_runs_is_refused_typed_and_left_out_of_a_file_there(
    cli: Cli, tmp_path: Path
) -> None:
    """One table (``OPTIONS_WITH_A_PART``) says which runs each option has a part in: typed for
    another run, it is refused with its line, nothing written; set in a config file, that run
    goes on without it. A case for every option in the table, so one added cannot go untried."""
    from common.runs import OPTIONS_WITH_A_PART

    paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(tmp_path / "photos")
    page = str(tmp_path / "page.html")
    cases = {  # option: (a run it has no part in, typed, the same in a config file)
        "add": (["--text", "a"], ["--add", "snow"], "add: [snow]"),
        "subtract": (["--text", "a"], ["--subtract", "snow"], "subtract: [snow]"),
        "limit": (["--stats"], ["--limit", "5"], "limit: 5"),
        "duplicate_threshold": (["--stats"], ["--duplicate-threshold", "0.9"], "duplicate-threshold: 0.9"),
        "thumbnails": (["--stats"], ["--no-thumbnails"], "thumbnails: false"),
        "batch": (["--stats"], ["--batch", "8"], "batch: 8"),
        "workers": (["--stats"], ["--workers", "1"], "workers: 1"),
        "jpeg_decoder": (["--stats"], ["--jpeg-decoder", "both"], "jpeg-decoder: both"),
        "commit_every": (["--stats"], ["--commit-every", "5"], "commit-every: 5"),
        "device": (["--where", "width > 0"], ["--device", "cpu"], "device: cpu"),
        "precision": (["--text", "a"], ["--precision", "bf16"], "precision: bf16"),
        "radius": (["--stats"], ["--radius", "5"], "radius: 5"),
        "format": (["--stats"], ["--format", "paths"], "format: paths"),
        "min_score": (["--where", "width > 0"], ["--min-score", "0.2"], "min-score: 0.2"),
        "preview": (["--stats"], ["--preview", "blocks"], "preview: blocks"),
        "preview_rows": (["--stats"], ["--preview-rows", "4"], "preview-rows: 4"),
        "distinct": (["--stats"], ["--distinct"], "distinct: true"),
        "html": (["--stats"], ["--html", page], f"html: {page}"),
        "mode": (["--search", "a dog", "--add", "snow"], ["--mode", "fts"], "mode: fts"),
        "force": (["--stats"], ["--force"], "force: true"),
        "retry_failed": (["--stats"], ["--retry-failed"], "retry-failed: true"),
        "exclude": (["--stats"], ["--exclude", "tmp"], "exclude: [tmp]"),
        "watch": (["--stats"], ["--watch", "5"], "watch: 5"),
        "order_by": (["--stats"], ["--order-by", "path"], "order-by: path"),
    }
    always_meant_typed = {"index": (["--stats"], ["--index", tmp_path / "photos"], f"index: [{tmp_path / 'photos'}]")}
    assert set(cases) | set(always_meant_typed) == set(OPTIONS_WITH_A_PART)
    for dest, (run, typed, in_file) in always_meant_typed.items():
        assert cli(*run, *typed).code == 0
        config = tmp_path / f"{dest}.yaml"
        config.write_text(in_file + "\n")
        kept = cli("--config", config, *run, "-v")
        assert kept.code == 0 and f"config file: {dest} left out" in kept.stderr, (dest, kept.stderr)
    for dest, (run, typed, in_file) in cases.items():
        before = snapshot(cli.db)
        refused = cli(*run, *typed)
        assert refused.code == 2 and len(refused.stderr_lines()) == 1, (dest, refused.stderr)
        assert "--" + dest.replace("_", "-") in refused.stderr or dest == "thumbnails"  # "--no-thumbnails says…"
        assert snapshot(cli.db) == before and not Path(page).exists()
        config = tmp_path / f"{dest}.yaml"
        config.write_text(in_file + "\n")
        kept = cli("--config", config, *run)
        assert kept.code == 0, (dest, kept.stderr)


def test_the_other_scripts_database_is_refused_with_the_script_to_use(cli: Cli, tmp_path: Path) -> None:
    """Each backend needs its own folder (they would share the failures report and thumbnails):
    pointing the other script at it used to build a second index beside the first."""
    photos = tmp_path / "photos"
    paint_photo(photos / "a.jpg", seed=1)
    cli.index(photos)
    before = snapshot(cli.db)
    other = Cli("faiss" if cli.backend == "lancedb" else "lancedb", cli.db)
    for args in (("--index", photos, *MODEL_ARGS), ("--search", "a dog"), ("--check",), ("--repair", *MODEL_ARGS)):
        result = other(*args)
        assert result.code == 2, (args, result.stderr)
        assert len(result.stderr_lines()) == 1 and f"holds an imagedb-{cli.backend}.py index" in result.stderr
    assert snapshot(cli.db) == before

    (tmp_path / "notes.txt").write_text("not a database")
    refused = Cli(cli.backend, tmp_path / "notes.txt")("--index", photos, *MODEL_ARGS)
    assert refused.code == 2 and "is a file, not a database folder" in refused.stderr


def test_a_search_with_the_index_model_named_explicitly_is_accepted(cli: Cli, tmp_path: Path) -> None:
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(photo.parent)
    result = cli("--search", str(photo), *MODEL_ARGS, "--format", "paths")
    assert result.code == 0 and result.stdout.splitlines()[0] == str(photo)


def test_a_query_is_an_image_written_as_a_path_and_a_bare_word_a_prompt_beside_a_folder_of_that_name(
    cli: Cli, tmp_path: Path, monkeypatch
) -> None:
    """``--search dog`` run beside a ``dog`` folder searches for dogs; ``~/…`` quoted (from a
    config file, or so the shell leaves it) is the image in the home folder."""
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    paint_photo(tmp_path / "photos" / "b.jpg", seed=2)
    cli.index(photo.parent)
    (tmp_path / "dog").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    by_word, by_home_path = cli.search("--search", "dog", "~/photos/a.jpg")
    assert by_word["query_kind"] == "text" and len(by_word["results"]) == 2
    assert by_home_path["query_kind"] == "image"
    assert (by_home_path["results"][0]["path"], by_home_path["results"][0]["score"]) == (str(photo), 1.0)
    refused = cli("--search", "./dog")
    assert refused.code == 2 and "./dog: that is a folder; give an image file" in refused.stderr


def test_a_query_written_as_a_path_that_names_nothing_is_refused_not_searched_as_words(
    cli: Cli, tmp_path: Path, monkeypatch, model_loads: list[str]
) -> None:
    """``~/Pictures/IMG_0042`` (its extension forgotten), ``./photos/`` or ``/mnt/cam/`` not
    mounted were searched as prompts, the pictures nearest to the words of a path coming back
    as results; each is one error line now, before a model is loaded. A prompt that starts with
    a slash (``/imagine …``) and one holding one (``AC/DC``) are still prompts."""
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(photo.parent)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    model_loads.clear()
    for query in ("~/photos/a", "./photos/b", "../photos/", str(tmp_path / "photos" / "a"), "/mnt/cam/", "/beach"):
        refused = cli("--search", query)
        assert refused.code == 2 and refused.stderr_lines() == [
            f"imagedb-{cli.backend}.py: error: query image not found: {query}"
        ], query
    assert model_loads == []
    imagine, band = cli.search("--search", "/imagine a red car", "AC/DC concert")
    assert imagine["query_kind"] == band["query_kind"] == "text"
    assert len(imagine["results"]) == len(band["results"]) == 1


def test_a_path_spelt_wrong_is_offered_the_one_spelt_nearly_so(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """'folder not found' and 'query image not found' left the user to list the folder and
    compare: the path spelt nearly so that is there (a folder for a folder, a file for a file;
    a letter left out or two swapped, case aside) is offered, relative as typed; none where no
    name is near."""
    photo = paint_photo(tmp_path / "Pictures" / "2019-rome" / "IMG_0042.jpg", seed=1)
    paint_photo(tmp_path / "scans" / "jpg" / "scan.jpg", seed=2)
    cli.index(photo.parent)
    monkeypatch.chdir(tmp_path)
    for args, said in (
        (["--index", str(tmp_path / "Pictures" / "2019-rmoe")],
         f"folder not found: {tmp_path / 'Pictures' / '2019-rmoe'}; did you mean {photo.parent}?"),
        (["--search", "pictures/2019-rome/IMG_042.jpg"],
         "query image not found: pictures/2019-rome/IMG_042.jpg; did you mean Pictures/2019-rome/IMG_0042.jpg?"),
        (["--under", str(tmp_path / "Pictures" / "2019-rom")],
         f"--under {tmp_path / 'Pictures' / '2019-rom'}: nothing is indexed under it (there is no such folder; "
         f"did you mean {photo.parent}?)"),
        (["--index", str(tmp_path / "Pictures" / "2020-paris")], f"folder not found: {tmp_path / 'Pictures' / '2020-paris'}"),
        # Two letters swapped in a name too short for a ratio to tell.
        (["--index", str(tmp_path / "scans" / "jgp")],
         f"folder not found: {tmp_path / 'scans' / 'jgp'}; did you mean {tmp_path / 'scans' / 'jpg'}?"),
    ):  # fmt: skip
        refused = cli(*args)
        assert refused.code == 2 and refused.stderr_lines() == [f"imagedb-{cli.backend}.py: error: {said}"], args
    assert names_listed(cli, "--search", "Pictures/2019-rome/IMG_0042.jpg", "--limit", "1") == ["IMG_0042.jpg"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_query_image_that_is_no_file_is_named_for_what_it_is(cli: Cli, tmp_path: Path) -> None:
    """A pipe or a folder named like a photo is there, not missing: reading the pipe would wait
    for a writer forever, so the search is refused at once, saying what the name is (it said
    'not found' of what ``ls`` lists)."""
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(photo.parent)
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "album.jpg").mkdir()
    for query, why in (
        (tmp_path / "pipe.jpg", f"query image {tmp_path / 'pipe.jpg'} is not a file but a named pipe"),
        (tmp_path / "album.jpg", f"--search {tmp_path / 'album.jpg'}: that is a folder"),
        (tmp_path / "gone.jpg", f"query image not found: {tmp_path / 'gone.jpg'}"),
    ):
        refused = cli("--search", str(query))
        assert refused.code == 2 and len(refused.stderr_lines()) == 1 and why in refused.stderr, refused.stderr
    refused = cli("--palette", str(tmp_path / "pipe.jpg"))
    assert refused.code == 2 and len(refused.stderr_lines()) == 1, refused.stderr
    assert f"palette image {tmp_path / 'pipe.jpg'} is not a file but a named pipe" in refused.stderr


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_scripts_run_as_programs(backend: str, tmp_path: Path) -> None:
    script = str(REPO / f"imagedb-{backend}.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    shown = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0 and "--index" in shown.stdout and "--where" in shown.stdout
    missing = subprocess.run(
        [sys.executable, script, "--index", str(tmp_path / "nope"), "--db", str(tmp_path / "db")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"imagedb-{backend}.py: error: folder not found: {tmp_path / 'nope'}"
    ]
    assert not (tmp_path / "db").exists()


LOADED_AFTER_A_RUN = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    readers = ("common.decoding", "common.metadata", "pillow_heif", "exifread", "av")
    print("loaded:", *sorted(name for name in readers if name in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_a_cold_text_search_loads_no_decoder(backend: str, tmp_path: Path) -> None:
    """A text prompt needs the model and the store, not the image decoders and EXIF readers: a
    cold `--search "text"` imports neither (they are the workers'), and still finds the photo."""
    cli = Cli(backend, tmp_path / "db")
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(photo.parent)
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_A_RUN, str(REPO / f"imagedb-{backend}.py"), "--db", str(cli.db),
         "--search", "a photo", "--format", "paths"],
        capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(photo)]
    assert done.stderr.strip().splitlines()[-1] == "loaded:"


BUILT_AFTER_A_RUN = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("built:", "lance_namespace_urllib3_client.api" in sys.modules, file=sys.stderr)
    from lance_namespace_urllib3_client import ApiClient, TableApi
    print("asked for:", ApiClient.__name__, TableApi.__name__, file=sys.stderr)
"""


def test_a_cold_lancedb_listing_builds_no_rest_client_and_one_asked_for_is_whole(tmp_path: Path) -> None:
    """`import lancedb` built the REST client of Lance's namespaces, which a database in a folder
    never calls: a third of a cold `--where`. A cold listing builds none and lists the photo; a
    program asking for the client afterwards finds it whole."""
    cli = Cli("lancedb", tmp_path / "db")
    photo = paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(photo.parent)
    done = subprocess.run(
        [sys.executable, "-c", BUILT_AFTER_A_RUN, str(REPO / "imagedb-lancedb.py"), "--db", str(cli.db),
         "--where", "width > 0", "--format", "paths"],
        capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(photo)]
    assert done.stderr.strip().splitlines()[-2:] == ["built: False", "asked for: ApiClient TableApi"]


def run_for_a_reader_already_gone(backend: str, db: Path, *args: str) -> subprocess.CompletedProcess:
    """Run a front script as `... | head` would once head has exited: every write to stdout fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--db", str(db), *args],
            stdout=write_end, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_a_reader_that_stops_reading_ends_the_run_quietly(backend: str, tmp_path: Path) -> None:
    """`imagedb ... | head -1`: when the reader leaves, stop as cat does (no error line), keep the page."""
    cli, db, page = Cli(backend, tmp_path / "db"), tmp_path / "db", tmp_path / "page.html"
    for seed in range(3):
        paint_photo(tmp_path / "photos" / f"{seed}.jpg", seed=seed)
    cli.index(tmp_path / "photos")

    listed = run_for_a_reader_already_gone(backend, db, "--where", "width > 0", "--html", str(page))
    assert listed.stderr.splitlines() == [f"imagedb-{backend}.py: wrote {page}"]
    assert listed.returncode == 141  # 128 + SIGPIPE, what a shell reports for `cat` in the same place
    assert page.read_text(encoding="utf-8").count("<img") == 3

    healthy = run_for_a_reader_already_gone(backend, db, "--check")
    assert (healthy.returncode, healthy.stderr) == (141, "")
    (tmp_path / "photos" / "0.jpg").unlink()
    stale = run_for_a_reader_already_gone(backend, db, "--check")
    assert stale.returncode == 1  # the verdict still reaches a script, though the list did not
    assert stale.stderr.splitlines() == [
        f"imagedb-{backend}.py: error: the index at {db} has 1 problem(s), listed above; --repair rebuilds what it can"
    ]


def test_a_run_with_its_stderr_closed_still_answers(cli: Cli, tmp_path: Path) -> None:
    """`imagedb ... 2>&-` (a cron job, a service without a log): the results still come, and an
    error still sets the exit status; nothing is written where stderr was."""
    for seed in range(3):
        paint_photo(tmp_path / "photos" / f"{seed}.jpg", seed=seed)
    cli.index(tmp_path / "photos")
    script = [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--db", str(cli.db)]

    def without_stderr(*args: str) -> subprocess.CompletedProcess:
        command = ["sh", "-c", '"$@" 2>&-', "sh", *script, *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    listed = without_stderr("--where", "width > 0", "--format", "paths")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert sorted(Path(p).name for p in listed.stdout.split()) == ["0.jpg", "1.jpg", "2.jpg"]
    assert without_stderr("--where", "no_such_column > 0").returncode == 2


def test_a_filter_lancedb_cannot_evaluate_is_a_usage_error(tmp_path: Path) -> None:
    """DuckDB (which checks every --where) knows functions LanceDB's SQL does not: one line, exit 2."""
    cli = Cli("lancedb", tmp_path / "db")
    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    cli.index(folder)
    result = cli("--where", "CASE WHEN width > 100 THEN 1 ELSE 0 END = 1")
    assert result.code == 2
    (line,) = result.stderr_lines()
    assert line.startswith("imagedb-lancedb.py: error: LanceDB cannot evaluate --where")
    assert "CASE WHEN" in line
    # A substring from a negative place: DuckDB counts it from the end, DataFusion's substr from
    # before the start: refused, not given to Lance to answer with other rows.
    for counted_from_the_end in ("substr(path, -4) = '.jpg'", "substring(path FROM -4) = '.jpg'"):
        refused = cli("--where", counted_from_the_end)
        assert refused.code == 2 and "LanceDB cannot evaluate --where" in refused.stderr, refused.stderr
    # A number compared with a truth value: Lance's words, without the place in its Rust source it came from.
    (line,) = cli("--where", "width > TRUE").stderr_lines()
    assert "could not convert to literal of type 'Int32'" in line and not line.rstrip().endswith(tuple("0123456789"))
    assert ".rs:" not in line


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_a_condition_only_the_rows_values_make_fail_is_one_line_naming_it(backend: str, tmp_path: Path) -> None:
    """A remainder by a column that is 0 fails only on the rows: checked before any search, it
    passed. FAISS's DuckDB said so without naming --where, and advised a setting no one can set."""
    cli = Cli(backend, tmp_path / "db")
    paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(tmp_path / "photos")
    where = "width % (height - height) = 1"
    for args in (["--where", where], ["--search", "a dog", "--where", where]):
        result = cli(*args)
        (line,) = result.stderr_lines()
        assert result.code == 2 and f"cannot evaluate --where {where!r}: " in line, line
        assert "by zero" in line and "TRY(" not in line and "SET " not in line


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_a_number_compared_with_text_is_refused_alike_on_both_backends(backend: str, tmp_path: Path) -> None:
    """DuckDB reads width > '100' as width > 100 and LanceDB refuses it: a condition must mean
    one thing on either backend, so both refuse it, saying how to write it."""
    cli = Cli(backend, tmp_path / "db")
    paint_photo(tmp_path / "photos" / "a.jpg", seed=1)
    cli.index(tmp_path / "photos")
    for where, column, number in [("width > '100'", "width", "100"), ("iso IN ('100', 200)", "iso", "100"),
                                  ("height BETWEEN 1 AND '5000'", "height", "5000")]:  # fmt: skip
        result = cli("--where", where)
        assert result.code == 2, where
        assert result.stderr_lines() == [
            f'imagedb-{backend}.py: error: invalid --where "{where}": {column} is a number: '
            f"compare it with {number}, not '{number}' (no quotes)"
        ]
    # Text in a text column, and quotes inside a string, are what they were.
    assert cli("--where", "filename = 'a.jpg' OR filename LIKE '%width > ''1''%'", "--format", "paths").stdout.strip()


@pytest.mark.parametrize("backend", ["lancedb", "faiss"])
def test_scripts_index_through_worker_processes(backend: str, tmp_path: Path) -> None:
    """Spawned decoders re-import the script as __mp_main__: the hyphenated scripts must allow it."""
    for i in range(70):  # above the in-process threshold, so the pool is used
        paint_photo(tmp_path / "photos" / f"{i:02d}.jpg", seed=i)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    done = subprocess.run(
        [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--db", str(tmp_path / "db"),
         "--index", str(tmp_path / "photos"), *MODEL_ARGS, "--workers", "2"],
        capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "70 new, 0 updated, 0 removed, 0 unchanged, 1 failed" in done.stderr
    assert f"skipped {tmp_path / 'photos' / 'broken.jpg'}" in done.stderr


def test_a_second_indexing_process_is_refused_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    from common.locking import indexing_lock

    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    cli.index(folder)
    paint_photo(folder / "b.jpg", seed=2)
    with indexing_lock(str(cli.db)):  # another indexer holds the database
        before = snapshot(cli.db)
        result = cli("--index", folder)
        assert result.code == 1
        (line,) = result.stderr_lines()
        assert "is being indexed by process" in line and "run again" in line
        assert snapshot(cli.db) == before
        (hits,) = cli.search("--where", "width > 0")  # searching while it indexes still works
        assert [Path(r["path"]).name for r in hits["results"]] == ["a.jpg"]
    assert cli("--index", folder).summary()["new"] == 1  # once it has finished


def test_a_second_indexing_process_can_wait_for_the_first(cli: Cli, tmp_path: Path) -> None:
    import threading
    import time

    from common.locking import indexing_lock

    folder = tmp_path / "photos"
    paint_photo(folder / "a.jpg", seed=1)
    cli.index(folder)
    paint_photo(folder / "b.jpg", seed=2)
    held, release = threading.Event(), threading.Event()

    def other_indexer() -> None:
        with indexing_lock(str(cli.db)):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_indexer)
    thread.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    result = cli("--index", folder, "--wait")
    thread.join()
    assert result.code == 0 and time.monotonic() - started >= 0.9, "it waited for the lock"
    assert "waiting for process" in result.stderr and result.summary()["new"] == 1


TORCH_IMPORT_WATCH = """
import builtins, os, sys
seen = []
plain_import = builtins.__import__
def watching_import(name, *args, **kwargs):
    if name == "torch" and "torch" not in sys.modules and not seen:
        seen.append(os.environ.get("OMP_WAIT_POLICY", "unset"))
    return plain_import(name, *args, **kwargs)
builtins.__import__ = watching_import
from common.embedding import Embedder, ModelSpec
Embedder(ModelSpec.from_options(None, sys.argv[1], sys.argv[2]), "cpu")
print(seen[0])
"""


@pytest.mark.parametrize("users_choice", [None, "ACTIVE"])
def test_torch_loads_with_idle_threads_asleep_unless_the_user_chose(users_choice: str | None) -> None:
    """The policy is read once, when torch loads OpenMP: it must be in the environment by then."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | {"PYTHONPATH": str(REPO)}
    if users_choice:
        env["OMP_WAIT_POLICY"] = users_choice
    done = subprocess.run(
        [sys.executable, "-c", TORCH_IMPORT_WATCH, str(TINY_WEIGHTS), str(TINY_CONFIG)],
        capture_output=True, text=True, check=False, env=env, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (users_choice or "PASSIVE")
