"""Searching: metadata text, filters, hybrid, output formats — same rows on both backends."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
import socket
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from common import text_search
from common.text_search import BM25, FTS_OPTIONS, DocumentKeys, Postings, folded_words, in_one_form, tokenize
from conftest import BACKENDS, TINY_CONFIG, TINY_WEIGHTS, Cli, names_listed, paint_photo, raw_lance_table

CAMERAS = [
    ("canon-1.jpg", "Canon", "Canon EOS 5D", "2019:07:01 10:00:00", 1024),
    ("canon-2.jpg", "Canon", "Canon EOS R6", "2021:03:15 18:30:00", 480),
    ("nikon-1.jpg", "NIKON CORPORATION", "NIKON D750", "2018:12:24 09:15:00", 1600),
    ("fuji-1.jpg", "FUJIFILM", "X-T3", "2020:05:05 05:05:05", 320),
]


def exif_photo(path: Path, make: str, model: str, taken: str, width: int, seed: int) -> Path:
    """A generated JPEG carrying camera EXIF, written by Pillow."""
    paint_photo(path, seed, size=(width, max(64, width * 3 // 4)))
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = make, model
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
        image.save(path, exif=exif, quality=90)
    return path


@pytest.fixture
def camera_folder(tmp_path: Path) -> Path:
    root = tmp_path / "cameras"
    for seed, (name, make, model, taken, width) in enumerate(CAMERAS):
        exif_photo(root / name, make, model, taken, width, seed)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a watercolor lighthouse at dusk, highly detailed")
    paint_photo(root / "generated.png", seed=42).parent.mkdir(exist_ok=True)
    with Image.open(root / "generated.png") as image:
        image.save(root / "generated.png", pnginfo=info)
    return root


@pytest.fixture
def both(tmp_path: Path, camera_folder: Path) -> dict[str, Cli]:
    clis = {b: Cli(b, tmp_path / f"db-{b}") for b in BACKENDS}
    for c in clis.values():
        c.index(camera_folder)
    return clis


def paths_of(result: dict) -> list[str]:
    return [Path(r["path"]).name for r in result["results"]]


def test_exif_written_by_pillow_lands_in_columns(cli: Cli, camera_folder: Path) -> None:
    cli.index(camera_folder)
    record = cli.records()[str(camera_folder / "nikon-1.jpg")]
    assert record["make"] == "NIKON CORPORATION"
    assert record["model"] == "NIKON D750"
    assert record["date_taken"] == "2018-12-24T09:15:00"
    assert record["width"] == 1600


def test_user_comment_beside_a_large_maker_note_is_read_and_searchable(cli: Cli, tmp_path: Path) -> None:
    """Maker notes are skipped for speed; the UserComment in the same EXIF block must not be."""
    folder = tmp_path / "commented"
    path = paint_photo(folder / "IMG_0001.jpg", seed=5, size=(320, 240))
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 40D"
        sub = exif.get_ifd(0x8769)
        sub[0x927C] = bytes(range(256)) * 200  # a 51 KB maker note, opaque to us
        sub[0x9286] = b"UNICODE\x00" + "fishing boats in the harbour".encode("utf-16-be")
        image.save(path, exif=exif, quality=90)
    cli.index(folder)
    record = cli.records()[str(path)]
    assert record["user_comment"] == "fishing boats in the harbour"
    assert record["model"] == "Canon EOS 40D"
    assert json.loads(record["exif_json"])["EXIF UserComment"] == "fishing boats in the harbour"
    (result,) = cli.search("--text", "fishing")
    assert paths_of(result) == ["IMG_0001.jpg"]


def test_the_faiss_index_and_the_query_fold_words_alike() -> None:
    """The FAISS backend folds a whole index's text at once (ASCII by one table, the rest as a
    query is folded); a word folded otherwise there than in the query would never be found."""
    documents = [
        "/photos/2019/IMG_0042.JPG\nCanon\nCanon EOS R6", "", None, "under_score and--dashes", "x\x01y",
        "Crémieux11 ΟΔΟΣ Σ", "ℌello ﬁne", "a" * 256 + " kept " + "c" * 255, "\x1cfoo\x1dbar", "北京 東京 Москва",
        "İstanbul ǅ", "e\u0301\u0327 n\u0303", "\u0301abc", "  lots   of   space  ", "don't stop 3.14",
        "ภ" * 85 + " ข" * 86 + " " + "ẞ" * 86 + " z",
    ]  # fmt: skip
    assert folded_words(documents) == [f" {' '.join(tokenize(d or ''))} " for d in documents]
    assert folded_words([]) == []
    index = BM25(documents)
    for query, found in {
        "canon": [0],
        "CREMIEUX11": [5],
        "москва": [9],
        "kept": [7],
        '"stop 3"': [14],
        "x": [4],
    }.items():
        assert index.matches(query)[0].tolist() == found, query


def lancedb_text_table(tmp_path: Path, documents: list[str]):
    """A LanceDB table of ``documents`` with its full-text index built as imagedb builds it."""
    import lancedb
    import pyarrow as pa
    from lancedb.index import FTS

    table = lancedb.connect(str(tmp_path / "words")).create_table(
        "words", pa.table({"id": list(range(len(documents))), "text": documents})
    )
    table.create_index("text", config=FTS(**FTS_OPTIONS))
    return table


def lancedb_matches(table, query: str) -> dict[int, float]:
    return {row["id"]: row["_score"] for row in table.search(query, query_type="fts").limit(50).to_list()}


def faiss_matches(documents: list[str], query: str) -> dict[int, float]:
    found, scores = BM25(documents).matches(query)
    return dict(zip(found.tolist(), scores.tolist(), strict=True))


def test_the_faiss_backend_keeps_the_long_words_lancedb_keeps(tmp_path: Path) -> None:
    """LanceDB keeps a word of up to 255 bytes, measured in UTF-8 as written (before lower-casing
    and folding): the FAISS backend's tokenizer keeps the same ones, or a search would find a
    file on one backend alone and score the rest apart."""
    words = {
        "a" * 255: True, "b" * 256: False,  # ASCII: a byte a letter
        "ภ" * 85: True, "ข" * 86: False,  # Thai: three bytes a letter
        "ẞ" * 85: True, "Ẑ" * 86: False,  # 258 bytes as written, 172 and 258 lower-cased
        "é" * 127: True, "É" * 128: False,  # 256 bytes, 128 once folded
        "3f786850e387550fdab836ed7e6dc881de23001b": True,  # a SHA-1: 40 bytes
    }  # fmt: skip
    documents = [f"x {word} y" for word in words]
    table = lancedb_text_table(tmp_path, documents)
    for word, kept in words.items():
        assert len(tokenize(word)) == kept and tokenize(f"x {word} y") == ["x", *tokenize(word), "y"], word[:3]
    # A document whose word was dropped is a word shorter: 'x' scores it higher, on both.
    scores = lancedb_matches(table, "x")
    assert faiss_matches(documents, "x") == pytest.approx(scores, rel=1e-4)
    shorter = max(scores.values())
    assert [scores[i] == shorter for i in range(len(words))] == [not kept for kept in words.values()]
    assert list(lancedb_matches(table, "3f786850e387550fdab836ed7e6dc881de23001b")) == [len(words) - 1]


def test_the_faiss_backend_parts_and_folds_words_as_lancedb_does(tmp_path: Path) -> None:
    """Every query finds the same rows with the same scores on both backends, for text whose
    words LanceDB parts or folds in ways a plain tokenizer would not: a name a Mac wrote ('e'
    and an accent, composed as the search text is), an accent no letter is composed with
    (Yoruba), tone marks and a coeng, a symbol NFKD makes letters of, fractions and numbers in
    parentheses (one word to LanceDB), ŀ (one letter), an accent that is a letter, half-width
    katakana."""
    written = [
        "Re\u0301sume\u0301 photos", "Résumé 2019", "Ẹ̀kọ́ ilé", "ต้นไม้ ภาพ", "ភ្នំពេញ", "ｶﾒﾗ 5㎏ kg",
        "Ελληνικά άλφα", "한국 여행", unicodedata.normalize("NFD", "한국 사진"), "ﬁne ½ ⑴ ⒈ ㈠ 🄁 cafe\u0301",
        "Łódź Straße caŀlar", "x³ ⅷ Ⓐb ͺ ｐͥ갭", "İstanbul",
    ]  # fmt: skip
    documents = [in_one_form(text) for text in written]  # as common.describe stores them
    table = lancedb_text_table(tmp_path, documents)
    queries = {word for text in written for word in tokenize(text)} | {
        "résumé", "Re\u0301sume\u0301", "re", "sume", "ile", "ilé", "ẹ", "ไม", "ภาพ", "ភ", "ｶﾒﾗ", "カメラ", "kg",
        "5", "½", "1", "2", "⑴", "(1)", "⒈", "㈠", "🄁", "fine", "cafe", "lodz", "strasse", "callar", "cal", "x3",
        "viii", "ab", "ⓐb", "ͺ", "한국", "사진", "istanbul", "İstanbul",
    }  # fmt: skip
    for query in sorted(queries):  # quoted: a word of three Thai letters would be its pairs, which these lack
        quoted = f'"{in_one_form(query)}"'  # as imagedb sends a query to LanceDB (common.text_search.TextQuery)
        assert faiss_matches(documents, f'"{query}"') == pytest.approx(lancedb_matches(table, quoted), rel=1e-4), query
    for query, found in {
        "résumé": {0, 1},
        "istanbul": {12},
        "½": {9},
        "callar": {10},
        "ile": {2},
        '"นไม"': {3},
    }.items():
        assert set(faiss_matches(documents, query)) == set(lancedb_matches(table, in_one_form(query))) == found, query


def test_word_postings_read_back_rank_as_the_ones_built_and_others_are_not_read(tmp_path: Path, monkeypatch) -> None:
    """The FAISS backend keeps its word postings beside the index for the next process; read
    back, they rank every query as the built ones do, and postings that are not these
    documents' (another count, another version, damaged, gone) are not used."""
    documents = [
        "/photos/2019/IMG_0042.JPG Canon Canon EOS R6", "", None, "Crémieux11 ΟΔΟΣ Σ", "new york new york",
        "york new", "don't stop 3.14", "/photos/2019/IMG_0043.JPG Nikon D750 new york",
    ]  # fmt: skip
    path = str(tmp_path / "postings.npz")
    Postings.of(documents).save(path, keys_of(range(len(documents)), documents))
    read = Postings.read(path, len(documents))
    assert read is not None
    built, kept = BM25(documents), BM25(documents, read)
    for query in ("canon", "CREMIEUX11 σ", '"new york"', '"york new" nikon', '"stop 3" 2019', "nothing", '"eos r6"'):
        (found, scores), (found_again, scores_again) = built.matches(query), kept.matches(query)
        assert found.tolist() == found_again.tolist() and scores.tolist() == scores_again.tolist(), query
    assert kept.matches('"new york"')[0].tolist() == [4, 7], "a phrase is its words in order, not both words"
    assert Postings.read(path, len(documents) + 1) is None, "another index's postings"
    assert Postings.read(str(tmp_path / "gone.npz"), len(documents)) is None
    monkeypatch.setattr(text_search, "POSTINGS_FORMAT", text_search.POSTINGS_FORMAT + 1)
    assert Postings.read(path, len(documents)) is None, "saved by another version"
    monkeypatch.undo()
    saved = Path(path).read_bytes()
    Path(path).write_bytes(saved[: len(saved) // 2])
    assert Postings.read(path, len(documents)) is None, "cut short"
    Path(path).write_bytes(saved[:-40] + bytes(40))
    assert Postings.read(path, len(documents)) is None, "damaged"
    empty = str(tmp_path / "empty.npz")
    Postings.of([]).save(empty, keys_of([], []))
    assert BM25([], Postings.read(empty, 0)).matches("anything")[0].tolist() == []


def keys_of(ids, documents) -> DocumentKeys:
    import pyarrow as pa

    return DocumentKeys.of(np.array(list(ids), dtype=np.int64), pa.array(documents, pa.large_string()))


def words_and_documents(postings: Postings) -> dict[str, dict[int, int]]:
    """Each word's documents and how often each holds it: postings compared whatever their words' numbers."""
    return {
        word: dict(zip(*(part.tolist() for part in postings.of_word(number)), strict=True))
        for word, number in postings.term_ids.items()
    }


def test_word_postings_carried_over_to_a_later_commit_are_the_ones_built_and_read_only_what_changed(
    tmp_path: Path, monkeypatch
) -> None:
    """After a commit, the FAISS backend's first metadata search carries the saved postings over:
    a row kept with the same text keeps its words, wherever it stands now, and only the rows
    added or changed are read. The result is the postings built from scratch, word for word, and
    a word only a row gone or changed held is gone."""
    import pyarrow as pa

    before = [
        "/photos/a.jpg Canon EOS R6", "/photos/b.jpg Nikon D750 new york", "", None,
        "/photos/c.jpg Crémieux11 once", "/photos/d.jpg Canon new york", "/photos/f.jpg Canon",
    ]  # fmt: skip
    # 11 deleted; 14's text changed ("once" goes with it); 16 kept with the same text, but now
    # before 15; 20 and 21 added.
    now_ids = [10, 12, 13, 16, 14, 20, 15, 21]
    now = [
        before[0], "", None, before[6], "/photos/c.jpg Crémieux11 edited", "/photos/e.jpg york new Nikon",
        before[5], "/photos/g.jpg Canon Canon",
    ]  # fmt: skip
    saved_path = str(tmp_path / "postings.npz")
    Postings.of(before).save(saved_path, keys_of([10, 11, 12, 13, 14, 15, 16], before))
    saved = Postings.read_with_keys(saved_path)
    assert saved is not None
    real_build = Postings.of
    read: list[list[str | None]] = []
    monkeypatch.setattr(Postings, "of", classmethod(lambda _cls, docs: read.append(list(docs)) or real_build(docs)))
    carried = saved[0].carried_over(saved[1], keys_of(now_ids, now), pa.chunked_array([pa.array(now)]))
    monkeypatch.undo()
    assert read == [[now[4], now[5], now[7]]], "the rows added or changed, alone"
    built = Postings.of(now)
    assert words_and_documents(carried) == words_and_documents(built)
    assert carried.lengths.tolist() == built.lengths.tolist()
    assert "once" not in carried.term_ids and "edited" in carried.term_ids
    kept, fresh = BM25(now, carried), BM25(now)
    for query in ("canon", "york", '"new york"', '"york new" nikon', "crémieux11 edited", "once", "nothing"):
        (found, scores), (found_again, scores_again) = kept.matches(query), fresh.matches(query)
        assert found.tolist() == found_again.tolist() and scores.tolist() == scores_again.tolist(), query

    nothing = keys_of([], [])
    from_none = Postings.of([]).carried_over(nothing, keys_of(now_ids, now), pa.array(now))
    assert words_and_documents(from_none) == words_and_documents(built)
    to_none = saved[0].carried_over(saved[1], nothing, pa.array([], pa.string()))
    assert to_none.term_ids == {} and to_none.fits(0)


def test_a_word_in_a_file_name_is_found_where_it_runs_into_digits(cli: Cli, tmp_path: Path) -> None:
    """'vacation2019.jpg' is one token to both full-text indexes; searching 'vacation' finds it."""
    folder = tmp_path / "photos"
    for seed, name in enumerate(("vacation2019.jpg", "Paris2019-001.jpg", "DSC01234.jpg", "garden.jpg")):
        paint_photo(folder / name, seed=seed)
    cli.index(folder)
    (vacation, year, paris, camera, whole) = cli.search("--text", "vacation", "2019", "paris", "dsc", "vacation2019")
    assert paths_of(vacation) == ["vacation2019.jpg"]
    assert sorted(paths_of(year)) == ["Paris2019-001.jpg", "vacation2019.jpg"]
    assert paths_of(paris) == ["Paris2019-001.jpg"]
    assert paths_of(camera) == ["DSC01234.jpg"]
    assert paths_of(whole) == ["vacation2019.jpg"], "the whole word still matches"


@pytest.mark.parametrize(
    "where, expected",
    [
        ("make = 'Canon'", {"canon-1.jpg", "canon-2.jpg"}),
        ("width > 1000", {"canon-1.jpg", "nikon-1.jpg"}),
        ("width > 1000 AND make = 'Canon'", {"canon-1.jpg"}),
        ("date_taken >= '2020-01-01'", {"canon-2.jpg", "fuji-1.jpg"}),
        ("make IS NULL", {"generated.png"}),
        # Float columns no file has a value in: NULL on both backends (FAISS's frame holds no NaN).
        ("gps_latitude IS NOT NULL OR duration > 0", set()),
        (
            "f_number IS NULL AND fps IS NULL",
            {"canon-1.jpg", "canon-2.jpg", "nikon-1.jpg", "fuji-1.jpg", "generated.png"},
        ),
        ("extension = 'png' OR model LIKE '%D750'", {"generated.png", "nikon-1.jpg"}),
        # Text functions, lists and order over the columns the FAISS backend's filter reads
        # dictionary-encoded (``FEW_VALUE_COLUMNS``); a value no row holds matches nothing.
        ("lower(make) LIKE 'nikon%' OR make IN ('FUJIFILM', 'Leica')", {"nikon-1.jpg", "fuji-1.jpg"}),
        ("make || ' ' || model = 'Canon Canon EOS R6'", {"canon-2.jpg"}),
        ("make > 'M' AND folder LIKE '%cameras'", {"nikon-1.jpg"}),
        ("make = 'Leica'", set()),
        # An integer column divided, or compared with what is no integer of its type: DuckDB
        # takes it as a number; LanceDB divided integers as integers (4:3 photos were 1:1) and
        # refused the rest, until given it as a float (``filters.in_lance_dialect``).
        ("width / height > 1.3", {"canon-1.jpg", "canon-2.jpg", "nikon-1.jpg", "fuji-1.jpg", "generated.png"}),
        ("make != 'Café' AND width / height > 1.3", {"canon-1.jpg", "canon-2.jpg", "nikon-1.jpg", "fuji-1.jpg"}),
        (
            "width < 3000000000 AND height / width BETWEEN 0.7 AND 0.8 AND make = 'Canon'",
            {"canon-1.jpg", "canon-2.jpg"},
        ),
        ("width >= 1000.5 AND size_bytes > 1e3", {"canon-1.jpg", "nikon-1.jpg"}),
        ("width > 1.6e3 - 1 OR rating >= 2.5 OR iso IN (100.5, 200.5)", {"nikon-1.jpg"}),
        # Functions Lance's SQL reads as syntax of its own and refused ('FLOOR(...) is not
        # supported SQL in lance'), DuckDB's name of a regular expression match, a cast to text.
        ("floor(width / 100) = 10 OR ceil(width / 1000.0) = 2 AND make LIKE 'NIKON%'", {"canon-1.jpg", "nikon-1.jpg"}),
        ("substr(model, 1, 5) = 'Canon' AND trim('  ' || make || ' ') = 'Canon'", {"canon-1.jpg", "canon-2.jpg"}),
        ("regexp_matches(model, 'D[0-9]+$') OR CEILING(width / 100) = 4", {"nikon-1.jpg", "fuji-1.jpg"}),
        ("CAST(width AS VARCHAR) LIKE '1%' AND width::TEXT NOT LIKE '16%'", {"canon-1.jpg"}),
        # SQL's own call syntax, and IS [NOT] DISTINCT FROM (NULL makes and models included),
        # which Lance's SQL refused: written as calls by name, and as what they mean.
        ("position('EOS' IN model) > 0 AND substring(model FROM 11 FOR 2) = 'R6'", {"canon-2.jpg"}),
        (
            "trim(LEADING 'NIKO' FROM model) = ' D750' OR trim(BOTH 'FM' FROM make) = 'UJIFIL' "
            "OR trim(TRAILING '5D' FROM model) = 'Canon EOS '",
            {"nikon-1.jpg", "fuji-1.jpg", "canon-1.jpg"},
        ),
        (
            "make IS DISTINCT FROM 'Canon' AND NOT (model IS NOT DISTINCT FROM 'X-T3')",
            {"nikon-1.jpg", "generated.png"},
        ),
        # A backslash in a LIKE pattern escapes what follows on LanceDB (as in PostgreSQL):
        # DuckDB read it as a backslash and matched nothing; one ending the pattern is itself.
        (r"filename LIKE 'canon\-%' AND filename NOT ILIKE '%.JPG\'", {"canon-1.jpg", "canon-2.jpg"}),
        (r"filename NOT LIKE '%\-%' OR folder LIKE '%\%%'", {"generated.png"}),
        # DuckDB's pattern operators, which LanceDB's SQL has not: given to it as regexp_like and LIKE.
        ("make ~ 'ano' AND model !~ 'R6'", {"canon-1.jpg"}),
        ("filename GLOB 'canon-?.jpg' AND filename NOT GLOB '*2*'", {"canon-1.jpg"}),
        ("model SIMILAR TO 'NIKON D[0-9]+' OR make NOT SIMILAR TO '[A-Z].*'", {"nikon-1.jpg"}),
    ],
)
def test_filters_give_the_same_rows_on_both_backends(both: dict[str, Cli], where: str, expected: set[str]) -> None:
    for backend, c in both.items():
        (listing,) = c.search("--where", where, "--limit", "100")
        assert set(paths_of(listing)) == expected, backend
        (filtered,) = c.search("--search", "a photo of a dog", "--where", where, "--limit", "100")
        assert set(paths_of(filtered)) == expected, backend


@pytest.mark.parametrize(
    "where", ["year(date_taken) = 2019", "date_taken < DATE '2020-01-01'", "year(CAST(date_taken AS DATE)) = 2019"]
)
def test_a_date_taken_for_a_date_is_answered_with_the_text_comparison_that_works(
    both: dict[str, Cli], where: str
) -> None:
    """The dates are ISO 8601 text, and the backends' SQL share no date function: a condition
    that takes date_taken for a date and is refused says how to write it, and that works on both."""
    lancedb_refused = False
    for backend, c in both.items():
        result = c("--where", where)
        if result.code == 0:  # DuckDB, the FAISS backend's engine, casts text to a date
            assert backend == "faiss", result.stderr
            continue
        lancedb_refused |= backend == "lancedb"
        (line,) = result.stderr_lines()
        assert result.code == 2 and "date_taken is text, ISO 8601" in line, line
        suggested = re.findall(r'"([^"]+)"', line.split("compare it as text")[1])
        assert suggested == ["date_taken >= '2008-10' AND date_taken < '2008-11'", "date_taken LIKE '2008%'"]
        for example in suggested:  # the month and year of canon-1.jpg, taken 2019-07-01
            condition = example.replace("2008-10", "2019-07").replace("2008-11", "2019-08").replace("2008", "2019")
            (listing,) = c.search("--where", condition, "--limit", "100")
            assert paths_of(listing) == ["canon-1.jpg"], (backend, condition)
    assert lancedb_refused


@pytest.mark.parametrize(
    "where, expected",
    [
        ("date_taken <= '2019-07-01 10:00:00'", {"canon-1.jpg", "nikon-1.jpg"}),
        ("date_taken IN ('2021:03:15 18:30:00', '2020-05-05T05:05:05')", {"canon-2.jpg", "fuji-1.jpg"}),
        ("date_taken LIKE '2020-05-05 05%' OR make = '2019-07-01 10:00:00'", {"fuji-1.jpg"}),
        ("date_taken BETWEEN '2018:12:24 09:15' AND '2019-07-01 10:00'", {"nikon-1.jpg", "canon-1.jpg"}),
        ("date_taken BETWEEN '2019-07-01' AND '2021-03-15'", {"canon-1.jpg", "canon-2.jpg", "fuji-1.jpg"}),
        ("date_taken > '2019-07-01' AND date_taken < '2021'", {"fuji-1.jpg"}),
        ("'2020' >= date_taken OR '2021-03' < date_taken", {"nikon-1.jpg", "canon-1.jpg", "fuji-1.jpg"}),
        ("date_taken <= '2018'", {"nikon-1.jpg"}),
    ],
)
def test_a_date_compares_as_the_stored_date_and_a_date_in_part_ending_a_range_takes_its_whole_period(
    both: dict[str, Cli], where: str, expected: set[str]
) -> None:
    """Dates are stored '2019-07-01T10:00:00'. Written with a space, as the table shows them, or
    with colons, as EXIF does, they matched nothing with = and cut a day short with <= (a space
    sorts before the T); a range ending on a day, month or year left that day out (as text,
    '2021-03-15' sorts before every time of it) and '>' took it in. Only a date compared with a
    date column is read so; the results are labelled with the condition as typed."""
    for backend, c in both.items():
        (listing,) = c.search("--where", where, "--limit", "100")
        assert set(paths_of(listing)) == expected, backend
        assert listing["query"] == where


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("year = 2019", {"canon-1.jpg"}),
        ("year >= 2020", {"canon-2.jpg", "fuji-1.jpg"}),
        ("year > 2019", {"canon-2.jpg", "fuji-1.jpg"}),
        ("year <= 2019", {"canon-1.jpg", "nikon-1.jpg"}),
        ("year != 2019", {"canon-2.jpg", "nikon-1.jpg", "fuji-1.jpg"}),
    ],
)
def test_a_year_compared_is_answered_with_the_date_taken_condition_that_finds_it(
    both: dict[str, Cli], typed: str, expected: set[str]
) -> None:
    """'year = 2019' (--stats counts years) was "unknown column 'year'" and every column's name:
    the error now gives the condition on date_taken that means it, which finds those photos."""
    for backend, c in both.items():
        refused = c("--where", typed)
        (line,) = refused.stderr_lines()
        assert refused.code == 2 and "unknown column 'year' (the year a photo was taken is the start" in line, line
        suggested = line.rsplit(", ", 1)[1].rstrip(")")
        (listing,) = c.search("--where", suggested, "--limit", "100")
        assert set(paths_of(listing)) == expected, (backend, suggested)
        for name, said in (("month", "July 2015 date_taken LIKE '2015-07%'"), ("score", "--min-score keeps"),
                           ("camera", "did you mean make or model?"), ("tags", "did you mean keywords?")):  # fmt: skip
            assert said in c("--where", f"{name} = 7").stderr, (backend, name)


