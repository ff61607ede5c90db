"""Real files from ../shared/data: text-search precision, EXIF, orientation, formats, HEIC.

Skipped cleanly when the shared data folder is absent.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import exifread
import exifread.utils
import numpy as np
import pytest

from conftest import BACKENDS, TINY_CONFIG, TINY_WEIGHTS, Cli, shared

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# --- text → image precision on CIFAR-10 test, through the real CLI ----------------------------
@pytest.fixture(scope="module")
def cifar_indexes(tmp_path_factory) -> dict[str, Cli]:
    test_split = shared("cifar10", "test")
    clis = {}
    for backend in BACKENDS:
        c = Cli(backend, tmp_path_factory.mktemp("cifar") / f"db-{backend}")
        result = c.index(test_split, extra=("--batch", "256", "-q"))
        assert result.code == 0
        clis[backend] = c
    return clis


@pytest.mark.slow
def test_text_search_precision_at_10_on_cifar10(cifar_indexes: dict[str, Cli]) -> None:
    queries = [f"a photo of a {name}" for name in CIFAR_CLASSES]
    rankings = {}
    for backend, c in cifar_indexes.items():
        results = c.search("--search", *queries, "--limit", "10")
        hits = [
            Path(r["path"]).parent.name == name
            for name, result in zip(CIFAR_CLASSES, results, strict=True)
            for r in result["results"]
        ]
        precision = float(np.mean(hits))
        assert len(hits) == 100
        assert precision >= 0.7, f"{backend}: precision@10 = {precision:.3f}"
        rankings[backend] = results
    for lance, faiss in zip(rankings["lancedb"], rankings["faiss"], strict=True):
        lance_scores = [r["score"] for r in lance["results"]]
        faiss_scores = [r["score"] for r in faiss["results"]]
        np.testing.assert_allclose(lance_scores, faiss_scores, atol=1e-4)

        # Same ranking; results whose scores tie may come in either order.
        def tie_insensitive(result: dict) -> list[tuple[float, str]]:
            return sorted((round(r["score"], 4), r["path"]) for r in result["results"])

        assert tie_insensitive(lance) == tie_insensitive(faiss)


def likeness(results: list[dict], photo: str, vectors: dict[str, np.ndarray]) -> float:
    """How much the hits look like ``photo``: their mean cosine to it."""
    return float(np.mean([vectors[r["path"]] @ vectors[photo] for r in results]))


@pytest.mark.slow
@pytest.mark.parametrize(("source", "wanted"), [("cat", "dog"), ("automobile", "truck")])
def test_a_photo_less_what_it_shows_plus_something_else_finds_that_else_near_the_photo(
    cifar_indexes: dict[str, Cli], source: str, wanted: str
) -> None:
    """``--search cat.jpg --subtract "a photo of a cat" --add "a photo of a dog"`` finds more dogs
    than the photo alone does, and dogs that look more like the photo than a search for the words
    alone finds: the picture still counts. Ten photos of each source class, both backends."""
    for backend, c in cifar_indexes.items():
        store = c.store()
        wanted_plain = wanted_combined = 0
        try:
            for photo in sorted(shared("cifar10", "test", source).iterdir())[:10]:
                query = str(photo)
                plain, combined, words = (
                    c.search("--search", *args, "--limit", "10")[0]["results"]
                    for args in (
                        (query,),
                        (query, "--subtract", f"a photo of a {source}", "--add", f"a photo of a {wanted}"),
                        (f"a photo of a {wanted}",),
                    )
                )
                wanted_plain += sum(Path(r["path"]).parent.name == wanted for r in plain)
                wanted_combined += sum(Path(r["path"]).parent.name == wanted for r in combined)
                vectors = store.get_vectors([query] + [r["path"] for r in combined + words])
                assert likeness(combined, query, vectors) > likeness(words, query, vectors), (
                    f"{backend}: {photo.name} left out of its own search"
                )
        finally:
            store.close()
        assert wanted_combined >= wanted_plain + 20, f"{backend}: {wanted_plain} vs {wanted_combined} {wanted}s in 100"


# --- EXIF on real camera files ----------------------------------------------------------------
def exifread_reference(path: Path) -> dict:
    """What exifread itself reports, converted independently of imagedb's code."""
    with open(path, "rb") as handle:
        tags = exifread.process_file(handle, details=False)
    reference = {}
    if "Image Make" in tags:
        reference["make"] = str(tags["Image Make"].values).strip().strip("\x00").strip()
    if "Image Model" in tags:
        reference["model"] = str(tags["Image Model"].values).strip().strip("\x00").strip()
    if "EXIF DateTimeOriginal" in tags:
        with contextlib.suppress(ValueError):
            taken = str(tags["EXIF DateTimeOriginal"].values).strip()
            reference["date_taken"] = datetime.strptime(taken, "%Y:%m:%d %H:%M:%S").isoformat()
            if "EXIF OffsetTimeOriginal" in tags:  # ISO 8601 keeps the UTC offset the camera recorded
                reference["date_taken"] += str(tags["EXIF OffsetTimeOriginal"].values).strip()
    if "Image Orientation" in tags:
        reference["orientation"] = tags["Image Orientation"].values[0]
    try:
        reference["gps"] = exifread.utils.get_gps_coords(tags)
    except Exception:
        reference["gps"] = None
    return reference


