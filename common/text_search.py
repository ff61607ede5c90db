"""Full-text matching rules both backends share, so a metadata search finds the same rows.

LanceDB builds its native BM25 index with ``FTS_OPTIONS``; the FAISS backend, which has no
text index of its own, scores its pandas frame with ``BM25`` using a tokenizer that applies
the same rules (split on non-alphanumerics, lower case, ASCII folding, no stemming, no
stop-word removal, long tokens dropped). Stemming is off on purpose: people search metadata
for names ("Canon", "IMG_0042", "Sigma") that stemming would mangle. A query's words match
alone; its quoted phrases ("new york", "jane doe") match where their words stand together.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from common.store import rank_key

FTS_OPTIONS = {
    "base_tokenizer": "simple",
    "lower_case": True,
    "stem": False,
    "remove_stop_words": False,
    "ascii_folding": True,
    "max_token_length": 40,
    "with_position": True,  # word positions, for quoted phrases ("new york")
}
RRF_K = 60  # the reciprocal-rank-fusion constant LanceDB's RRFReranker uses by default
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Where letters meet digits inside a word: "vacation2019", "DSC01234", "Crémieux11".
_LETTER_DIGIT_BOUNDARY = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
# A phrase in quotes, straight or typographic (a Mac turns "..." into “...”, a German keyboard „...“).
_QUOTE = '"“”„'
_QUOTED = re.compile(f"[{_QUOTE}]([^{_QUOTE}]*)[{_QUOTE}]")


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-folded alphanumeric runs, as LanceDB's 'simple' tokenizer yields."""
    folded = without_accents(text.lower())
    return [t for t in _TOKEN.findall(folded) if len(t) <= FTS_OPTIONS["max_token_length"]]


def without_accents(text: str) -> str:
    """``text`` with its accents taken off ('Crémieux' → 'Cremieux'): decomposed (NFKD), the
    combining marks dropped. ASCII text has none, and is given back as it is."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


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
    return phrases, re.sub(f"[{_QUOTE}]", " ", words)


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


class BM25:
    """Okapi BM25 over a fixed list of documents (k1=1.2, b=0.75, as Lance and Tantivy use),
    scoring a query as LanceDB's index does: the words' scores summed (a word given twice counts
    twice), and a quoted phrase's words' scores where they stand next to each other in order."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        tokenized = [tokenize(doc or "") for doc in documents]
        self.term_counts = [Counter(tokens) for tokens in tokenized]
        # Each document's words, folded, a space either side of each: a phrase is found in it as
        # a substring (~0.3 us), where tokenizing the document again would cost ~12 us.
        self.spaced = [f" {' '.join(tokens)} " for tokens in tokenized]
        self.lengths = [sum(c.values()) for c in self.term_counts]
        self.average_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        self.document_frequency: Counter[str] = Counter()
        for counts in self.term_counts:
            self.document_frequency.update(counts.keys())

    def scores(self, query: str, candidates: Iterable[int] | None = None) -> dict[int, float]:
        """Score of every candidate document containing at least one of the query's words (OR
        semantics) or one of its quoted phrases."""
        allowed = None if candidates is None else set(candidates)
        phrases, words = phrases_and_words(query)
        result = self._matching(tokenize(words), allowed)
        for phrase in phrases:
            terms = tokenize(phrase)
            for i, score in self._matching(terms, allowed).items():
                if self._holds_phrase(i, terms):
                    result[i] = result.get(i, 0.0) + score
        return result

    def _matching(self, terms: list[str], allowed: set[int] | None) -> dict[int, float]:
        """Each document holding any of ``terms``, scored by the sum of their BM25 scores."""
        n = len(self.term_counts)
        result: dict[int, float] = {}
        for term, times in Counter(terms).items():
            df = self.document_frequency.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, counts in enumerate(self.term_counts):
                tf = counts.get(term, 0)
                if not tf or (allowed is not None and i not in allowed):
                    continue
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.average_length or 1))
                result[i] = result.get(i, 0.0) + times * idf * tf * (self.k1 + 1) / (tf + norm)
        return result

    def _holds_phrase(self, i: int, terms: list[str]) -> bool:
        """Whether document ``i`` has ``terms`` next to each other, in order."""
        return f" {' '.join(terms)} " in self.spaced[i]


def reciprocal_rank_fusion(rankings: Iterable[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked key lists: each key scores sum(1 / (k + rank)), rank counted from 1."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: rank_key(item[1], item[0]))