def test_a_date_pasted_from_the_results_table_finds_its_photo(both: dict[str, Cli]) -> None:
    for backend, c in both.items():
        table = c("--where", "make = 'Canon'", "--order-by", "date_taken")
        row = next(line for line in table.stdout.splitlines() if "canon-1.jpg" in line)
        shown = re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row).group()
        (listing,) = c.search("--where", f"date_taken = '{shown}'")
        assert paths_of(listing) == ["canon-1.jpg"], backend


@pytest.mark.parametrize("where", ["date_taken = '2019-07-01'", "date_taken != '2019-07-01'"])
def test_a_date_no_photo_is_taken_at_is_refused_with_the_condition_that_works(both: dict[str, Cli], where: str) -> None:
    """Each date_taken is a time to the second: '= 2019-07-01' matched no photo and '!=' every
    one, silently. Refused, with the LIKE that means the day, which works on both."""
    for backend, c in both.items():
        result = c("--where", where)
        (line,) = result.stderr_lines()
        assert result.code == 2 and "'2019-07-01' is no date_taken" in line, (backend, line)
        (suggested,) = re.findall(r'"([^"]+)"', line.split("for the whole of")[1])
        assert suggested == "date_taken LIKE '2019-07-01%'"
        (listing,) = c.search("--where", suggested)
        assert paths_of(listing) == ["canon-1.jpg"], backend