@pytest.fixture(scope="module")
def camera_indexes(tmp_path_factory) -> dict[str, Cli]:
    """The real camera set indexed by both backends."""
    camera = shared("camera")
    clis = {}
    for backend in BACKENDS:
        clis[backend] = Cli(backend, tmp_path_factory.mktemp("camera") / f"db-{backend}")
        clis[backend].index(camera, extra=("-q",))
    return clis


@pytest.fixture(scope="module")
def camera_records(camera_indexes: dict[str, Cli]) -> dict[str, dict]:
    return camera_indexes["faiss"].records()


def test_real_phone_and_camera_positions_name_their_places(camera_indexes: dict[str, Cli]) -> None:
    """Every real photo with a GPS position is placed where it was taken (checked against a map),
    on both backends, and a metadata search for a city finds exactly its photos."""
    camera = shared("camera")
    expected = {
        "jpg/gps/DSCN0010.jpg": ("Arezzo", "Tuscany", "Italy"),
        "jpg/tests/87_OSError.jpg": ("Florence", "Tuscany", "Italy"),
        "jpg/hdr/iphone_hdr_NO.jpg": ("Madrid", "Madrid", "Spain"),  # Moncloa: a district's centre is nearer
        "jpg/mobile/HMD_Nokia_8.3_5G.jpg": ("Helsinki", "Uusimaa", "Finland"),  # the harbour, at 60° N
        "heic/IMG_5195.HEIC": ("Blue Springs", "Missouri", "United States"),
        "jpg/Kodak_CX7530.jpg": ("Nakuru", "Nakuru County", "Kenya"),
        "jpg/tests/67-0_length_string.jpg": ("Gummersbach", "North Rhine-Westphalia", "Germany"),
    }
    for backend, cli in camera_indexes.items():
        records = cli.records()
        placed = {p for p, r in records.items() if r["country"]}
        assert placed == {p for p, r in records.items() if r["gps_latitude"] is not None}, backend
        for name, place in expected.items():
            record = records[str(camera / name)]
            assert (record["city"], record["state"], record["country"]) == place, (backend, name)
        (arezzo,) = cli.search("--text", "arezzo", "--limit", "50")
        assert sorted(Path(h["path"]).name for h in arezzo["results"]) == sorted(
            p.name for p in (camera / "jpg" / "gps").glob("DSCN*.jpg")
        ), backend


