"""A folder indexed by one name and named another way later (a symlink, a bind mount, another
case on macOS's disk) is the same folder to --under, --index and --forget: found, not indexed
twice, forgotten. Symlinks here: a bind mount or a case-insensitive disk is the same comparison
of device and inode, which this machine's tests cannot set up."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, paint_photo


def album_tree(root: Path) -> Path:
    for seed, name in enumerate(["2023/beach.jpg", "2023/harbour.jpg", "2024/museum.jpg", "2024/winter/snow.jpg"]):
        paint_photo(root / name, seed=700 + seed)
    return root


def listed(cli: Cli, *args: str) -> list[str]:
    result = cli(*args, "--format", "paths")
    assert result.code == 0, result.stderr
    return sorted(result.stdout.splitlines())


def test_a_folder_named_through_a_symlink_is_the_folder_indexed(cli: Cli, tmp_path: Path) -> None:
    real = album_tree(tmp_path / "disk2" / "photos")
    link = tmp_path / "photos"
    link.symlink_to(real)
    cli.index(real)
    indexed = sorted(cli.records())
    assert all(path.startswith(str(real)) for path in indexed)

    # --under by the link's name finds the rows of the real one (before: refused as not indexed).
    under = cli("--under", str(link / "2024"), "--format", "paths")
    assert under.code == 0, under.stderr
    assert sorted(under.stdout.splitlines()) == [
        str(real / "2024" / "museum.jpg"),
        str(real / "2024" / "winter" / "snow.jpg"),
    ]
    assert f"{link / '2024'} is the folder this index holds as {real / '2024'}: taken by that name" in under.stderr
    (found,) = cli.search("--search", "a photo of a dog", "--under", str(link / "2023"))
    assert sorted(Path(hit["path"]).name for hit in found["results"]) == ["beach.jpg", "harbour.jpg"]
    (listing,) = cli.search("--under", str(link / "2023"))
    assert listing["query"] == f"under {real / '2023'}"  # what is filtered: the index's name

    # --index by the link's name: nothing is added twice, a new file lands under the indexed name.
    again = cli.index(link)
    assert again.summary()["new"] == 0 and again.summary()["unchanged"] == 4
    paint_photo(real / "2025" / "city.jpg", seed=799)
    newer = cli.index(link / "2025")  # a folder the index holds nothing of yet, under the link
    assert newer.summary()["new"] == 1
    assert sorted(cli.records()) == sorted([*indexed, str(real / "2025" / "city.jpg")])

    # --forget by the link's name forgets the rows of the real one.
    forgot = cli("--forget", str(link / "2023"))
    assert forgot.code == 0, forgot.stderr
    assert sorted(cli.records()) == [
        str(real / p) for p in ["2024/museum.jpg", "2024/winter/snow.jpg", "2025/city.jpg"]
    ]


def test_a_folder_indexed_through_a_symlink_is_found_by_its_real_name(cli: Cli, tmp_path: Path) -> None:
    real = album_tree(tmp_path / "disk2" / "photos")
    link = tmp_path / "photos"
    link.symlink_to(real)
    cli.index(link)

    assert listed(cli, "--under", str(real / "2024" / "winter")) == [str(link / "2024" / "winter" / "snow.jpg")]
    assert cli.index(real).summary()["new"] == 0
    assert all(path.startswith(str(link)) for path in cli.records())


def test_a_folder_new_to_the_index_takes_the_name_its_parent_has_there(cli: Cli, tmp_path: Path) -> None:
    """The link's 2024 is a folder the index holds nothing of, by either name: its parent is,
    by the real name, so that is where its rows go. A path that is no folder under either name
    is still refused as a typo."""
    real = album_tree(tmp_path / "disk2" / "photos")
    link = tmp_path / "photos"
    link.symlink_to(real)
    cli.index(real / "2023")
    cli.index(link / "2024")
    assert all(path.startswith(str(real)) for path in cli.records())
    assert len(cli.records()) == 4

    typo = cli("--under", str(link / "2032"))
    assert typo.code == 2
    assert typo.stderr_lines()[-1].endswith(
        f"--under {link / '2032'}: nothing is indexed under it (there is no such folder; did you mean {link / '2023'}?)"
    )


def test_an_exclusion_named_through_the_symlink_still_leaves_its_folder_out(cli: Cli, tmp_path: Path) -> None:
    real = album_tree(tmp_path / "disk2" / "photos")
    link = tmp_path / "photos"
    link.symlink_to(real)
    cli.index(real)
    # The link's name is taken as the real one's: the pattern under the link's name must follow.
    again = cli.index(link, extra=("--exclude", str(link / "2024" / "winter")))
    assert again.summary()["removed"] == 1
    assert str(real / "2024" / "winter" / "snow.jpg") not in cli.records() and len(cli.records()) == 3


def test_the_look_for_other_names_is_bounded_in_time(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """On a slow share every folder's stat is a round trip: past LOOK_SECONDS the look stops,
    says so, and the name is taken as given (as before this look existed), not waited on."""
    real = album_tree(tmp_path / "disk2" / "photos")
    link = tmp_path / "photos"
    link.symlink_to(real)
    cli.index(real)
    monkeypatch.setattr("common.folder_names.LOOK_SECONDS", -1.0)
    refused = cli("--under", str(link / "2024"))
    assert refused.code == 2 and "compared 0 of the index's" in refused.stderr
    assert f"--under {link / '2024'}: nothing is indexed under it" in refused.stderr