def test_a_filter_no_row_meets_says_which_condition_and_what_it_may_mean(
    both: dict[str, Cli], camera_folder: Path
) -> None:
    """SQL compares text exactly, and 'no matches' left the user to take the condition apart.
    Each comparison of text no row meets alone is named in one line, with the condition the
    index's values make of it: case and accents aside ('canon': Canon), a word of a longer value
    ('Nikon': NIKON CORPORATION; 'd750' in NIKON D750, a pattern), a country or city in another
    language ('Italien', 'Firenze'), a value spelt nearly so ('Canonn'),
    ILIKE for a LIKE that minds case; and each offered condition finds photos. Nothing is said
    where the filter meets rows; in a listing, a search, --stats, --export and --duplicates, on
    both backends."""
    from test_places import photo_taken_at

    photo_taken_at(camera_folder / "duomo.jpg", 9, 43.7731, 11.2560)
    meant = {
        "make = 'canon'": "make = 'Canon'",
        "make IN ('Nikon', 'fujifilm')": "make IN ('NIKON CORPORATION', 'FUJIFILM')",
        "model = 'd750'": "model ILIKE '%d750%'",
        "country = 'Italien' AND width > 10": "country = 'Italy'",
        "'Italien' = country": "country = 'Italy'",
        "make = 'Canonn'": "make = 'Canon'",  # spelt nearly so
        "make IN ('Canonn', 'fujiflm')": "make IN ('Canon', 'FUJIFILM')",
        "city = 'Firenze'": "city = 'Florence'",
        "model LIKE 'canon eos%'": "model ILIKE 'canon eos%'",
    }
    for backend, c in both.items():
        c.index(camera_folder)
        for where, offered in meant.items():
            result = c("--where", where)
            assert result.code == 0 and "no matches" in result.stdout, (backend, where)
            (line,) = result.stderr_lines()
            condition = where.split(" AND ")[0]
            assert line.endswith(f"--where: no row has {condition}; did you mean {offered}?"), (backend, line)
            assert paths_of(c.search("--where", offered)[0]), (backend, offered)
        (line,) = c("--where", "make = 'Leica'").stderr_lines()
        assert line.endswith("--where: no row has make = 'Leica'"), (backend, line)
        assert c("--where", "make = 'Canon' AND width > 1000").stderr_lines() == [], backend
        assert c("--where", "make = 'Canon'").stderr_lines() == [], backend
        export = camera_folder.parent / f"export-{backend}.jsonl"
        asked_for = (
            ("--stats",),
            ("--search", "a photo"),
            ("--text", "canon"),
            ("--export", str(export)),
            ("--duplicates",),
        )
        for asked in asked_for:
            said = c(*asked, "--where", "make = 'canon'").stderr
            assert "--where: no row has make = 'canon'; did you mean make = 'Canon'?" in said, (backend, asked)