def test_near_finds_the_real_photos_taken_around_a_place_or_another_photo(camera_indexes: dict[str, Cli]) -> None:
    """--near Arezzo (a name), --near one of the Arezzo photos (its EXIF position) and --near a
    position in Madrid each find exactly the real photos taken there, on both backends."""
    camera = shared("camera")
    arezzo = sorted(str(p) for p in (camera / "jpg" / "gps").glob("DSCN*.jpg"))
    madrid = sorted(str(camera / "jpg" / "hdr" / name) for name in ("iphone_hdr_NO.jpg", "iphone_hdr_YES.jpg"))
    for backend, cli in camera_indexes.items():
        for near, radius, expected in [
            ("Arezzo", "5", arezzo),
            (arezzo[0], "2", arezzo),
            ("40.4470,-3.7248", "1", madrid),
        ]:
            result = cli("--near", near, "--radius", radius, "--format", "paths", "--limit", "100")
            assert result.code == 0, result.stderr
            assert sorted(result.stdout.split()) == expected, (backend, near)


def test_stats_of_the_real_camera_set_agree_with_its_records(camera_indexes: dict[str, Cli]) -> None:
    """--stats counts the real set's HEIFs, years, cameras and places as its records hold them,
    the same on both backends, and a --where narrows them to one country's photos."""
    from common.camera_names import camera_name

    overviews = {}
    for backend, cli in camera_indexes.items():
        records = list(cli.records().values())
        stats = cli("--stats", "--format", "json").json()
        assert stats["files"] == len(records), backend
        assert stats["formats"]["counts"] == dict(Counter(r["format"] for r in records)), backend
        assert stats["formats"]["counts"]["HEIF"] >= 4, backend  # the phones' HEIC and HEIF files
        assert stats["years"]["counts"] == dict(Counter(r["date_taken"][:4] for r in records if r["date_taken"]))
        assert stats["cameras"]["counts"] == dict(Counter(camera_name(r) for r in records if camera_name(r)))
        # A model that starts with one of its make's words is named alone: Kodak's make is
        # 'EASTMAN KODAK COMPANY', its models 'KODAK DC240 ZOOM DIGITAL CAMERA'.
        kodaks = {name for name in stats["cameras"]["counts"] if "KODAK" in name}
        assert "KODAK DC240 ZOOM DIGITAL CAMERA" in kodaks, backend
        assert not any(name.startswith("EASTMAN") for name in kodaks), kodaks
        # A make's legal form and trade are left off: 'CASIO COMPUTER CO.,LTD' EX-Z750 is CASIO EX-Z750.
        assert {"CASIO EX-Z750", "CASIO EX-M2", "OLYMPUS E-P3", "SANYO SR6"} <= set(stats["cameras"]["counts"])
        assert not [name for name in stats["cameras"]["counts"] if re.search(r"(?i)\b(co|corp|ltd|inc)\b", name)]
        assert stats["cities"]["counts"]["Arezzo, Italy"] == 9, backend
        italy = cli("--stats", "--where", "country = 'Italy'", "--format", "json").json()
        assert italy["files"] == sum(r["country"] == "Italy" for r in records), backend
        assert set(italy["countries"]["counts"]) == {"Italy"}, backend
        overviews[backend] = {
            k: v for k, v in stats.items() if k not in ("db", "backend", "index_bytes", "last_indexed")
        }
    assert overviews["lancedb"] == overviews["faiss"]


def test_exif_matches_exifread_on_real_camera_files(camera_records: dict[str, dict]) -> None:
    camera = shared("camera")
    sample = (
        sorted(camera.glob("jpg/*.jpg")) + sorted(camera.glob("jpg/gps/*.jpg")) + sorted(camera.glob("heic/**/*.HEIC"))
    )
    sample = [p for p in sample if str(p) in camera_records]
    assert len(sample) >= 25
    checked = {"make": 0, "model": 0, "date_taken": 0, "orientation": 0, "gps": 0}
    for path in sample:
        record, reference = camera_records[str(path)], exifread_reference(path)
        for key in ("make", "model", "date_taken", "orientation"):
            if reference.get(key) not in (None, ""):
                assert record[key] == reference[key], (path.name, key)
                checked[key] += 1
        if reference.get("gps"):
            latitude, longitude = reference["gps"]
            assert record["gps_latitude"] == pytest.approx(latitude, abs=1e-6), path.name
            assert record["gps_longitude"] == pytest.approx(longitude, abs=1e-6), path.name
            checked["gps"] += 1
    assert (
        checked["make"] >= 20 and checked["date_taken"] >= 15 and checked["gps"] >= 8 and checked["orientation"] >= 10
    ), checked


