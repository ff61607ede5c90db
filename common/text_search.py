"""Full-text matching rules both backends share, so a metadata search finds the same rows.

LanceDB builds its native BM25 index with ``FTS_OPTIONS``; the FAISS backend, which has no
text index of its own, scores its pandas frame with ``BM25`` using a tokenizer that applies
the same rules (split on non-alphanumerics, lower case, ASCII folding, no stemming, no
stop-word removal, long tokens dropped). Stemming is off on purpose: people search metadata
for names ("Canon", "IMG_0042", "Sigma") that stemming would mangle. A query's words match
alone; its quoted phrases ("new york", "jane doe") match where their words stand together;
a word or phrase led by a minus (``canon -powershot``, ``-"new york"``) leaves out the rows
holding it, and one led by a plus (``beach +2019``) keeps only the rows holding it, as web
search engines read them (``TextQuery``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import regex

from common.saved_arrays import UNREADABLE, open_arrays, save_arrays, text_array, text_list
from common.store import rank_key

if TYPE_CHECKING:
    import pyarrow as pa

FTS_OPTIONS = {
    "base_tokenizer": "simple",
    "lower_case": True,
    "stem": False,
    "remove_stop_words": False,
    "ascii_folding": True,
    # LanceDB drops a word of this many bytes or more (UTF-8, as written: before lower-casing and
    # folding), 40 by default: a file named by its SHA-1 (40 hex digits) was not found by its
    # name, nor a Thai or Japanese title of 14 characters written without spaces. 256 keeps any
    # word a file's name can hold (255 bytes at most on every common file system).
    "max_token_length": 256,
    "with_position": True,  # word positions, for quoted phrases ("new york")
}
RRF_K = 60  # the reciprocal-rank-fusion constant LanceDB's RRFReranker uses by default
# A word, as LanceDB's 'simple' tokenizer takes one (Rust's ``char::is_alphanumeric``): a run of
# Unicode's alphabetic characters and numbers. The vowel signs of Indic scripts, Thai and others
# are alphabetic: Python's ``\w`` is not, and cut दुनिया (world) into द, न, य, which many other
# Hindi words hold too (नाटक, drama, found दुनिया.jpg on FAISS alone). A virama (्, ்) is not:
# it parts words on both.
_WORD_CHARACTER = r"[\p{Alphabetic}\p{N}]"
_TOKEN = regex.compile(_WORD_CHARACTER + "+")
# Where letters meet digits inside a word: "vacation2019", "DSC01234", "Crémieux11".
_LETTER_DIGIT_BOUNDARY = regex.compile(r"(?<=\p{Alphabetic})(?=\p{Nd})|(?<=\p{Nd})(?=\p{Alphabetic})")
# A phrase in quotes, straight or typographic (a Mac turns "..." into “...”, a German keyboard „...“).
QUOTES = '"“”„'
_QUOTED = re.compile(f"[{QUOTES}]([^{QUOTES}]*)[{QUOTES}]")
# A minus where a word starts, then a word or a quoted phrase: what the rows must not hold. A
# hyphen inside a word (t-shirt, 2019-07) is none, nor one standing alone ("canon - nikon"), nor
# one inside a phrase: '"ski trip -2019"' is three words together. Each of these patterns
# matches a quoted phrase too, group 1 None, so that a search from left to right steps over it
# (``_terms``, ``_replaced``).
_PHRASE = f"[{QUOTES}][^{QUOTES}]*[{QUOTES}]"
_LEFT_OUT = re.compile(f"{_PHRASE}|(?:^|(?<=\\s))-({_PHRASE}|[^\\s{QUOTES}]+)")
# A plus where a word starts, then a word or a quoted phrase, or several joined by '|' (any one
# will do: '+canon|nikon'): what every row must hold. A plus inside a word (c++, 1+1) is none.
_TERM = f"(?:{_PHRASE}|[^\\s{QUOTES}|]+)"
_REQUIRED = re.compile(f"{_PHRASE}|(?:^|(?<=\\s))\\+({_TERM}(?:\\|{_TERM})*)")
# Chinese and Japanese write no spaces between words, so a whole title or name is one token
# ("北京天安门广场"), and a search for "天安门" or "猫" found nothing; Thai, Lao, Khmer and Burmese
# neither ("ภาพทะเลสวย": a beautiful sea picture). The indexed text carries the characters and the
# overlapping pairs of characters of each such run (``characters_and_pairs_of_unspaced_runs``),
# and a query's run of three or more is searched as the phrase of its pairs ("天安 安门"), as
# search engines index these scripts without a dictionary (Lucene's CJK bigrams). Korean, written
# with spaces, too. Kana (but the middle dot that parts names), the iteration mark (佐々木),
# ideographs, hangul; the letters and vowel signs of the four Southeast Asian scripts, which end a
# run where a tone mark, a virama or a coeng ends a word to both tokenizers (not alphabetic).
_CJK = "\u3005\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_UNSPACED = rf"(?:[{_CJK}]|(?=\p{{Alphabetic}})[\p{{Thai}}\p{{Lao}}\p{{Khmer}}\p{{Myanmar}}])"
_UNSPACED_RUN = regex.compile(_UNSPACED + "{2,}")
# A word of three or more such characters, outside quotes: searched as the phrase of its pairs
# (``characters_and_pairs_of_unspaced_runs``).
_UNSPACED_WORD = regex.compile(f"{_PHRASE}|(?<!{_WORD_CHARACTER})({_UNSPACED}{{3,}})(?!{_WORD_CHARACTER})")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
# The combining accents on a Latin letter, once decomposed (``folded_as_lancedb_folds``).
_LATIN_ACCENTS = re.compile("(?<=[A-Za-z\u00c0-\u024f\u1e00-\u1eff])[\u0300-\u036f]+")
# Latin letters no decomposition takes to ASCII, as LanceDB's ASCII folding writes them
# ('strasse' finds Straße, 'lodz' Łódź, 'aero' Ærø).
_LATIN_LETTERS_FOLDED = str.maketrans(
    {"æ": "ae", "Æ": "AE", "ð": "d", "Ð": "D", "ø": "o", "Ø": "O", "þ": "th", "Þ": "TH", "ß": "ss", "ẞ": "SS",
     "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ı": "i", "ĸ": "q", "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE",
     "ŧ": "t", "Ŧ": "T"}
)  # fmt: skip
# What NFKD would make letters of, where LanceDB keeps them as written: half-width katakana and
# hangul (ｶﾒﾗ is not カメラ to it), Hebrew and Arabic presentation forms; and the numbers it would
# part words at, where LanceDB folds them within their word: fractions (½: 1⁄2), numbers in
# parentheses or with a stop (⑴, ⒈, ㈠, 🄁), the Greek iota subscript; and the accents that are
# letters (a small 'i' above: ͥ), which no letter is composed with and LanceDB keeps in their word
# (``folded_as_lancedb_folds``).
_KEPT_BY_LANCEDB = regex.compile(
    "([\uff61-\uffdc\ufb1d-\ufdff\ufe70-\ufeff\u00bc-\u00be\u2150-\u215f\u2189\u2474-\u249b"
    "\u3220-\u3229\u037a\U0001f100-\U0001f10a\u0345\u0363-\u036f]+)"
)
# ... and what parts words to LanceDB, beyond ASCII: what is neither alphabetic nor a number in
# the text as written (``as_lancedb_splits_words``), though NFKD makes letters of a symbol (㎏, ℃,
# ㈱) and folding takes an accent off the letter before it (Yoruba's ẹ́, which has no letter of its
# own even composed), and a Thai tone mark, a virama, a coeng.
_A_BREAK_TO_LANCEDB = regex.compile(r"[^\p{Alphabetic}\p{N}\x00-\x7f]")
# folded_words: documents joined by a character no word holds, and what is not a word (neither
# a letter nor a digit: the underscore is not one).
_DOCUMENT_BREAK = "\x01"
_NOT_A_WORD = regex.compile(r"[^\p{Alphabetic}\p{N}\x01]+")
_ASCII_NOT_A_WORD = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) != "\x01"})
# The longest word LanceDB keeps, in bytes (``FTS_OPTIONS``); an ASCII one is a character a byte
# (``folded_words``), the others are measured one by one where they may be longer: a word of a
# quarter as many characters or more (UTF-8 takes 4 bytes a character at most). Such a word is
# looked for among the runs without a space or ASCII punctuation first (Python's ``re``: a third
# of the time the regex package's alphabetic class takes over a whole text).
_LONGEST_WORD = FTS_OPTIONS["max_token_length"] - 1
_LONG_ASCII_WORD = re.compile(rf"[^ \x01]{{{_LONGEST_WORD + 1},}}")
_MAYBE_LONG_RUN = re.compile(rf"[^\s!-/:-@\[-`{{-~\x00-\x1f]{{{_LONGEST_WORD // 4 + 1},}}")
_MAYBE_LONG_WORD = regex.compile(rf"{_WORD_CHARACTER}{{{_LONGEST_WORD // 4 + 1},}}")


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-folded alphanumeric runs, as LanceDB's 'simple' tokenizer yields."""
    return _TOKEN.findall(_as_lancedb_reads(text))