def test_a_number_or_date_no_row_meets_is_told_the_values_nearest_it(both: dict[str, Cli]) -> None:
    """``iso > 100000`` or ``date_taken > '2030'`` found nothing, and the user was left to find
    out what the index holds (--stats tells dates, not widths). A comparison of a number or date
    column with a constant that no row meets names the highest, lowest or nearest values, each
    of which, written as a condition, finds photos; written either way round, or as BETWEEN, a
    date in part standing for its period, or as a list of numbers (IN: the nearest to each); none
    said of a column no row has, nor of one under NOT.
    Widths: 160 (generated.png), 320, 480, 1024, 1600; dates 2018-12-24 to 2021-03-15."""
    told = {
        "width > 5000": "the highest width is 1600",
        "5000 < width": "the highest width is 1600",
        "width <= 100": "the lowest width is 160",
        "width = 1000": "the nearest width values are 480 and 1024",
        "width BETWEEN 2000 AND 3000": "the nearest width value is 1600",
        "width IN (1000, 300)": "the nearest width values are 160, 320, 480 and 1024",  # each value's
        "width IN (5000, 6000)": "the nearest width value is 1600",
        "date_taken > '2022'": "the latest date_taken is '2021-03-15T18:30:00'",
        "date_taken BETWEEN '2019-08' AND '2020-04'": (
            "the nearest date_taken values are '2019-07-01T10:00:00' and '2020-05-05T05:05:05'"
        ),
        "rating >= 3": "no row has any rating",
    }
    for backend, c in both.items():
        for where, said in told.items():
            result = c("--where", where)
            assert "no matches" in result.stdout, (backend, where)
            (line,) = result.stderr_lines()
            assert line.endswith(f"--where: no row has {where}; {said}"), (backend, line)
            for value in re.findall(r"(?:is|are|and) ('[^']+'|\d+)", said):
                column = where.split()[0] if where[0].isalpha() else where.split()[-1]
                assert paths_of(c.search("--where", f"{column} = {value}")[0]), (backend, column, value)
        (line,) = c("--where", "date_taken LIKE '2030%'").stderr_lines()  # a pattern: no range to tell
        assert line.endswith("--where: no row has date_taken LIKE '2030%'"), (backend, line)
        (line,) = c("--where", "NOT width > 5000 AND make = 'Leica'").stderr_lines()
        assert line.endswith("--where: no row has make = 'Leica'"), (backend, line)
        assert c("--where", "NOT width > 5000").stderr_lines() == [], backend
        assert (
            c("--search", "a photo", "--where", "width > 5000")
            .stderr_lines()[-1]
            .endswith("--where: no row has width > 5000; the highest width is 1600")
        ), backend


def test_conditions_each_met_alone_but_by_no_row_together_are_named(both: dict[str, Cli]) -> None:
    """Each condition of a filter meets rows, and 'no matches' left the user to try them in
    pairs: the first two that no row meets together are named with how many rows each meets
    (an OR kept whole in its parentheses), or, where any two meet rows, that it takes them all;
    a part no comparison speaks for that no row meets alone is named as it is written."""
    for backend, c in both.items():
        (line,) = c("--where", "make = 'Canon' AND model = 'NIKON D750'").stderr_lines()
        assert line.endswith("--where: no row has both make = 'Canon' (2 rows) and model = 'NIKON D750' (1 row)")
        where = "make = 'Canon' AND width > 1000 AND (date_taken > '2020' OR filename = 'fuji-1.jpg')"
        (line,) = c("--where", where).stderr_lines()
        assert line.endswith(
            "--where: no row has both width > 1000 (2 rows) and (date_taken > '2020' OR filename = 'fuji-1.jpg') "
            "(2 rows)"
        ), (backend, line)
        where = "make = 'Canon' AND width > 1000 AND (date_taken >= '2021' OR date_taken < '2019')"
        assert paths_of(c.search("--where", "make = 'Canon' AND width > 1000")[0]) == ["canon-1.jpg"]
        (line,) = c("--where", where).stderr_lines()
        assert line.endswith("--where: no row has all 3 conditions together (each two of them meet some rows)")
        (line,) = c("--where", "lower(make) = 'leica' AND width > 10").stderr_lines()
        assert line.endswith("--where: no row has lower(make) = 'leica'"), (backend, line)
        lines = c("--where", "make = 'Canon' AND (country = 'France' OR width > 1000) AND date_taken > '2020'")
        assert [line.split(": ", 1)[1] for line in lines.stderr_lines()] == [
            "--where: no row has country = 'France'",
            "--where: no row has both (country = 'France' OR width > 1000) (2 rows) and date_taken > '2020' (1 row)",
        ], backend