def test_metadata_search_matches_the_same_rows_on_both_backends_for_every_kind_of_word(
    camera_indexes: dict[str, Cli], camera_records: dict[str, dict]
) -> None:
    """LanceDB's native BM25 and the FAISS backend's Python BM25 agree on real EXIF text."""
    import random

    from common.text_search import tokenize

    words = sorted({t for r in camera_records.values() for t in tokenize(r["search_text"] or "")})
    queries = [*random.Random(0).sample(words, 80), "f/2.8", "Crémieux11", "CREMIEUX11", "iPhone 13", "canon nikon",
               '"apple iphone"', '"iphone 13" nikon', "canon canon", '"pro max"']  # fmt: skip
    lance, faiss = camera_indexes["lancedb"].store(), camera_indexes["faiss"].store()
    assert lance.get_signatures() == faiss.get_signatures()
    for query in queries:
        lance_hits = {h.record["path"]: round(h.score, 3) for h in lance.search_by_text(query, 500)}
        faiss_hits = {h.record["path"]: round(h.score, 3) for h in faiss.search_by_text(query, 500)}
        assert lance_hits and lance_hits == faiss_hits, query


def test_records_are_identical_on_both_backends(camera_indexes: dict[str, Cli]) -> None:
    lance, faiss = camera_indexes["lancedb"].records(), camera_indexes["faiss"].records()
    assert lance.keys() == faiss.keys()
    for path in lance:
        differing = {k for k in lance[path] if k != "indexed_at" and lance[path][k] != faiss[path][k]}
        assert not differing, (path, differing)


def test_exif_details_on_known_files(camera_records: dict[str, dict]) -> None:
    camera = shared("camera")
    canon = camera_records[str(camera / "jpg" / "Canon_40D.jpg")]
    assert (canon["make"], canon["model"]) == ("Canon", "Canon EOS 40D")
    assert canon["date_taken"] == "2008-05-30T15:56:01"
    assert (
        canon["iso"] == 100
        and canon["f_number"] == pytest.approx(7.1)
        and canon["exposure_time"] == pytest.approx(1 / 160)
    )
    assert canon["focal_length"] == pytest.approx(135)
    assert canon["software"] == "GIMP 2.4.5"
    assert json.loads(canon["exif_json"])["EXIF ExposureTime"] == "1/160"
    gps = camera_records[str(camera / "jpg" / "gps" / "DSCN0010.jpg")]
    assert gps["gps_latitude"] == pytest.approx(43.467448, abs=1e-5) and gps["gps_longitude"] == pytest.approx(
        11.885127, abs=1e-5
    )
    assert gps["gps_altitude"] is None or isinstance(gps["gps_altitude"], float)
    iphone = camera_records[str(camera / "heic" / "IMG_5195.HEIC")]
    assert (iphone["make"], iphone["model"]) == ("Apple", "iPhone 11 Pro Max")
    assert "iPhone 11 Pro Max" in (iphone["lens"] or "")


def test_the_real_compacts_descriptions_of_themselves_are_no_description(camera_records: dict[str, dict]) -> None:
    """The camera set's Olympus, Sanyo, Konica Minolta and Samsung compacts wrote their maker's
    name as ImageDescription: the rows hold no description (their EXIF keeps the tag), and the
    descriptions people wrote are there."""
    from common.camera_defaults import is_camera_default

    written = {
        path: json.loads(r["exif_json"] or "{}").get("Image ImageDescription", "") for path, r in camera_records.items()
    }
    by_cameras = [path for path, text in written.items() if is_camera_default(text)]
    assert len(by_cameras) >= 6, by_cameras
    assert all(camera_records[path]["description"] is None for path in by_cameras)
    by_people = [path for path, text in written.items() if text.strip() and not is_camera_default(text)]
    assert len(by_people) >= 5 and all(camera_records[path]["description"] for path in by_people)