def _as_lancedb_reads(text: str) -> str:
    """``text`` as LanceDB's tokenizer makes its words, in its order: split (and long words
    dropped) as written, then lower-cased, then folded (``tokenize``, ``folded_words``)."""
    return folded_as_lancedb_folds(as_lancedb_splits_words(text).lower())


def in_one_form(text: str) -> str:
    """``text`` as the search text holds it (``common.describe``) and every query is searched:
    composed (NFC), and the Turkish 'İ' an 'I'.

    A Mac writes 'é' in the names it gives files and folders as 'e' and an accent, which parts
    a word to LanceDB (the accent is no letter): 'Résumé' was 're' and 'sume' to it, not found
    by --text résumé. 'İ' lower-cases to 'i' and a dot above, which LanceDB keeps in its word:
    'İstanbul' was not found by 'istanbul'."""
    return text if text.isascii() else unicodedata.normalize("NFC", text).replace("İ", "I")  # (translate: 30 x slower)


def as_lancedb_splits_words(text: str) -> str:
    """``text`` as LanceDB's tokenizer splits it, before it lower-cases and folds each word: in
    one form (``in_one_form``: a row an older imagedb wrote may not be), without the words it
    drops (``_without_long_words``), what parts its words a space beyond ASCII
    (``_A_BREAK_TO_LANCEDB``; ASCII is parted by ``_TOKEN``)."""
    if text.isascii():
        return _without_long_words(text)
    return _A_BREAK_TO_LANCEDB.sub(" ", _without_long_words(in_one_form(text)))


