"""--under DIR: searches, listings, --stats and --duplicates narrowed to the files under folders,
on both backends, with folder names that a LIKE pattern or a naive prefix would get wrong."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, paint_photo, share_not_answering


@pytest.fixture
def trips(tmp_path: Path) -> Path:
    """Folders whose names differ from ``trip_2023`` by one character a LIKE pattern or a plain
    prefix lets through, a subfolder, and names holding a quote and an accent."""
    root = tmp_path / "trips"
    for seed, name in enumerate(
        [
            "trip_2023/beach.jpg",
            "trip_2023/day 2/harbour.jpg",  # a subfolder, with a space
            "trip-2023/museum.jpg",  # 'trip_2023/%' matches it: _ is LIKE's any-character
            "trip_2023 extra/bonus.jpg",  # starts with 'trip_2023', sorts before 'trip_2023/'
            "trip_20230/later.jpg",  # starts with 'trip_2023', sorts after the folder's range
            "o'brien/é/pub.jpg",
            "o'brien/éa/castle.jpg",
        ]
    ):
        paint_photo(root / name, seed=500 + seed)
    return root


def listed(cli: Cli, root: Path, *args: str) -> list[str]:
    """The files a command lists (``--format paths``), relative to ``root``, sorted."""
    result = cli(*args, "--format", "paths")
    assert result.code == 0, result.stderr
    return sorted(str(Path(p).relative_to(root)) for p in result.stdout.splitlines())


def test_under_keeps_exactly_the_files_under_the_folders(cli: Cli, trips: Path) -> None:
    cli.index(trips)

    the_trip = ["trip_2023/beach.jpg", "trip_2023/day 2/harbour.jpg"]
    assert listed(cli, trips, "--under", str(trips / "trip_2023")) == the_trip
    assert listed(cli, trips, "--under", f"{trips}/trip_2023/") == the_trip  # a trailing slash changes nothing
    assert listed(cli, trips, "--under", str(trips / "o'brien" / "é")) == ["o'brien/é/pub.jpg"]
    # Several folders, and a file's own path.
    assert listed(cli, trips, "--under", str(trips / "trip_2023" / "day 2"), str(trips / "trip-2023" / "museum.jpg")) == [
        "trip-2023/museum.jpg", "trip_2023/day 2/harbour.jpg"
    ]  # fmt: skip
    assert len(listed(cli, trips, "--under", str(trips.parent), "--limit", "100")) == 7

    # It narrows a search (alongside --where) and says so in the listing's label.
    (found,) = cli.search("--search", "a photo of a dog", "--under", str(trips / "trip_2023"), "--limit", "10")
    assert sorted(Path(h["path"]).name for h in found["results"]) == ["beach.jpg", "harbour.jpg"]
    assert all(h["score"] is not None for h in found["results"])
    (found,) = cli.search("--text", "jpg", "--under", str(trips / "trip_2023"), "--where", "filename = 'beach.jpg'")
    assert [Path(h["path"]).name for h in found["results"]] == ["beach.jpg"]
    obrien = trips / "o'brien"
    (listing,) = cli.search("--under", str(obrien))
    assert listing["query"] == f"under {obrien}"
    assert sorted(Path(h["path"]).name for h in listing["results"]) == ["castle.jpg", "pub.jpg"]

    stats = cli("--stats", "--under", str(trips / "trip_2023"), "--format", "json")
    assert stats.code == 0, stats.stderr
    assert (stats.json()["files"], stats.json()["where"]) == (2, f"under {trips / 'trip_2023'}")


def test_under_a_relative_folder_is_taken_from_where_the_command_runs(cli: Cli, trips: Path, monkeypatch) -> None:
    cli.index(trips)
    monkeypatch.chdir(trips / "trip_2023")
    assert listed(cli, trips, "--under", "day 2") == ["trip_2023/day 2/harbour.jpg"]
    assert listed(cli, trips, "--under", ".") == ["trip_2023/beach.jpg", "trip_2023/day 2/harbour.jpg"]


def test_duplicates_under_a_folder_leave_out_copies_elsewhere(cli: Cli, trips: Path) -> None:
    shutil.copy(trips / "trip_2023" / "beach.jpg", trips / "trip-2023" / "beach-copy.jpg")
    shutil.copy(trips / "trip_2023" / "beach.jpg", trips / "trip_2023" / "day 2" / "beach-again.jpg")
    cli.index(trips)

    everywhere = cli("--duplicates", "--format", "json").json()
    assert [len(group["paths"]) for group in everywhere["exact"]] == [3]
    under = cli("--duplicates", "--under", str(trips / "trip_2023"), "--format", "json")
    assert under.code == 0, under.stderr
    assert under.json()["exact"] == [
        {"paths": [str(trips / "trip_2023" / "beach.jpg"), str(trips / "trip_2023" / "day 2" / "beach-again.jpg")]}
    ]


def test_a_folder_the_index_holds_nothing_of_is_refused(cli: Cli, trips: Path) -> None:
    (trips / "not indexed yet").mkdir()
    cli.index(trips / "trip_2023")

    typo = cli("--search", "a photo of a dog", "--under", str(trips / "trip_202"))
    assert typo.code == 2 and typo.stdout == ""
    assert typo.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: --under {trips / 'trip_202'}: nothing is indexed under it (there is no such "
        f"folder; did you mean {trips / 'trip_2023'}?)"
    ]
    # One folder of several is enough to refuse: the user meant something by it.
    unindexed = cli("--stats", "--under", str(trips / "trip_2023"), str(trips / "not indexed yet"))
    assert unindexed.code == 2
    assert unindexed.stderr_lines()[-1].endswith(
        f"--under {trips / 'not indexed yet'}: nothing is indexed under it (index it with --index DIR first)"
    )
    # A file is no folder: "there is no such folder" sent the user looking for a typo.
    (trips / "notes.txt").write_text("packing list")
    for name, why in (("trip-2023/museum.jpg", "a file not indexed yet: --index it first"),
                      ("notes.txt", "a file of a kind not indexed")):  # fmt: skip
        file = cli("--where", "width > 0", "--under", str(trips / name))
        assert file.code == 2 and file.stderr_lines()[-1].endswith(f"nothing is indexed under it ({why})")


def test_export_writes_only_the_rows_kept_and_lists_nothing(cli: Cli, trips: Path, tmp_path: Path) -> None:
    """--export with --under (or --where) writes those rows only, as --stats counts them: it had
    written the whole library, and listed the matches on stdout besides."""
    from common.export import read_export

    cli.index(trips)
    result = cli("--export", tmp_path / "trip.jsonl", "--under", str(trips / "trip_2023"))
    assert result.code == 0 and result.stdout == "", result.stderr
    exported = read_export(str(tmp_path / "trip.jsonl"))
    assert [e["metadata"]["path"] for e in exported] == [
        str(trips / "trip_2023" / "beach.jpg"), str(trips / "trip_2023" / "day 2" / "harbour.jpg")
    ]  # fmt: skip
    assert f"exported 2 images to {tmp_path / 'trip.jsonl'} (matching: under {trips / 'trip_2023'})" in result.stderr

    result = cli("--export", tmp_path / "castle.pkl", "--where", "filename = 'castle.jpg'")
    assert result.code == 0 and result.stdout == "", result.stderr
    assert [e["metadata"]["filename"] for e in read_export(str(tmp_path / "castle.pkl"))] == ["castle.jpg"]
    everything = cli("--export", tmp_path / "all.jsonl")
    assert everything.code == 0 and len(read_export(str(tmp_path / "all.jsonl"))) == 7


def test_a_where_condition_typed_on_linux_matches_the_names_a_mac_wrote(cli: Cli, tmp_path: Path) -> None:
    """``path LIKE '%Café%'`` typed (one character for 'é') matched no file a Mac named ('e' and
    a combining accent), silently, where --under and --text found them. Either form now matches
    either, in every comparison of text (of a column in a change of case too, as
    ``lower(path) LIKE``); what a negation leaves out it leaves out in both."""
    import unicodedata

    nfc, nfd = (functools.partial(unicodedata.normalize, form) for form in ("NFC", "NFD"))
    mac = paint_photo(tmp_path / "photos" / nfd("Café") / nfd("crème.jpg"), seed=1)
    linux = paint_photo(tmp_path / "photos" / nfc("Été") / nfc("brûlée.jpg"), seed=2)
    plain = paint_photo(tmp_path / "photos" / "other" / "b.jpg", seed=3)
    assert cli.index(tmp_path / "photos").summary()["new"] == 3
    root = tmp_path / "photos"
    names = {mac: str(mac.relative_to(root)), linux: str(linux.relative_to(root)), plain: "other/b.jpg"}
    for typed in (nfc, nfd):  # typed either way, each finds the name written either way
        assert listed(cli, root, "--where", typed("path LIKE '%Café%'")) == [names[mac]]
        assert listed(cli, root, "--where", typed("folder ILIKE '%/été'")) == [names[linux]]
        assert listed(cli, root, "--where", typed("lower(path) LIKE '%/café/%'")) == [names[mac]]
        assert listed(cli, root, "--where", typed("filename = 'crème.jpg'")) == [names[mac]]
        assert listed(cli, root, "--where", typed("filename IN ('brûlée.jpg', 'crème.jpg')")) == sorted(
            [names[mac], names[linux]]
        )
        assert listed(cli, root, "--where", typed("path NOT LIKE '%Café%'")) == sorted([names[linux], names[plain]])
        assert listed(cli, root, "--where", typed("filename != 'crème.jpg' AND filename NOT IN ('brûlée.jpg')")) == [
            names[plain]
        ]
    result = cli("--where", nfc("path LIKE '%Café%'"), "--format", "json")
    assert json.loads(result.stdout)[0]["query"] == nfc("path LIKE '%Café%'"), "labelled as typed"


def test_a_folder_a_mac_named_is_found_by_the_name_typed_on_linux(cli: Cli, tmp_path: Path) -> None:
    """A Mac writes 'é' as 'e' and a combining accent (NFD) on the drives and shares it copies
    to; a keyboard types it as one character (NFC). Linux takes names as bytes, so 'Café' typed
    was 'folder not found' though ls shows the same letters. Each name is taken as the disk
    writes it: indexing, --under, --exclude, --forget, a query image, --palette and --near by a
    photo."""
    import unicodedata

    typed, on_disk = (unicodedata.normalize(form, "Café Été") for form in ("NFC", "NFD"))
    assert typed != on_disk
    folder = tmp_path / "photos" / on_disk
    photo = paint_photo(folder / unicodedata.normalize("NFD", "crème.jpg"), seed=1)
    paint_photo(tmp_path / "photos" / "other" / "b.jpg", seed=2)
    as_typed = tmp_path / "photos" / typed
    assert not as_typed.exists()

    indexed = cli.index(as_typed)
    assert indexed.code == 0 and indexed.summary()["new"] == 1, indexed.stderr
    assert list(cli.records()) == [str(photo)], "the row holds the name the disk has"
    cli.index(tmp_path / "photos")  # by the other name: the same row, not a second one
    assert sorted(cli.records()) == sorted([str(photo), str(tmp_path / "photos" / "other" / "b.jpg")])
    assert listed(cli, folder, "--under", str(as_typed)) == [photo.name]
    query = as_typed / unicodedata.normalize("NFC", "crème.jpg")
    (found,) = cli.search("--search", str(query), "--limit", "1")
    assert found["results"][0]["path"] == str(photo) and found["results"][0]["score"] > 0.999
    (palette,) = cli.search("--palette", str(query), "--limit", "1")
    assert palette["results"][0]["path"] == str(photo)
    assert "the file records no GPS position" in cli("--near", str(query)).stderr, "read as the photo, not a place"
    left_out = cli.index(tmp_path / "photos", extra=("--exclude", typed))  # a name typed, as a pattern
    assert left_out.summary()["removed"] == 1 and list(cli.records()) == [str(tmp_path / "photos" / "other" / "b.jpg")]
    cli.index(tmp_path / "photos")
    forgot = cli("--forget", str(as_typed))
    assert forgot.code == 0 and list(cli.records()) == [str(tmp_path / "photos" / "other" / "b.jpg")]


def test_under_a_share_that_stopped_answering_does_not_hang(
    cli: Cli, trips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name the index does not hold, or one with accents, is looked for on the disk: on a
    share that stopped answering (each look blocks here as on a hard NFS mount) a search under it
    waits --time-limit at most, then takes the names given: the rows under one are found, a
    typo is refused saying why."""
    cli.index(trips)

    def listed_in_time(*args: str) -> Any:
        return cli.in_time(*args, "--time-limit", "1", "--format", "paths")

    with share_not_answering(monkeypatch, trips):
        typo = listed_in_time("--under", str(trips / "trip_2024"))
        assert typo.code == 2, typo.stderr
        assert "nothing is indexed under it (its disk did not answer in 1 s" in typo.stderr
        accented = listed_in_time("--under", str(trips / "o'brien" / "é"))
        assert accented.code == 0, accented.stderr
        assert [Path(p).name for p in accented.stdout.splitlines()] == ["pub.jpg"]