def test_user_comments_are_decoded_text(camera_records: dict[str, dict]) -> None:
    comments = [r["user_comment"] for r in camera_records.values() if r["user_comment"]]
    assert comments, "the camera set has files with user comments"
    assert all(isinstance(c, str) and "\x00" not in c and not c.startswith("b'") for c in comments)


def test_invalid_exif_does_not_stop_indexing(camera_records: dict[str, dict]) -> None:
    invalid = shared("camera", "jpg", "invalid")
    files = sorted(invalid.glob("*.jpg"))
    assert files and all(str(f) in camera_records for f in files)


# --- orientation ------------------------------------------------------------------------------
def upright_by_exif_table(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright per the EXIF orientation table (independent of Pillow's code)."""
    return {
        1: lambda a: a,
        2: np.fliplr,
        3: lambda a: np.rot90(a, 2),
        4: np.flipud,
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }[orientation](pixels)


def test_rotated_orientations_embed_like_their_upright_twins(tmp_path: Path) -> None:
    """Each orientation_N file (its own digit painted in) against its pixels turned upright by hand."""
    from PIL import Image

    source = shared("camera", "jpg", "orientation")
    folder = tmp_path / "orientation"
    folder.mkdir()
    for n in range(1, 9):
        for kind in ("landscape", "portrait"):
            original = source / f"{kind}_{n}.jpg"
            (folder / original.name).write_bytes(original.read_bytes())
            with Image.open(original) as raw:
                twin = upright_by_exif_table(np.asarray(raw.convert("RGB")), n)
            Image.fromarray(np.ascontiguousarray(twin)).save(folder / f"twin-{kind}_{n}.png")
    c = Cli("lancedb", tmp_path / "db")
    c.index(folder, extra=("-q",))
    records = c.records()
    store = c.store()
    vectors = store.get_vectors(sorted(records))
    for n in range(1, 9):
        for kind in ("landscape", "portrait"):
            rotated, twin = str(folder / f"{kind}_{n}.jpg"), str(folder / f"twin-{kind}_{n}.png")
            assert records[rotated]["orientation"] == n
            assert (records[rotated]["width"], records[rotated]["height"]) == (
                records[twin]["width"],
                records[twin]["height"],
            )
            assert (records[rotated]["width"] > records[rotated]["height"]) == (kind == "landscape")
            assert float(vectors[rotated] @ vectors[twin]) >= 0.99, (rotated, float(vectors[rotated] @ vectors[twin]))

    # Control: the stored pixels without the orientation applied really do embed differently,
    # so the check above can fail.
    from common.embedding import Embedder, ModelSpec
    from conftest import TINY_CONFIG, TINY_WEIGHTS

    embedder = Embedder(ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG)), "cpu")
    for n in (3, 6, 8):
        with Image.open(folder / f"landscape_{n}.jpg") as raw:
            unrotated = embedder.embed_images([raw.convert("RGB")])[0]
        assert float(unrotated @ vectors[str(folder / f"twin-landscape_{n}.png")]) < 0.97


# --- formats ----------------------------------------------------------------------------------
def test_search_text_is_rebuilt_exactly_from_the_stored_record(camera_indexes: dict[str, Cli], formats_index) -> None:
    """--check compares each row's search text with what this version makes of its record, and
    --repair rewrites it from there: for real EXIF, HEIC and PNG text chunks the two must agree,
    or every healthy index would be reported out of date."""
    from common.describe import current_search_text

    clis = [*camera_indexes.values(), formats_index[0]]
    for c in clis:
        records = c.records()
        assert records
        assert all(current_search_text(r) == r["search_text"] for r in records.values())
        assert c("--check").code == 0


@pytest.fixture(scope="module", params=BACKENDS)
def formats_index(request, tmp_path_factory) -> tuple[Cli, object, list[dict]]:
    formats = shared("formats")
    c = Cli(request.param, tmp_path_factory.mktemp("formats") / "db")
    result = c(
        "--index",
        formats,
        "--model-config",
        str(__import__("conftest").TINY_CONFIG),
        "--pretrained",
        str(__import__("conftest").TINY_WEIGHTS),
    )
    manifest = json.loads((formats / "manifest.json").read_text())
    return c, result, manifest