def test_a_column_of_many_values_is_asked_what_it_holds_case_aside(
    both: dict[str, Cli], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a column holds too many values to sift (a million paths), the engine is asked which
    it holds case aside, and for the pattern that finds a word inside them."""
    from common import empty_filters

    monkeypatch.setattr(empty_filters, "MOST_VALUES_SIFTED", 0)
    meant = {
        "make = 'canon'": "make = 'Canon'",
        "make IN ('Leica', 'fujifilm')": "make IN ('Leica', 'FUJIFILM')",
        "model = 'd750'": "model ILIKE '%d750%'",
        "filename = 'CANON-1.JPG'": "filename = 'canon-1.jpg'",
    }
    for backend, c in both.items():
        for where, offered in meant.items():
            (line,) = c("--where", where).stderr_lines()
            assert line.endswith(f"--where: no row has {where}; did you mean {offered}?"), (backend, line)
        (line,) = c("--where", "filename = 'IMG_0001.jpg'").stderr_lines()
        assert line.endswith("--where: no row has filename = 'IMG_0001.jpg'"), (backend, line)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Canon", {"canon-1.jpg", "canon-2.jpg"}),
        ("nikon", {"nikon-1.jpg"}),
        ("lighthouse", {"generated.png"}),
        ("FUJIFILM", {"fuji-1.jpg"}),
        ("canon-2", {"canon-2.jpg", "canon-1.jpg"}),  # any word matches: "canon" or "2"
        ("R6 D750", {"canon-2.jpg", "nikon-1.jpg"}),
        ("canon canon", {"canon-1.jpg", "canon-2.jpg"}),  # a word given twice weighs twice, as in Lance
        # Quoted phrases: their words together, in order; with other words; in a Mac's quotes; left open.
        ('"canon eos"', {"canon-1.jpg", "canon-2.jpg"}),
        ('"eos canon"', set()),
        ("\u201clighthouse at dusk\u201d", {"generated.png"}),
        ('"dusk lighthouse"', set()),
        ('"watercolor lighthouse" D750', {"generated.png", "nikon-1.jpg"}),
        ('"nikon', {"nikon-1.jpg"}),
        # A minus where a word starts leaves out the rows holding that word or phrase.
        ("canon -r6", {"canon-1.jpg"}),
        ('canon -"eos r6"', {"canon-1.jpg"}),
        ('canon -"r6 eos"', {"canon-1.jpg", "canon-2.jpg"}),
        ("lighthouse nikon -\u201cat dusk\u201d", {"nikon-1.jpg"}),
        ("canon fujifilm -x-t3", {"canon-1.jpg", "canon-2.jpg"}),  # a word of several parts: a phrase
        ("canon -nikon -fujifilm -2019", {"canon-2.jpg"}),
        ("fujifilm x-t3", {"fuji-1.jpg"}),  # a hyphen inside a word leaves nothing out
        ('"eos -r6"', {"canon-2.jpg"}),  # nor one inside a phrase: its words together
        # A plus where a word starts keeps only the rows holding that word or phrase, or one of
        # several joined by '|'; the other words still score.
        ("+canon", {"canon-1.jpg", "canon-2.jpg"}),
        ("canon +2019", {"canon-1.jpg"}),
        ("nikon lighthouse +2019", {"canon-1.jpg"}),  # the other words add no rows
        ("nikon +1999", set()),
        ('lighthouse +"eos r6"|d750', {"canon-2.jpg", "nikon-1.jpg"}),
        ('+canon|nikon +2021|"nikon d750"', {"canon-2.jpg", "nikon-1.jpg"}),
        ("+canon +r6 +eos", {"canon-2.jpg"}),
        ("+canon -r6", {"canon-1.jpg"}),
        ("canon +x-t3", {"fuji-1.jpg"}),
        ("+t3-x", set()),  # a word of several parts: a phrase
        ("c++ canon", {"canon-1.jpg", "canon-2.jpg"}),  # a plus inside a word requires nothing
        ('"canon +eos" nikon', {"canon-1.jpg", "canon-2.jpg", "nikon-1.jpg"}),  # nor one inside a phrase
    ],
)
def test_metadata_search_gives_the_same_rows_on_both_backends(
    both: dict[str, Cli], query: str, expected: set[str]
) -> None:
    rankings = {}
    for backend, c in both.items():
        (result,) = c.search("--text", query, "--limit", "100")
        assert result["query_kind"] == "metadata"
        assert set(paths_of(result)) == expected, backend
        rankings[backend] = [(Path(r["path"]).name, round(r["score"], 4)) for r in result["results"]]
    assert rankings["lancedb"] == rankings["faiss"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("天安门", {"北京天安门广场.jpg"}),  # a word inside a run of characters written without spaces
        ("猫", {"黒い猫と私.jpg"}),  # one character
        ("東京タワー", {"東京タワー夜景.jpg"}),
        ("故宫", {"故宫.jpg"}),  # the whole run
        ("京", {"北京天安门广场.jpg", "東京タワー夜景.jpg"}),
        ("京 -天安门", {"東京タワー夜景.jpg"}),
        ("+猫|故宫 beach", {"黒い猫と私.jpg", "故宫.jpg"}),
        ("安天", set()),  # its characters, but not in that order
        ("广场天安门", set()),
        ('"北京天安门广场"', {"北京天安门广场.jpg"}),  # a quoted run: the word as written
        # Accents come off Latin letters alone, as LanceDB's ASCII folding takes them: FAISS
        # found ガラス (glass) for カラス (crow), and άλφα for αλφα.
        ("カラス", set()),
        ("ガラス", {"ガラス.jpg"}),
        ("αλφα", set()),
        ("άλφα", {"άλφα.jpg"}),
        ("cremieux", {"Crémieux.jpg"}),
        ("strasse lodz", {"Straße.jpg", "Łódź.jpg"}),  # letters that fold to others: ß is ss
        # A vowel sign is part of its word (Unicode's alphabetic characters, as Lance splits):
        # FAISS cut दुनिया into द, न, य and நாடகம் into ந, டகம, and found them for नाटक, நாடு.
        # Half-width katakana and a symbol are as LanceDB keeps them: FAISS's NFKD had made
        # ｶﾒ (turtle) the full-width カメ and ㎏ the letters kg.
        ("カメ", set()),
        ("ｶﾒ", {"ｶﾒ.jpg"}),
        ("kg", set()),
        ("नाटक", set()),
        ("दुनिया", {"दुनिया.jpg"}),
        ("நாடு", {"தமிழ்நாடு.jpg"}),
        # Thai, Lao, Khmer and Burmese put no space between words either: found by their pairs.
        ("ทะเล", {"ภาพทะเลสวย.jpg", "ทะเลสาบ.jpg"}),  # Thai: sea, in a beautiful sea picture and in lake
        ("ทะเลสาบ", {"ทะเลสาบ.jpg"}),  # lake: not the sea picture
        ("น้ำตก", {"น้ำตกเอราวัณ.jpg"}),  # waterfall: a tone mark ends a word to both tokenizers
        ("เอราวัณ", {"น้ำตกเอราวัณ.jpg"}),
        ("สวยภาพ", set()),  # its characters, not in that order
        ("ทะเล -สวย", {"ทะเลสาบ.jpg"}),
        ("ភ្នំពេញ", {"ទីក្រុងភ្នំពេញ.jpg"}),  # Khmer: Phnom Penh, in the city of Phnom Penh
        ("+ភ្នំពេញ beach", {"ទីក្រុងភ្នំពេញ.jpg"}),
        ("ຫຼວງພະບາງ", {"ເມືອງຫຼວງພະບາງ.jpg"}),  # Lao: Luang Prabang
        ("ရန်ကုန်", {"ရန်ကုန်မြို့.jpg"}),  # Burmese: Yangon, in Yangon city
    ],
)
def test_chinese_japanese_and_accented_words_are_found_alike_on_both_backends(
    tmp_path: Path, query: str, expected: set[str]
) -> None:
    """Chinese and Japanese put no space between words: a file named 北京天安门广场 was one
    token, and --text 天安门 (Tiananmen) or 猫 (cat) found nothing. Both backends find them, with
    the same scores, fold accents and letters as LanceDB does, and split Hindi and Tamil words as
    it does. Thai, Lao, Khmer and Burmese neither: ภาพทะเลสวย.jpg was one token, and --text ทะเล
    (sea) found nothing on either backend."""
    folder = tmp_path / "photos"
    names = [
        "北京天安门广场.jpg",
        "故宫.jpg",
        "黒い猫と私.jpg",
        "東京タワー夜景.jpg",
        "beach.jpg",
        "ガラス.jpg",
        "άλφα.jpg",
    ]
    for seed, name in enumerate(
        [*names, "Crémieux.jpg", "Straße.jpg", "Łódź.jpg", "दुनिया.jpg", "நாடகம்.jpg", "தமிழ்நாடு.jpg", "ｶﾒ.jpg", "㎏.jpg",
         "ภาพทะเลสวย.jpg", "ทะเลสาบ.jpg", "น้ำตกเอราวัณ.jpg", "ទីក្រុងភ្នំពេញ.jpg", "ເມືອງຫຼວງພະບາງ.jpg",
         "ရန်ကုန်မြို့.jpg"]
    ):  # fmt: skip
        paint_photo(folder / name, seed=seed)
    rankings = {}
    for backend in BACKENDS:
        c = Cli(backend, tmp_path / f"db-{backend}")
        c.index(folder)
        (result,) = c.search("--text", query, "--limit", "10")
        assert set(paths_of(result)) == expected, (backend, query)
        rankings[backend] = [(Path(r["path"]).name, r["score"]) for r in result["results"]]
    # LanceDB sums its scores in 32-bit floats: the same to a ten-thousandth, not to every digit.
    assert [name for name, _ in rankings["lancedb"]] == [name for name, _ in rankings["faiss"]]
    assert [score for _, score in rankings["lancedb"]] == pytest.approx(
        [score for _, score in rankings["faiss"]], rel=1e-5
    )


def test_names_a_mac_wrote_and_a_turkish_capital_i_are_found_by_the_words_as_typed(tmp_path: Path) -> None:
    """A Mac writes 'é' in the names it gives as 'e' and an accent (NFD), which LanceDB took for
    two words: Résumé.jpg copied from a Mac was not found by --text résumé (nor a folder Café by
    café), only by 're' or 'sume'; İstanbul.jpg not by istanbul. Both backends find them, with
    the same scores, typed either way."""
    folder = tmp_path / "photos"
    names = ["Re\u0301sume\u0301.jpg", "Cafe\u0301/terrace.jpg", "İstanbul.jpg", "resumes.jpg"]
    for seed, name in enumerate(names):
        paint_photo(folder / name, seed=seed)
    rankings = {}
    for backend in BACKENDS:
        c = Cli(backend, tmp_path / f"db-{backend}")
        c.index(folder)
        for query, expected in {
            "résumé": ["Re\u0301sume\u0301.jpg"], "Re\u0301sume\u0301": ["Re\u0301sume\u0301.jpg"],
            "sume": [], "café": ["terrace.jpg"], "istanbul": ["İstanbul.jpg"], "İSTANBUL": ["İstanbul.jpg"],
        }.items():  # fmt: skip
            (result,) = c.search("--text", query)
            assert paths_of(result) == expected, (backend, query)
            rankings[backend, query] = [round(r["score"], 4) for r in result["results"]]
    assert {query: scores for (backend, query), scores in rankings.items() if backend == "lancedb"} == {
        query: scores for (backend, query), scores in rankings.items() if backend == "faiss"
    }


def test_words_left_out_take_rows_away_and_nothing_from_the_scores_of_the_rest(both: dict[str, Cli]) -> None:
    """'canon -r6' is 'canon' less the rows holding r6, each kept row scored as before; a query
    that only leaves words out is refused (it ranks nothing: every other row is --where's work)."""
    for backend, c in both.items():
        (plain, less) = c.search("--text", "canon", 'canon -r6 -"new york"')
        assert [(r["path"], r["score"]) for r in less["results"]] == [
            (r["path"], r["score"]) for r in plain["results"] if not r["path"].endswith("canon-2.jpg")
        ], backend
        for args in (["--text", "canon", " -nikon"], ["--search", ' -"canon eos"', "--mode", "fts"]):
            refused = c(*args)
            assert refused.code == 2 and "only words to leave out" in refused.stderr, (backend, args)
            assert refused.stderr.count("\n") == 1


def test_a_hybrid_search_leaves_out_in_both_halves_and_gives_the_model_no_minus(both: dict[str, Cli]) -> None:
    """A row holding a word left out is in neither ranking the search fuses (the vector half
    ranked it before), and the model is given the prompt without '-nikon': a CLIP text tower
    reads no minus, and the word would draw the search to Nikon's photos."""
    for backend, c in both.items():
        (fused,) = c.search("--search", "lighthouse -nikon", "--mode", "hybrid", "--limit", "10")
        (plain,) = c.search("--search", "lighthouse", "--mode", "hybrid", "--limit", "10")
        assert "nikon-1.jpg" in paths_of(plain), "the vector half ranks every row of so small an index"
        assert sorted(paths_of(fused)) == sorted(set(paths_of(plain)) - {"nikon-1.jpg"}), backend
        assert paths_of(fused)[0] == "generated.png"
        (prompt_alone,) = c.search("--search", "lighthouse", "--where", "filename != 'nikon-1.jpg'", "--limit", "10")
        vector_ranks = {name: rank for rank, name in enumerate(paths_of(prompt_alone), start=1)}
        scores = {Path(r["path"]).name: r["score"] for r in fused["results"]}
        assert scores["fuji-1.jpg"] == pytest.approx(1 / (60 + vector_ranks["fuji-1.jpg"]), abs=1e-9)
        # Forty words left out would fill the test model's 32 tokens, were they given to it.
        many = c("--search", "lighthouse " + " ".join(f"-word{i}" for i in range(40)), "--mode", "hybrid")
        assert many.code == 0 and many.stderr == "" and "generated.png" in many.stdout, many.stderr


@pytest.mark.parametrize("few_enough", [2000, 1])
def test_a_hybrid_search_requiring_a_word_ranks_only_the_rows_holding_it_in_both_halves(
    both: dict[str, Cli], monkeypatch: pytest.MonkeyPatch, few_enough: int
) -> None:
    """'a dog +nikon|fujifilm' by hybrid: each half ranks the Nikon and Fujifilm photos alone
    (the vector half ranked every row), and the model is given no plus. The rows holding what
    is required are ranked by their vectors when few (``FEW_TEXT_MATCHES``), found by the
    vector search otherwise (a search for as many rows as hold it: there may be more; the CLI
    asks for one more than --limit): both give the same answer."""
    import common.store

    monkeypatch.setattr(common.store, "FEW_TEXT_MATCHES", few_enough)
    for backend, c in both.items():
        (unfiltered,) = c.search("--search", "a dog nikon fujifilm")
        assert paths_of(unfiltered)[0] not in ("nikon-1.jpg", "fuji-1.jpg"), "a row lacking both ranks first"
        (by_vector,) = c.search(
            "--search", "a dog nikon fujifilm", "--where", "make IN ('NIKON CORPORATION', 'FUJIFILM')"
        )
        (by_text,) = c.search("--text", "a dog +nikon|fujifilm")
        vector_ranks = {name: rank for rank, name in enumerate(paths_of(by_vector), start=1)}
        text_ranks = {name: rank for rank, name in enumerate(paths_of(by_text), start=1)}
        for limit in ("10", "1"):
            (fused,) = c.search("--search", "a dog +nikon|fujifilm", "--mode", "hybrid", "--limit", limit)
            assert len(fused["results"]) == min(2, int(limit)), (backend, limit)
            assert set(paths_of(fused)) <= {"nikon-1.jpg", "fuji-1.jpg"}, (backend, limit)
            scores = {Path(r["path"]).name: r["score"] for r in fused["results"]}
            assert scores == pytest.approx(
                {name: 1 / (60 + vector_ranks[name]) + 1 / (60 + text_ranks[name]) for name in scores}, abs=1e-9
            ), (backend, limit)


def test_a_min_score_no_hybrid_result_can_reach_is_said_once(both: dict[str, Cli]) -> None:
    """Fused scores are at most 2/61: '--min-score 0.5' kept nothing, and said nothing of why."""
    for backend, c in both.items():
        result = c("--search", "nikon", "lighthouse", "--mode", "hybrid", "--min-score", "0.5", "--format", "paths")
        assert result.code == 0 and result.stdout == "", backend
        assert result.stderr_lines() == [
            f"imagedb-{backend}.py: --min-score 0.5: a hybrid search's scores are reciprocal-rank fusions, at most "
            "0.0328 (first in both rankings): no result reaches it"
        ]
        kept = c("--search", "nikon", "--mode", "hybrid", "--min-score", "0.03", "--format", "paths")
        assert ([Path(p).name for p in kept.stdout.split()], kept.stderr) == (["nikon-1.jpg"], ""), backend


def test_a_wildcard_in_a_metadata_search_is_said_to_be_none(both: dict[str, Cli]) -> None:
    """'can*' found nothing and said nothing: words match whole, which one line now says."""
    for backend, c in both.items():
        result = c("--text", "can* nikon", "--format", "paths")
        assert result.code == 0 and [Path(p).name for p in result.stdout.split()] == ["nikon-1.jpg"], backend
        assert result.stderr_lines() == [
            f"imagedb-{backend}.py: can* nikon: a metadata search matches whole words, with no wildcard: "
            "searched as 'can nikon'"
        ]


def test_a_prompt_searched_by_vector_with_a_minus_says_how_to_leave_it_out(both: dict[str, Cli]) -> None:
    """CLIP reads '-nikon' as the word nikon: the search goes toward what the user meant to leave
    out. It runs as typed, and one line says what does leave it out; a number ('-5') is none."""
    for backend, c in both.items():
        searched = c("--search", 'lighthouse -nikon -"eos r6"', "--format", "paths")
        assert searched.code == 0 and len(searched.stdout.split()) == 5, backend
        assert searched.stderr.count("\n") == 1
        assert 'the model reads no minus: -nikon -"eos r6" draws the search toward' in searched.stderr
        assert "--subtract nikon 'eos r6' searches away from it" in searched.stderr
        cold = c("--search", "a lighthouse at -5 degrees", "--format", "paths")
        assert cold.code == 0 and cold.stderr == "", backend


def test_a_metadata_search_that_finds_nothing_says_which_term_required_no_row_holds(both: dict[str, Cli]) -> None:
    """'canon +2017' listed 'no matches' and left the user to take the query apart: one line
    says which term required no row holds, or that no row holds them together; where --where
    lets no row through, that the filter does."""
    for backend, c in both.items():
        for args, said in (
            (["--text", "canon +2017"], "canon +2017: no row holds +2017"),
            (["--text", "+nikon +2017|1999 +2019"], "+nikon +2017|1999 +2019: no row holds +2017|1999"),
            (["--text", "+canon +nikon"], "+canon +nikon: no row holds +canon and +nikon together"),
            (["--text", "+canon", "--where", "width > 1500"], "+canon: no row --where lets through holds +canon"),
            # A filter no row meets is what the line is of, not the term.
            (
                ["--text", "+canon", "--where", "width > 5000"],
                "--where: no row has width > 5000; the highest width is 1600",
            ),
            (["--search", "lighthouse +2017", "--mode", "hybrid"], "lighthouse +2017: no row holds +2017"),
            (["--search", "+canon +nikon", "--mode", "fts"], "+canon +nikon: no row holds +canon and +nikon together"),
            # As typed, not as searched: a Chinese word is searched as its pairs of characters.
            (["--text", "Canon +紫禁城"], "Canon +紫禁城: no row holds +紫禁城"),
        ):
            result = c(*args, "--format", "paths")
            assert result.code == 0 and result.stdout == "", (backend, args)
            assert result.stderr_lines() == [f"imagedb-{backend}.py: {said}"], (backend, args)
        found = c("--text", "canon +2019", "--format", "paths")
        assert (found.stdout.count("\n"), found.stderr) == (1, ""), backend


def test_a_word_no_row_holds_is_offered_the_index_words_spelt_nearly_so(both: dict[str, Cli]) -> None:
    """A metadata search matches whole words: 'canonn' found nothing and said nothing. Each word
    no row holds is offered the index's words spelt nearly so (cameras, places, keywords...),
    which find photos; only those the rows --where lets through hold; nothing where none is near."""
    for backend, c in both.items():
        for args, said in (
            (["--text", "canonn"], ["canonn: no row holds canonn; did you mean canon?"]),
            (["--text", "fujiflm nikkon"], ["fujiflm nikkon: no row holds fujiflm; did you mean fujifilm?",
                                            "fujiflm nikkon: no row holds nikkon; did you mean nikon?"]),
            (["--search", "canonn", "--mode", "fts"], ["canonn: no row holds canonn; did you mean canon?"]),
            (["--text", "xyzzyq"], []),
            (["--text", "canonn", "--where", "width > 1500"], []),  # the Nikon alone
            (["--text", "nikkon", "--where", "width > 1500"],
             ["nikkon: no row --where lets through holds nikkon; did you mean nikon?"]),
        ):  # fmt: skip
            result = c(*args, "--format", "paths")
            assert result.code == 0 and result.stdout == "", (backend, args)
            assert result.stderr_lines() == [f"imagedb-{backend}.py: {line}" for line in said], (backend, args)
        assert names_listed(c, "--text", "canon") == ["canon-1.jpg", "canon-2.jpg"]


def test_a_prompt_searched_by_vector_with_a_plus_says_how_to_require_it(both: dict[str, Cli]) -> None:
    """CLIP reads '+canon' as one more word, and keeps every row: one line says what keeps only
    the rows holding it; a number ('+5') is none."""
    for backend, c in both.items():
        searched = c("--search", "lighthouse +canon", "--format", "paths")
        assert searched.code == 0 and len(searched.stdout.split()) == 5, backend
        assert searched.stderr_lines() == [
            f"imagedb-{backend}.py: lighthouse +canon: the model reads no plus: +canon is one more word to it "
            "(--mode hybrid keeps only the rows whose metadata holds it)"
        ]
        warm = c("--search", "a lighthouse at +5 degrees", "--format", "paths")
        assert warm.code == 0 and warm.stderr == "", backend


def test_an_older_text_index_searches_a_phrase_as_words_until_the_next_index_rebuilds_it(
    tmp_path: Path, camera_folder: Path
) -> None:
    """A LanceDB text index imagedb built before phrase search keeps no word positions, which a
    phrase query needs: the phrase is searched as words, with a warning, and the next --index
    (even one that changes nothing) rebuilds the index with them."""
    cli = Cli("lancedb", tmp_path / "db")
    cli.index(camera_folder)
    table = raw_lance_table(cli.db)
    options = {key: value for key, value in FTS_OPTIONS.items() if key != "with_position"}
    table.create_fts_index("search_text", with_position=False, replace=True, **options)

    older = cli("--text", '"eos canon"', "--format", "paths")
    assert older.code == 0 and "the text index predates phrase search" in older.stderr
    assert sorted(Path(p).name for p in older.stdout.split()) == ["canon-1.jpg", "canon-2.jpg"], "its words"
    left_out = cli("--text", 'canon -"r6 eos"', "--format", "paths")  # a phrase left out: its words, all
    assert left_out.code == 0 and "the text index predates phrase search" in left_out.stderr
    assert [Path(p).name for p in left_out.stdout.split()] == ["canon-1.jpg"]
    required = cli("--text", 'lighthouse +"r6 eos"|d750', "--format", "paths")  # a phrase required: its words, all
    assert required.code == 0 and "the text index predates phrase search" in required.stderr
    assert sorted(Path(p).name for p in required.stdout.split()) == ["canon-2.jpg", "nikon-1.jpg"]

    assert cli.index(camera_folder).summary()["unchanged"] == 5
    (text_index,) = [i for i in raw_lance_table(cli.db).list_indices() if i.columns == ["search_text"]]
    assert text_index.index_details["with_position"]
    rebuilt = cli("--text", '"eos canon"', "--format", "paths")
    assert (rebuilt.stdout, rebuilt.stderr) == ("", "")
    assert len(cli("--text", '"canon eos"', "--format", "paths").stdout.split()) == 2


def test_a_file_named_by_a_long_word_is_found_by_it_and_an_older_text_index_is_rebuilt_to_keep_it(
    tmp_path: Path,
) -> None:
    """LanceDB's text index dropped every word of 40 bytes or more: a file named by its SHA-1 or
    SHA-256 (as downloads and caches name them) was not found by its name, nor a Thai title of 14
    letters as written, on LanceDB alone. Both backends find them now, and a LanceDB index built
    the old way is rebuilt by the next --index, though it changes nothing."""
    from lancedb.index import FTS

    sha1, sha256 = "3f786850e387550fdab836ed7e6dc881de23001b", hashlib.sha256(b"imagedb").hexdigest()
    title = "ภาพทะเลสวยมากเลย"  # a very beautiful sea picture: 16 letters, 48 bytes
    folder = tmp_path / "photos"
    for seed, name in enumerate([f"{sha1}.jpg", f"{sha256}.png", f"{title}.jpg", "beach.jpg"]):
        paint_photo(folder / name, seed=seed)
    for backend in BACKENDS:
        c = Cli(backend, tmp_path / f"db-{backend}")
        c.index(folder)
        for query, expected in ((sha1, f"{sha1}.jpg"), (sha256, f"{sha256}.png"), (f'"{title}"', f"{title}.jpg")):
            (result,) = c.search("--text", query)
            assert paths_of(result) == [expected], (backend, query)

    c = Cli("lancedb", tmp_path / "db-lancedb")
    options = {**FTS_OPTIONS, "max_token_length": 40}  # as imagedb built it before
    raw_lance_table(c.db).create_index("search_text", config=FTS(**options), replace=True)
    assert paths_of(c.search("--text", sha1)[0]) == []
    assert c.index(folder).summary()["unchanged"] == 4
    (text_index,) = [i for i in raw_lance_table(c.db).list_indices() if i.columns == ["search_text"]]
    assert text_index.index_details["max_token_length"] == FTS_OPTIONS["max_token_length"]
    assert paths_of(c.search("--text", sha1)[0]) == [f"{sha1}.jpg"]


def test_metadata_search_with_a_filter(both: dict[str, Cli]) -> None:
    for c in both.values():
        (result, phrase) = c.search("--text", "Canon", '"canon eos" nikon', "--where", "width < 600")
        assert paths_of(result) == paths_of(phrase) == ["canon-2.jpg"]


def test_hybrid_search_fuses_text_and_vector(both: dict[str, Cli]) -> None:
    """'nikon' matches one file's metadata; fusion must put it first, scored by both rankings."""
    for backend, c in both.items():
        (by_vector,) = c.search("--search", "nikon", "--limit", "10")
        (fused,) = c.search("--search", "nikon", "--mode", "hybrid", "--limit", "10")
        assert fused["search_mode"] == "hybrid"
        assert paths_of(fused)[0] == "nikon-1.jpg", backend
        vector_rank = paths_of(by_vector).index("nikon-1.jpg") + 1
        assert fused["results"][0]["score"] == pytest.approx(1 / 61 + 1 / (60 + vector_rank), abs=1e-6)
        assert set(paths_of(fused)) == set(paths_of(by_vector))


def test_copies_of_a_photo_are_one_result_named_in_path_order_on_both_backends(
    tmp_path: Path, camera_folder: Path
) -> None:
    """Byte-identical copies (a backup, Google Takeout's album and year folders) tie on every
    vector query and filled a search's --limit with one picture. They are one result: the first
    ranked shown (of tied copies the first path), the others named in its companions, in path
    order; the same on both backends and again after a forced re-index (rows land in the order
    the workers finish). A listing lists every file."""
    import shutil

    copies = ["copy-e.jpg", "copy-d.jpg", "copy-c.jpg", "copy-b.jpg", "copy-a.jpg"]
    for name in copies:
        shutil.copyfile(camera_folder / "nikon-1.jpg", camera_folder / name)
    others = sorted(copies)[1:]
    for backend in BACKENDS:
        c = Cli(backend, tmp_path / f"db-{backend}")
        for extra in ((), ("--force",)):
            c.index(camera_folder, extra=extra)
            (by_image,) = c.search("--search", str(camera_folder / "nikon-1.jpg"), "--limit", "3")
            assert paths_of(by_image)[0] == "copy-a.jpg" and len(set(paths_of(by_image))) == 3, (backend, extra)
            named = [Path(p).name for p in by_image["results"][0]["companions"]]
            assert named == [*others, "nikon-1.jpg"], (backend, extra)
            assert not set(paths_of(by_image)[1:]) & {*copies, "nikon-1.jpg"}
            (by_text,) = c.search("--text", "nikon", "--limit", "3")  # the original names it more often
            assert paths_of(by_text)[0] == "nikon-1.jpg", (backend, extra)
            assert sorted(Path(p).name for p in by_text["results"][0]["companions"]) == sorted(copies)
            listed = c("--where", "filename LIKE 'copy-%'", "--format", "paths")
            assert sorted(Path(p).name for p in listed.stdout.split()) == sorted(copies)


def test_text_prompt_in_fts_mode_is_a_metadata_search(both: dict[str, Cli]) -> None:
    for c in both.values():
        (result,) = c.search("--search", "fujifilm", "--mode", "fts")
        assert paths_of(result) == ["fuji-1.jpg"]


def test_output_formats(cli: Cli, camera_folder: Path) -> None:
    cli.index(camera_folder)
    query = str(camera_folder / "canon-1.jpg")
    table = cli("--search", query, "--limit", "2")
    assert table.code == 0
    assert query in table.stdout and "score" in table.stdout and "Canon EOS 5D" in table.stdout
    assert "2019-07-01 10:00:00" in table.stdout

    paths = cli("--search", query, "--limit", "2", "--format", "paths")
    assert paths.stdout.splitlines()[0] == query and len(paths.stdout.splitlines()) == 2

    lines = cli("--search", query, "--limit", "2", "--format", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["path"] == query and rows[0]["make"] == "Canon"

    rows = list(csv.DictReader(io.StringIO(cli("--search", query, "--limit", "2", "--format", "csv").stdout)))
    assert rows[0]["path"] == query and float(rows[0]["score"]) == pytest.approx(1.0, abs=1e-4)


def test_results_on_stdout_logs_on_stderr(cli: Cli, camera_folder: Path) -> None:
    index = cli.index(camera_folder)
    assert index.stdout == ""
    search = cli("--search", str(camera_folder / "canon-1.jpg"), "--format", "paths")
    assert all(Path(line).exists() for line in search.stdout.splitlines())


def test_every_kind_of_search_leaves_stderr_empty_in_a_real_process(cli: Cli, camera_folder: Path) -> None:
    """Libraries log from native code straight to file descriptor 2 (LanceDB warns when a
    query's columns leave out its score), past Python's sys.stderr: only a real process shows it."""
    import subprocess
    import sys

    from conftest import REPO

    cli.index(camera_folder)
    script = [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--db", str(cli.db), "--format", "paths"]
    searches = [
        ["--search", str(camera_folder / "canon-1.jpg")],
        ["--search", "a lighthouse", "--where", "width > 100"],
        ["--search", "Canon", "--mode", "fts"],
        ["--search", "Canon lighthouse", "--mode", "hybrid"],
        ["--color", "#1e90ff"],
        ["--where", "make = 'Canon'"],
    ]
    for search in searches:
        done = subprocess.run([*script, *search], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip(), (search, done.stderr)
        assert done.stderr == "", (search, done.stderr)


def test_several_queries_in_one_call(cli: Cli, camera_folder: Path) -> None:
    cli.index(camera_folder)
    results = cli.search(
        "--search", str(camera_folder / "fuji-1.jpg"), "a photo of a cat", "--text", "nikon", "--limit", "3"
    )
    assert [r["query_kind"] for r in results] == ["image", "text", "metadata"]
    assert paths_of(results[0])[0] == "fuji-1.jpg"
    assert paths_of(results[2]) == ["nikon-1.jpg"]


def test_a_prompt_longer_than_the_model_reads_is_searched_with_a_warning(cli: Cli, camera_folder: Path) -> None:
    """CLIP reads a fixed number of tokens (the test model 32, ViT-B-32 77) and its tokenizer drops
    the rest without a word: the user is told, and the words past the limit indeed change nothing."""
    cli.index(camera_folder)
    long_prompt = " ".join(["a watercolor lighthouse at dusk"] * 10)  # 50 words: over 32 tokens
    warned = cli("--search", long_prompt, "--format", "json")
    assert warned.code == 0
    (line,) = warned.stderr_lines()
    assert "fills all 32 tokens imagedb-tiny-cifar10 reads; any words past them are ignored" in line
    longer = cli("--search", long_prompt + " and a dog", "--format", "json")
    assert longer.json()[0]["results"] == warned.json()[0]["results"]
    short = cli("--search", "a watercolor lighthouse at dusk", "--format", "json")
    assert short.code == 0 and short.stderr_lines() == []


def test_metadata_search_sees_added_files_and_forgets_removed_ones(cli: Cli, camera_folder: Path) -> None:
    cli.index(camera_folder)
    exif_photo(camera_folder / "leica-1.jpg", "Leica Camera AG", "LEICA Q2", "2022:02:02 12:00:00", 640, seed=9)
    (camera_folder / "nikon-1.jpg").unlink()
    cli.index(camera_folder)
    (leica,) = cli.search("--text", "leica")
    assert paths_of(leica) == ["leica-1.jpg"]
    nikon, d750 = cli.search("--text", "nikon", "d750")
    assert paths_of(nikon) == [] and paths_of(d750) == []


@contextlib.contextmanager
def web_server(folder: Path):
    """A local web server for ``folder``'s files (the tests reach no other)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the CLI's stderr is what the test reads
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_file_that_is_no_picture_is_refused_before_a_model_is_loaded(
    cli: Cli, photos: Path, tmp_path: Path, model_loads: list[str]
) -> None:
    cli.index(photos)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    model_loads.clear()
    refused = cli("--search", str(notes))
    assert refused.code == 2 and refused.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: cannot read query image {notes}: not a recognised image (unknown format or corrupt header)"
    ]
    assert model_loads == []


def test_a_picture_on_the_web_is_a_query_image(cli: Cli, photos: Path, tmp_path: Path) -> None:
    """``--search https://…/photo.jpg`` fetches the picture and searches by it: an indexed photo
    served by a web server finds its own row at 1.0, and nothing of it stays on disk."""
    cli.index(photos)
    web = tmp_path / "web"
    web.mkdir()
    shutil.copy(photos / "a.jpg", web / "holiday.jpg")
    (web / "page.jpg").write_text("<html>not a picture</html>")
    temporary = set(Path(tempfile.gettempdir()).glob("imagedb-query-*"))
    with web_server(web) as address:
        (found,) = cli.search("--search", f"{address}/holiday.jpg", "--limit", "1")
        missing = cli("--search", f"{address}/gone.jpg")
        not_a_picture = cli("--search", f"{address}/page.jpg")
    assert found["query_kind"] == "image" and found["query"] == f"{address}/holiday.jpg"
    assert (found["results"][0]["path"], found["results"][0]["score"]) == (str(photos / "a.jpg"), 1.0)
    assert missing.code == 2 and missing.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: cannot fetch query image {address}/gone.jpg: the server answered 404 File not found"
    ]
    assert not_a_picture.code == 2 and len(not_a_picture.stderr_lines()) == 1
    assert "cannot read query image" in not_a_picture.stderr and "not a recognised image" in not_a_picture.stderr
    assert set(Path(tempfile.gettempdir()).glob("imagedb-query-*")) == temporary, "the fetched files are deleted"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes the connection, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/photo.jpg"
        started = time.monotonic()
        waited = cli("--search", url, "--time-limit", "1")
    assert waited.code == 2 and time.monotonic() - started < 30
    assert waited.stderr_lines() == [
        f"imagedb-{cli.backend}.py: error: cannot fetch query image {url}: the server did not answer in time (--time-limit)"
    ]


def test_a_search_plus_and_minus_other_queries_finds_the_rows_nearest_to_their_weighted_sum(
    cli: Cli, photos: Path
) -> None:
    """``--search a.jpg --add "0.5:a photo of a ship" --subtract b.png``: the hits are the rows
    nearest to a.jpg's vector plus half the prompt's less b.png's, made unit length, each scored
    by its cosine to that; worked out here from the stored vectors and the model itself."""
    from common.embedding import Embedder, ModelSpec

    cli.index(photos)
    a, b = str(photos / "a.jpg"), str(photos / "b.png")
    (found,) = cli.search("--search", a, "--add", "0.5:a photo of a ship", "--subtract", b, "--limit", "5")
    store = cli.store()
    try:
        paths, vectors = store.get_all_vectors()
    finally:
        store.close()
    stored = dict(zip(paths, vectors.astype(np.float64), strict=True))
    model = Embedder(ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG)), "cpu", text_only=True)
    target = stored[a] + 0.5 * model.embed_texts(["a photo of a ship"])[0] - stored[b]
    target /= np.linalg.norm(target)
    cosine = {path: float(vector @ target) for path, vector in stored.items()}

    assert found["query"] == f"{a} + 0.5:a photo of a ship - {b}" and found["query_kind"] == "combined"
    hits = [r["path"] for r in found["results"]]
    scores = [r["score"] for r in found["results"]]
    assert len(hits) == 5 and scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, [cosine[p] for p in hits], atol=1e-4)
    left_out = [cosine[p] for p in paths if p not in hits]
    assert min(scores) >= max(left_out) - 1e-4, "the five nearest rows, none nearer left out"
    (plain,) = cli.search("--search", a, "--limit", "5")
    assert [r["path"] for r in plain["results"]] != hits, "the terms moved the search"


def test_min_score_keeps_the_results_that_score_at_least_it(cli: Cli, photos: Path) -> None:
    """``--min-score`` with a large --limit: every image at least that close, and no other."""
    cli.index(photos)
    (everything,) = cli.search("--search", str(photos / "a.jpg"), "--limit", "50")
    threshold = everything["results"][4]["score"]
    (kept,) = cli.search("--search", str(photos / "a.jpg"), "--limit", "50", "--min-score", str(threshold))
    assert [r["path"] for r in kept["results"]] == [r["path"] for r in everything["results"] if r["score"] >= threshold]
    assert 5 <= len(kept["results"]) < len(everything["results"]) == 12
    listing = cli("--where", "width > 0", "--min-score", "0.5")
    assert listing.code == 2 and "a --where listing has none" in listing.stderr


def test_a_min_score_no_result_reaches_says_what_the_best_scored(cli: Cli, photos: Path) -> None:
    """'No matches' left the user to guess the scale of scores (a prompt's cosine rarely passes
    0.35): where --min-score keeps nothing, a line for each query says what its best scored, and
    that score as --min-score keeps that result."""
    cli.index(photos)
    (best,) = cli.search("--search", "a photo of a dog", "--limit", "1")
    top = best["results"][0]["score"]
    result = cli("--search", "a photo of a dog", str(photos / "a.jpg"), "--min-score", "0.9999", "--format", "json")
    assert result.code == 0
    assert [len(answer["results"]) for answer in result.json()] == [0, 1], "a photo's own file scores 1"
    (line,) = result.stderr_lines()
    said = re.fullmatch(
        rf"imagedb-{cli.backend}\.py: a photo of a dog: no result scores --min-score 0\.9999 or more; the best scored "
        r"(0\.\d{4})",
        line,
    )
    assert said and float(said.group(1)) == pytest.approx(top, abs=5e-5), line
    (kept,) = cli.search("--search", "a photo of a dog", "--min-score", str(float(said.group(1)) - 5e-5))
    assert [r["path"] for r in kept["results"]] == [best["results"][0]["path"]]


def test_order_by_lists_the_first_rows_in_that_order_and_search_results_by_it(cli: Cli, camera_folder: Path) -> None:
    """``--order-by``: a listing is the first --limit rows in that order (not the first by path,
    re-sorted), a missing value comes last whichever the direction, ties list by path; a search
    keeps its best --limit and lists them in that order."""
    cli.index(camera_folder)
    by_date = ["canon-2.jpg", "fuji-1.jpg", "canon-1.jpg", "nikon-1.jpg", "generated.png"]  # the PNG has no date

    def listed(*args: str) -> list[str]:
        result = cli("--where", "width > 0", *args, "--format", "paths")
        assert result.code == 0, result.stderr
        return [Path(p).name for p in result.stdout.split()]

    assert listed("--order-by", "date_taken DESC") == by_date
    assert listed("--order-by", "date_taken desc", "--limit", "2") == by_date[:2]
    assert listed("--order-by", "date_taken") == [*by_date[3::-1], "generated.png"]
    assert listed("--order-by", "make, width DESC", "--limit", "3") == ["canon-1.jpg", "canon-2.jpg", "fuji-1.jpg"]
    assert listed() == sorted(by_date), "path order without --order-by"
    (found,) = cli.search("--text", "canon nikon", "--order-by", "width")
    assert paths_of(found) == ["canon-2.jpg", "canon-1.jpg", "nikon-1.jpg"]
    (best,) = cli.search("--text", "canon nikon", "--limit", "2")
    (best_by_date,) = cli.search("--text", "canon nikon", "--limit", "2", "--order-by", "date_taken DESC")
    assert sorted(paths_of(best_by_date)) == sorted(paths_of(best)), "the same best two, in another order"
    dates = [r["date_taken"] for r in best_by_date["results"]]
    assert dates == sorted(dates, reverse=True)


def test_a_month_and_year_find_the_photos_taken_then(both: dict[str, Cli]) -> None:
    """The search text names the month a photo was taken in ("July 2019"), on both backends."""
    for cli in both.values():
        july, december, spring = cli.search("--text", "july", "december 2018", "march 2021")
        assert paths_of(july) == ["canon-1.jpg"]
        assert paths_of(december)[0] == "nikon-1.jpg"
        assert paths_of(spring)[0] == "canon-2.jpg"


def test_paths0_ends_each_path_with_a_nul_so_any_file_name_survives_a_pipe(cli: Cli, tmp_path: Path) -> None:
    """A name holding a newline breaks `--format paths | xargs`; NUL-ended paths (xargs -0) do not."""
    folder = tmp_path / "odd names"
    odd = [
        paint_photo(folder / name, seed=40 + i) for i, name in enumerate(["beach\nday 2.jpg", "plain.jpg", " lead.png"])
    ]
    cli.index(folder)
    listed = cli("--under", str(folder), "--format", "paths0")
    assert listed.code == 0, listed.stderr
    assert listed.stdout.endswith("\0") and sorted(listed.stdout.removesuffix("\0").split("\0")) == sorted(
        map(str, odd)
    )
    found = cli("--search", str(odd[0]), "--limit", "1", "--format", "paths0")
    assert found.stdout == f"{odd[0]}\0"
    refused = cli("--stats", "--format", "paths0")
    assert refused.code == 2 and "--stats counts files" in refused.stderr


def test_paths_says_when_a_name_breaks_over_lines_and_that_paths0_does_not(cli: Cli, tmp_path: Path) -> None:
    """With --format paths a name holding a line break reads as two paths, naming files that are
    not there, and nothing said so: one warning, for a listing, --duplicates and --check alike."""
    folder = tmp_path / "odd names"
    broken = paint_photo(folder / "beach\nday 2.jpg", seed=40)
    plain = paint_photo(folder / "plain.jpg", seed=41)
    shutil.copy(broken, folder / "copy of beach.jpg")
    cli.index(folder)
    warning = "1 path(s) hold a line break, such as "
    listed = cli("--under", str(folder), "--format", "paths")
    assert listed.code == 0 and listed.stdout.count("\n") == 4
    (said,) = [line for line in listed.stderr_lines() if warning in line]
    assert f"{folder}/beach\\nday 2.jpg" in said and "--format paths0 ends each path with a NUL byte" in said
    assert warning not in cli("--under", str(plain), "--format", "paths").stderr
    assert warning not in cli("--under", str(folder), "--format", "paths0").stderr
    assert warning in cli("--duplicates", "--format", "paths").stderr
    broken.unlink()
    checked = cli("--check", "--format", "paths")
    assert checked.stdout == f"{broken}\n" and warning in checked.stderr