def _without_long_words(text: str) -> str:
    """``text`` less the words LanceDB drops: ``_LONGEST_WORD`` bytes or more in UTF-8, as written
    (it measures them before lower-casing and folding, which can change their length)."""

    def without_long_words(run: re.Match[str]) -> str:
        return _MAYBE_LONG_WORD.sub(lambda word: " " if len(word[0].encode()) > _LONGEST_WORD else word[0], run[0])

    return _MAYBE_LONG_RUN.sub(without_long_words, text)


def without_accents(text: str) -> str:
    """``text`` with its accents taken off ('Crémieux' → 'Cremieux'): decomposed (NFKD), every
    combining mark dropped, in any script: how place names are matched (``common.place_data``);
    a metadata search folds as LanceDB does instead (``folded_as_lancedb_folds``). ASCII text
    has none, and is given back as it is. The marks are found among the text's distinct
    non-ASCII characters and dropped by one ``translate``, where a test per character costs
    ~0.1 us."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    marks = {ord(ch): None for ch in set(_NOT_ASCII.findall(decomposed)) if unicodedata.combining(ch)}
    return decomposed.translate(marks)


def folded_as_lancedb_folds(text: str) -> str:
    """``text`` with the accents of its Latin letters taken off ('Crémieux' → 'Cremieux', 'Łódź'
    → 'Lodz'), as LanceDB's ``ascii_folding`` takes them (Lucene's ASCII folding: Latin letters
    alone). Other scripts keep their marks: taking them all off (``without_accents``) had FAISS
    find ガラス (glass) for カラス (crow) and άλφα for αλφα, where LanceDB finds neither.
    Decomposed (NFKD), the marks on Latin letters dropped, the rest composed again (NFC: ガ, 한,
    ά as typed); what LanceDB keeps as written is kept from NFKD (half-width ｶﾒ, which it would
    make カメ). ``text`` is split as LanceDB splits it (``as_lancedb_splits_words``) and
    lower-cased: folding a word cannot part it, as LanceDB folds a word it has split."""
    if text.isascii():
        return text
    pieces = _KEPT_BY_LANCEDB.split(text)  # what is kept: the odd ones
    return "".join(piece if i % 2 else _latin_folded(piece) for i, piece in enumerate(pieces))


def _latin_folded(text: str) -> str:
    # ŀ folded before NFKD, which would part it ('l·'); by replace, 30 times faster than translate.
    decomposed = unicodedata.normalize("NFKD", text.replace("ŀ", "l").replace("Ŀ", "L"))
    return unicodedata.normalize("NFC", _LATIN_ACCENTS.sub("", decomposed).translate(_LATIN_LETTERS_FOLDED))


def phrases_and_words(query: str) -> tuple[list[str], str]:
    """A metadata query's quoted phrases ('"new york"': its words next to each other, in that
    order) and the rest of its words, each matched alone. A phrase of one word is a word, and
    a quote left open is no quote: the words after it are words."""
    phrases: list[str] = []

    def taken(match: re.Match[str]) -> str:
        inside = match.group(1)
        if len(tokenize(inside)) > 1:
            phrases.append(inside)
            return " "
        return f" {inside} "

    words = _QUOTED.sub(taken, query)
    return phrases, re.sub(f"[{QUOTES}]", " ", words)


@dataclass(frozen=True)
class TextQuery:
    """A metadata query taken apart: the words matched alone, the quoted phrases, the words and
    phrases a minus leaves out (``canon -powershot -"new york"``) and those a plus requires
    (``beach +2019 +"jane doe"|jane``). Both backends rank the rows by what is searched, the
    terms required included, as without the minus terms (a row left out takes nothing from
    another's score); they leave out every row holding any word or phrase left out, and every
    row lacking one of the terms required."""

    words: str
    phrases: tuple[str, ...] = ()
    left_out_words: tuple[str, ...] = ()
    left_out_phrases: tuple[str, ...] = ()
    # Each term a plus requires, as its alternatives (any one will do: '+canon|nikon', or the
    # names the index gives a place the term names), each its words one space apart as
    # ``tokenize`` gives them: a word, or a phrase when it has several.
    required: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, query: str) -> TextQuery:
        query = in_one_form(query)  # as the search text is
        query = _replaced(_UNSPACED_WORD, query, lambda run: f'"{_pairs(run)}"')
        required: list[tuple[str, ...]] = []

        def taken_as_required(term: str) -> str:
            alternatives = (" ".join(tokenize(alternative.strip(QUOTES))) for alternative in re.findall(_TERM, term))
            group = tuple(dict.fromkeys(alternative for alternative in alternatives if alternative))
            if group:
                required.append(group)
            return " "

        left_out: list[str] = []

        def taken(term: str) -> str:
            left_out.append(term)
            return " "

        phrases, words = phrases_and_words(_replaced(_LEFT_OUT, _replaced(_REQUIRED, query, taken_as_required), taken))
        # A term left out is a phrase if it has several words, quoted or not: -t-shirt is not
        # every row holding a "t".
        terms = [tokenize(term.strip(QUOTES)) for term in left_out]
        return cls(
            " ".join(words.split()),
            tuple(phrases),
            tuple(term[0] for term in terms if len(term) == 1),
            tuple(" ".join(term) for term in terms if len(term) > 1),
            tuple(required),
        )

    @property
    def searched(self) -> str:
        """What is searched for but not required, written again (phrases in quotes): where the
        places a query names are looked for (``common.place_names``)."""
        return " ".join([self.words, *(f'"{phrase}"' for phrase in self.phrases)]).strip()

    @property
    def required_terms(self) -> list[str]:
        """Each term required, written as searched ('+canon|nikon', phrases in quotes)."""
        return ["+" + "|".join(f'"{term}"' if " " in term else term for term in group) for group in self.required]

    @property
    def left_out_terms(self) -> list[str]:
        """Each word and phrase left out, written as searched (phrases in quotes, no minus)."""
        return [*self.left_out_words, *(f'"{phrase}"' for phrase in self.left_out_phrases)]

    @property
    def left_out(self) -> str:
        """What is left out, written as searched (without the minus signs)."""
        return " ".join(self.left_out_terms)

    @property
    def searches_anything(self) -> bool:
        return bool(self.phrases or tokenize(self.words) or self.required)

    def with_added(
        self, names: Sequence[str], left_out_names: Sequence[str] = (), required_names: Sequence[Sequence[str]] = ()
    ) -> TextQuery:
        """This query searching ``names`` too, leaving out ``left_out_names``, and taking
        ``required_names[i]`` for the i-th term required as well as it; a name of several words
        as a phrase: "New York City" must not match every Mexico City photo by its "city"."""

        def split(added: Sequence[str]) -> tuple[list[str], list[str]]:
            several = [name for name in added if len(tokenize(name)) > 1]
            return [name for name in added if name not in several], several

        words, phrases = split(names)
        out_words, out_phrases = split(left_out_names)
        required = list(self.required)
        for i, added in enumerate(required_names):
            required[i] = tuple(dict.fromkeys([*required[i], *(" ".join(tokenize(name)) for name in added)]))
        return TextQuery(
            " ".join([self.words, *words]).strip(),
            (*self.phrases, *phrases),
            (*self.left_out_words, *(word for name in out_words for word in tokenize(name))),
            (*self.left_out_phrases, *out_phrases),
            tuple(required),
        )

    def written(self) -> str:
        """The query as a store takes it (``TextQuery.of`` gives this query back)."""
        terms = [self.searched, *self.required_terms, *(f"-{term}" for term in self.left_out_terms)]
        return " ".join(terms).strip()

    def rules_out(self, text: str) -> bool:
        """Whether a row whose search text is ``text`` holds a word or phrase this query leaves
        out, or lacks a term it requires (the vector half of a hybrid search drops such rows as
        the text half does)."""
        if not (self.left_out_words or self.left_out_phrases or self.required):
            return False
        (folded,) = folded_words([text])
        if any(not any(f" {term} " in folded for term in group) for group in self.required):
            return True
        return any(f" {word} " in folded for word in self.left_out_words) or any(
            f" {' '.join(tokenize(phrase))} " in folded for phrase in self.left_out_phrases
        )


def _terms(pattern: re.Pattern[str], query: str) -> list[str]:
    """What ``pattern`` (``_LEFT_OUT`` or ``_REQUIRED``) takes from ``query``, outside its phrases."""
    return [match.group(1) for match in pattern.finditer(query) if match.group(1) is not None]


def _replaced(pattern: re.Pattern[str] | regex.Pattern[str], query: str, replace: Callable[[str], str]) -> str:
    """``query`` with each term ``pattern`` takes from it, outside its phrases, replaced."""
    return pattern.sub(lambda match: match.group(0) if match.group(1) is None else replace(match.group(1)), query)


def left_out_as_written(query: str) -> list[str]:
    """The words and phrases a minus leaves out of ``query``, as written (quotes and all)."""
    return _terms(_LEFT_OUT, query)


def required_as_written(query: str) -> list[str]:
    """The terms a plus requires in ``query``, as written ('canon|nikon', quotes and all)."""
    return _terms(_REQUIRED, query)


def as_the_model_reads(query: str) -> str:
    """``query`` without the words and phrases a minus leaves out, and the terms a plus requires
    as words ('+canon|nikon': 'canon nikon'), in its own order otherwise: the prompt the model
    gets in a hybrid search (it reads no minus: '-cat' would bring cats)."""
    kept = _replaced(_REQUIRED, query, lambda term: " " + " ".join(re.findall(_TERM, term)) + " ")
    kept = _replaced(_LEFT_OUT, kept, lambda term: " ")
    return query if kept == query else " ".join(kept.split())


def words_as_searched(text: str) -> list[str]:
    """The words a metadata search looks for where ``text`` is typed (outside quotes):
    ``tokenize``'s, a run of three or more characters written without spaces as its pairs
    ('イタリア': 'イタ', 'タリ', 'リア'), as ``TextQuery.of`` reads a query."""
    return tokenize(_replaced(_UNSPACED_WORD, in_one_form(text), _pairs))


def characters_and_pairs_of_unspaced_runs(text: str) -> list[str]:
    """For each run of ``text`` written without spaces between words (Chinese, Japanese, Korean,
    Thai, Lao, Khmer, Burmese: ``_UNSPACED``): its characters, then its overlapping pairs in order
    (a phrase of them is then a run of characters in the text). A run held twice (the file's name
    is in its path too) is given once: twice would weigh twice."""
    found = []
    for run in dict.fromkeys(_UNSPACED_RUN.findall(text)):
        found += [" ".join(run), _pairs(run)]
    return found


def _pairs(run: str) -> str:
    return " ".join(run[i : i + 2] for i in range(len(run) - 1))


def word_parts(text: str) -> list[str]:
    """The letter and digit runs of every word in ``text`` that mixes them, each once.

    Both tokenizers keep "vacation2019" whole, so a search for "vacation" would miss the file
    named that; the indexed text carries the parts too ("vacation", "2019"), and a search for
    the whole word still matches it as one token.
    """
    parts: dict[str, None] = {}
    for word in _TOKEN.findall(text):
        pieces = _LETTER_DIGIT_BOUNDARY.split(word)
        if len(pieces) > 1:
            parts.update(dict.fromkeys(pieces))
    return list(parts)


# What a saved ``Postings`` file was made under: bump it when ``tokenize``'s rules or the file's
# layout change, and a file an earlier version saved is built again instead of read.
# 2: the words as common.saved_arrays keeps text (each ended by a NUL, not joined by newlines).
# 3: each document's keys (``DocumentKeys``) beside its words. 4: accents taken off Latin
# letters alone (``folded_as_lancedb_folds``). 5: ß, æ, ø, ł and the like folded as LanceDB does.
# 6: words of Unicode's alphabetic characters (an Indic vowel sign in its word, ``_TOKEN``).
# 7: half-width katakana and symbols such as ㎏ kept from NFKD (``folded_as_lancedb_folds``).
# 8: words kept up to 255 bytes as written, where 40 characters were (``FTS_OPTIONS``). 9: the
# text composed (``in_one_form``) and split as LanceDB splits it before folding
# (``as_lancedb_splits_words``): at an accent no letter is composed with, ½, ŀ and ͥ whole.
POSTINGS_FORMAT = 9


@dataclass(frozen=True)
class DocumentKeys:
    """Which documents postings are of: each one's id (a store's row id) and a hash of its text.

    Saved with the postings, they let postings made for one commit serve the next
    (``Postings.carried_over``): a document with the same id and the same text has the same
    words, so only the documents a commit added or changed are read again."""

    ids: np.ndarray  # int64
    hashes: np.ndarray  # uint64: the text's (a missing text hashed as the empty one it reads as)

    @classmethod
    def of(cls, ids: np.ndarray, documents: pa.Array | pa.ChunkedArray) -> DocumentKeys:
        """The keys of ``documents``, whose ids are ``ids`` (~0.3 s a million documents)."""
        import pandas as pd

        texts = documents.fill_null("").to_numpy(zero_copy_only=False)
        hashes = pd.util.hash_array(texts, categorize=False) if len(texts) else np.zeros(0, np.uint64)
        return cls(np.asarray(ids, dtype=np.int64), hashes)

    def positions_of_unchanged(self, now: DocumentKeys) -> np.ndarray:
        """For each document of ``now``, its position among these documents when it is one of
        them with the same text; -1 when it is new or its text changed."""
        if not len(self.ids):
            return np.full(len(now.ids), -1, dtype=np.int64)
        order = np.argsort(self.ids, kind="stable")
        at = np.minimum(np.searchsorted(self.ids[order], now.ids), len(order) - 1)
        before = order[at]
        unchanged = (self.ids[before] == now.ids) & (self.hashes[before] == now.hashes)
        return np.where(unchanged, before, -1)


@dataclass(frozen=True)
class Postings:
    """Each word's postings: the documents holding it and how often, with each document's
    length in words — all that BM25 ranks by, in arrays.

    Built by a few passes over all the documents at once (``folded_words``, Arrow's split and
    dictionary encoding, one stable sort): 0.35-0.8 s at 100k rows. Saved (``save``) and read
    back (``read``, ~15 ms at 100k rows) by a store that keeps them beside its index, and
    carried over to the documents of its next commit (``carried_over``)."""

    term_ids: dict[str, int]
    # int32: the postings' documents, word by word (each word's in no particular order: built,
    # they are ascending; carried over, a document kept stays where its word's list had it)
    documents: np.ndarray
    counts: np.ndarray  # int32: how often the word stands in that document
    starts: np.ndarray  # int64: word i's postings are [starts[i], starts[i + 1])
    lengths: np.ndarray  # int32: each document's length in words

    @classmethod
    def of(cls, documents: Sequence[str | None]) -> Postings:
        import pyarrow as pa
        import pyarrow.compute as pc

        bare = [spaced[1:-1] for spaced in folded_words(documents)]
        # Words and their documents in Arrow's columns: no Python object for each of them.
        lists = pc.split_pattern(pa.array(bare, pa.large_string()), " ")
        words, document_of = pc.list_flatten(lists), pc.list_parent_indices(lists)
        if not all(bare):  # an empty document splits into one empty word
            is_word = pc.not_equal(words, "")
            words, document_of = words.filter(is_word), document_of.filter(is_word)
        encoded = pc.dictionary_encode(words)
        term_ids = {term: i for i, term in enumerate(encoded.dictionary.to_pylist())}
        # The words sorted, each one's documents kept in order (the sort is stable): a word's
        # postings are one slice, a word counted twice in a document two neighbours.
        codes = encoded.indices.to_numpy()
        order = np.argsort(codes, kind="stable")
        word_of, document_of = codes[order], document_of.to_numpy()[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (word_of[1:] != word_of[:-1]) | (document_of[1:] != document_of[:-1])
        firsts = np.flatnonzero(first)
        return cls(
            term_ids,
            document_of[firsts].astype(np.int32),
            np.diff(np.append(firsts, len(order))).astype(np.int32),
            np.searchsorted(word_of[firsts], np.arange(len(term_ids) + 1)).astype(np.int64),
            np.bincount(document_of, minlength=len(bare)).astype(np.int32),
        )

    def of_word(self, word: int) -> tuple[np.ndarray, np.ndarray]:
        """The documents holding word number ``word``, and how often each does."""
        start, stop = int(self.starts[word]), int(self.starts[word + 1])
        return self.documents[start:stop], self.counts[start:stop]

    def save(self, path: str, keys: DocumentKeys) -> None:
        """Write them, and the ``keys`` of their documents, to ``path`` (an .npz of plain arrays:
        reading it back runs no code)."""
        save_arrays(path, {
            "format": np.int64(POSTINGS_FORMAT), "words": text_array(self.term_ids),
            "documents": self.documents, "counts": self.counts, "starts": self.starts, "lengths": self.lengths,
            "ids": keys.ids, "hashes": keys.hashes,
        })  # fmt: skip

    @classmethod
    def read(cls, path: str, count: int) -> Postings | None:
        """The postings ``save`` wrote to ``path`` for ``count`` documents; None when there are
        none, or they were saved by another version or for other documents, or are damaged."""
        saved = cls.read_with_keys(path)
        return saved[0] if saved is not None and len(saved[1].ids) == count else None

    @classmethod
    def read_with_keys(cls, path: str) -> tuple[Postings, DocumentKeys] | None:
        """The postings ``save`` wrote to ``path`` and their documents' keys, whichever documents
        they are of; None when there are none, or they were saved by another version, or are
        damaged."""
        try:
            with open_arrays(path) as saved:
                if int(saved["format"]) != POSTINGS_FORMAT:
                    return None
                words = text_list(saved["words"])
                postings = cls(
                    dict(zip(words, range(len(words)), strict=True)),
                    saved["documents"], saved["counts"], saved["starts"], saved["lengths"],
                )  # fmt: skip
                keys = DocumentKeys(saved["ids"], saved["hashes"])
        except UNREADABLE:
            return None
        count = len(keys.ids)
        return (postings, keys) if postings.fits(count) and len(keys.hashes) == count else None

    def fits(self, count: int) -> bool:
        """Whether these are whole postings of ``count`` documents (not another index's, not cut
        short: a damaged file fails its zip checksum before this)."""
        entries = len(self.documents)
        if len(self.lengths) != count or len(self.counts) != entries or len(self.starts) != len(self.term_ids) + 1:
            return False
        if entries == 0:
            return not self.starts.any()
        first, last = int(self.documents.min()), int(self.documents.max())
        return int(self.starts[0]) == 0 and int(self.starts[-1]) == entries and first >= 0 and last < count

    def carried_over(self, keys: DocumentKeys, now: DocumentKeys, documents: pa.Array | pa.ChunkedArray) -> Postings:
        """The postings of ``documents`` (keyed ``now``), made from these (of documents keyed
        ``keys``): a document both hold with the same text keeps its entries, renumbered to where
        it stands now, and only the others are read (``of``). What ``of`` would give for all of
        ``documents``, but for the order of the words and of each word's documents; a word no
        document holds any more is dropped."""
        from common.arrow_rows import take_rows  # pyarrow: not in the decoding workers, which tokenize

        before = keys.positions_of_unchanged(now)
        stays = before >= 0
        fresh = np.flatnonzero(~stays)
        added = Postings.of(take_rows(documents, fresh).to_pylist())
        # The entries of the documents kept, renumbered, in a few passes (a million rows hold ~14M
        # entries): still grouped by word, each word's documents in their old order, which need
        # not be ascending now (a row written again with the same text moves to the end).
        position_now = np.full(len(keys.ids), -1, dtype=np.int32)
        position_now[before[stays]] = np.flatnonzero(stays)
        renumbered = position_now[self.documents]
        kept = renumbered >= 0
        dropped = np.flatnonzero(~kept)  # few: the entries of the documents gone or changed
        dropped_of_word = np.bincount(
            np.searchsorted(self.starts, dropped, side="right") - 1, minlength=len(self.term_ids)
        )
        kept_of_word = np.diff(self.starts) - dropped_of_word
        kept_documents, kept_counts = renumbered[kept], self.counts[kept]
        # The added documents' entries go after their word's kept ones (a word new here after all
        # of them), inserted word by word in one pass.
        term_ids = dict(self.term_ids)
        added_words = np.array([term_ids.setdefault(word, len(term_ids)) for word in added.term_ids], dtype=np.int64)
        word_of_added = added_words[np.repeat(np.arange(len(added_words)), np.diff(added.starts))]
        by_word = np.argsort(word_of_added, kind="stable")
        kept_of_word = np.append(kept_of_word, np.zeros(len(term_ids) - len(kept_of_word), dtype=np.int64))
        before_entry = np.cumsum(kept_of_word)[word_of_added[by_word]]
        documents_of = np.insert(kept_documents, before_entry, fresh[added.documents][by_word].astype(np.int32))
        counts = np.insert(kept_counts, before_entry, added.counts[by_word])
        starts = np.zeros(len(term_ids) + 1, dtype=np.int64)
        np.cumsum(kept_of_word + np.bincount(word_of_added, minlength=len(term_ids)), out=starts[1:])
        lengths = np.empty(len(now.ids), dtype=np.int32)
        lengths[stays] = self.lengths[before[stays]]
        lengths[fresh] = added.lengths
        held = np.diff(starts) > 0
        if not held.all():  # words only the documents gone or changed held
            words = [word for word, keep in zip(term_ids, held.tolist(), strict=True) if keep]
            term_ids = dict(zip(words, range(len(words)), strict=True))
            starts = np.append(starts[:-1][held], starts[-1])
        return Postings(term_ids, documents_of, counts, starts, lengths)


class BM25:
    """Okapi BM25 over a fixed list of documents (k1=1.2, b=0.75, as Lance and Tantivy use),
    scoring a query as LanceDB's index does: the words' scores summed (a word given twice counts
    twice), and a quoted phrase's words' scores where they stand next to each other in order.

    ``documents`` are only read again for a quoted phrase, and only those holding all its
    words: ranking needs the ``postings`` alone (built from the documents when not given), so
    a store that kept them need not fold its whole text again. A query costs ~3 ms at 100k rows.
    """

    def __init__(
        self,
        documents: pa.Array | pa.ChunkedArray | Sequence[str | None],
        postings: Postings | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        import pyarrow as pa

        self.k1, self.b = k1, b
        if not isinstance(documents, pa.Array | pa.ChunkedArray):
            documents = pa.array(list(documents), pa.large_string())
        self.documents = documents
        self.count = len(documents)
        self.postings = postings if postings is not None else Postings.of(documents.to_pylist())
        lengths = self.postings.lengths
        average_length = (int(lengths.sum()) / self.count) if self.count else 0.0
        self.norm = self.k1 * (1 - self.b + self.b * lengths / (average_length or 1))
        # Documents folded for a phrase (``folded_words``), kept for the next: ~2 us each to fold.
        self._folded: dict[int, str] = {}

    def matches(self, query: str, candidates: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The documents (of ``candidates``, when given) holding at least one of the query's words
        (OR semantics) or one of its quoted phrases, one of each term's alternatives it requires
        (then these alone make a match: the rest only score) and none it leaves out, and their
        scores."""
        allowed = None
        if candidates is not None:
            allowed = np.zeros(self.count, dtype=bool)
            allowed[np.fromiter(candidates, dtype=np.int64)] = True
        parts = TextQuery.of(query)
        holds, total = self._matching(tokenize(parts.words), allowed)
        held = holds > 0
        for phrase in parts.phrases:
            holding, phrase_total = self._holding_phrase(phrase, allowed)
            held[holding] = True
            total[holding] += phrase_total[holding]
        for i, group in enumerate(parts.required):  # searched as the rest are, and a row must hold one of each
            holds_one = np.zeros(self.count, dtype=bool)
            for term in group:
                holding, term_total = (
                    self._holding_phrase(term, allowed) if " " in term else self._holding_word(term, allowed)
                )
                holds_one[holding] = True
                total[holding] += term_total[holding]
            held = holds_one if i == 0 else held & holds_one
        if parts.left_out_words:
            held[self._matching(list(parts.left_out_words), allowed)[0] > 0] = False
        for phrase in parts.left_out_phrases:
            held[self._holding_phrase(phrase, allowed)[0]] = False
        documents = np.flatnonzero(held)
        return documents, total[documents]

    def _holding_word(self, word: str, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The documents holding ``word``, and each document's BM25 score of it."""
        holds, total = self._matching([word], allowed)
        return np.flatnonzero(holds), total

    def _holding_phrase(self, phrase: str, allowed: np.ndarray | None) -> tuple[list[int], np.ndarray]:
        """The documents holding ``phrase`` (its words next to each other, in order), and each
        document's sum of the BM25 scores of its words."""
        terms = tokenize(phrase)
        phrase_holds, phrase_total = self._matching(terms, allowed)
        # Only a document holding every word of the phrase can hold the phrase.
        holding_all = np.flatnonzero(phrase_holds == len(set(terms)))
        needle = f" {' '.join(terms)} "
        return [i for i in self._fold(holding_all) if needle in self._folded[i]], phrase_total

    def _matching(self, terms: list[str], allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """How many of the distinct ``terms`` each document holds, and the sum of their BM25
        scores in it."""
        holds = np.zeros(self.count, dtype=np.int32)
        total = np.zeros(self.count, dtype=np.float64)
        for term, times in Counter(terms).items():
            word = self.postings.term_ids.get(term)
            if word is None:
                continue
            documents, tf = self.postings.of_word(word)
            df = len(documents)
            idf = math.log(1 + (self.count - df + 0.5) / (df + 0.5))
            if allowed is not None:
                kept = allowed[documents]
                documents, tf = documents[kept], tf[kept]
            total[documents] += times * idf * tf * (self.k1 + 1) / (tf + self.norm[documents])
            holds[documents] += 1
        return holds, total

    def _fold(self, documents: np.ndarray) -> list[int]:
        """``documents`` as a list, each one's folded words in ``_folded`` (looked up, or folded now)."""
        wanted = documents.tolist()
        new = [i for i in wanted if i not in self._folded]
        if new:
            from common.arrow_rows import take_rows  # pyarrow: not in the decoding workers, which tokenize

            texts = folded_words(take_rows(self.documents, new).to_pylist())
            self._folded.update(zip(new, texts, strict=True))
        return wanted


def folded_words(documents: Sequence[str | None]) -> list[str]:
    """Each document's words as ``tokenize`` gives them, one space apart and a space either
    side (" canon eos 2019 "). The documents are folded together, a few passes of C over one
    string instead of a regular expression per document: the ASCII ones (most: paths, cameras,
    dates) by one ``translate``, the others as ``tokenize`` does."""
    texts = [(document or "").replace(_DOCUMENT_BREAK, " ") for document in documents]
    spaced = [""] * len(texts)
    plain = [i for i, text in enumerate(texts) if text.isascii()]
    other = [i for i, text in enumerate(texts) if not text.isascii()]
    for group, words_of in ((plain, _ascii_words), (other, _words)):
        if not group:
            continue
        text = words_of(_DOCUMENT_BREAK.join(texts[i] for i in group))
        for i, words in zip(group, text.split(_DOCUMENT_BREAK), strict=True):
            spaced[i] = f" {' '.join(words.split())} "
    return spaced


def _ascii_words(text: str) -> str:
    """ASCII ``text``, lower-cased, with what is not a word a space (one ``translate``: CPython
    maps ASCII to ASCII through a table of 128), and without the words LanceDB drops (rare: the
    pattern runs only when one is there)."""
    words = text.lower().translate(_ASCII_NOT_A_WORD)
    if max(map(len, words.split()), default=0) > _LONGEST_WORD:
        words = _LONG_ASCII_WORD.sub(" ", words)
    return words


def _words(text: str) -> str:
    """Lower-cased ``text`` with its accents taken off and what is not a word a space, without
    the words LanceDB drops (``_without_long_words``)."""
    return _NOT_A_WORD.sub(" ", _as_lancedb_reads(text))


def reciprocal_rank_fusion(rankings: Iterable[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked key lists: each key scores sum(1 / (k + rank)), rank counted from 1."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: rank_key(item[1], item[0]))