def test_every_ok_file_is_indexed_and_every_bad_file_reported(formats_index) -> None:
    c, result, manifest = formats_index
    formats = shared("formats")
    assert result.code == 0, result.stderr
    records = c.records()
    ok = {str(formats / e["file"]) for e in manifest if e["opens_with_pillow"]}
    bad = {str(formats / e["file"]) for e in manifest if not e["opens_with_pillow"]}
    assert ok - set(records) == set()
    assert set(records) - ok == set()
    from common.failures import read_failures

    report = {f["path"]: f["reason"] for f in read_failures(str(c.db / "failures.jsonl"))}
    assert set(report) == bad
    # Every reason is in words, none a bare Python exception ("OSError: decoder error -2").
    assert all(reason.strip() and not re.match(r"[A-Za-z]*(Error|Exception):", reason) for reason in report.values())
    assert result.summary()["failed"] == len(bad)
    # Each named once at most on stderr, the first LINES_AT_MOST of them; the report has them all.
    from common.failures import LINES_AT_MOST

    said = [sum(path in line for line in result.stderr_lines()) for path in bad]
    assert max(said) == 1 and sum(said) == min(len(bad), LINES_AT_MOST)


def test_good_format_files_are_searchable(formats_index) -> None:
    """Each sampled real file finds itself first, and embedding it as a query does (decoded as
    indexing decoded it) gives the vector the index holds for it."""
    from common.cli import embedded_image
    from common.embedding import Embedder, ModelSpec

    c, _, manifest = formats_index
    formats = shared("formats")
    sample = [e for e in manifest if e["opens_with_pillow"]][::10]
    embedder = Embedder(ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG)), "cpu")
    stored = c.vectors([str(formats / e["file"]) for e in sample])
    for entry, vector in zip(sample, stored, strict=True):
        (hits,) = c.search("--search", str(formats / entry["file"]), "--limit", "5")
        top_score = hits["results"][0]["score"]
        assert top_score == pytest.approx(1.0, abs=1e-3)
        tied = [r["path"] for r in hits["results"] if r["score"] >= top_score - 1e-4]
        assert str(formats / entry["file"]) in tied
        assert float(embedded_image(embedder, str(formats / entry["file"])) @ vector) == pytest.approx(1.0, abs=1e-4)


def test_heic_files_are_indexed_with_their_metadata(camera_records: dict[str, dict]) -> None:
    heic = [r for r in camera_records.values() if r["extension"] in {"heic", "heif", "hif"}]
    assert len(heic) >= 4
    assert all(r["width"] > 0 and r["height"] > 0 for r in heic)
    assert any(r["make"] == "Apple" for r in heic)


@pytest.mark.parametrize("verbose", [False, True])
def test_decoders_chatter_stays_out_of_the_log_unless_verbose(verbose: bool, tmp_path: Path) -> None:
    """libtiff prints its complaints about odd TIFFs (hundreds of lines for these) from the
    decoding workers straight to stderr; the run reports each skipped file in one line of its own.
    A real process: the workers write to the stderr of the server they are forked from, which is
    the program's, not whatever this test process has captured since."""
    import subprocess
    import sys

    from conftest import MODEL_ARGS, REPO, SUMMARY

    folder = tmp_path / "scans"
    folder.mkdir()
    for tiff in sorted(shared("formats").glob("*/*.tif")):
        (folder / f"{tiff.parent.name}-{tiff.name}").symlink_to(tiff)
    command = [sys.executable, str(REPO / "imagedb-faiss.py"), "--index", str(folder), *MODEL_ARGS,
               "--db", str(tmp_path / "db"), "--workers", "2", *(["-v"] if verbose else [])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = SUMMARY.search(done.stderr)
    assert summary and int(summary[5]) > 0, done.stderr
    chatter = [line for line in done.stderr.splitlines() if "TIFF" in line]
    assert bool(chatter) == verbose, chatter[:3]
