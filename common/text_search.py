"""Full-text matching rules both backends share, so a metadata search finds the same rows.

LanceDB builds its native BM25 index with ``FTS_OPTIONS``; the FAISS backend, which has no
text index of its own, scores its pandas frame with ``BM25`` using a tokenizer that applies
the same rules (split on non-alphanumerics, lower case, ASCII folding, no stemming, no
stop-word removal, long tokens dropped). Stemming is off on purpose: people search metadata
for names ("Canon", "IMG_0042", "Sigma") that stemming would mangle.
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
}
RRF_K = 60  # the reciprocal-rank-fusion constant LanceDB's RRFReranker uses by default
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Where letters meet digits inside a word: "vacation2019", "DSC01234", "Crémieux11".
_LETTER_DIGIT_BOUNDARY = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


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
    """Okapi BM25 over a fixed list of documents (k1=1.2, b=0.75, as Lance and Tantivy use)."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.term_counts = [Counter(tokenize(doc or "")) for doc in documents]
        self.lengths = [sum(c.values()) for c in self.term_counts]
        self.average_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        self.document_frequency: Counter[str] = Counter()
        for counts in self.term_counts:
            self.document_frequency.update(counts.keys())

    def scores(self, query: str, candidates: Iterable[int] | None = None) -> dict[int, float]:
        """Score of every candidate document containing at least one query term (OR semantics)."""
        terms = set(tokenize(query))
        n = len(self.term_counts)
        allowed = None if candidates is None else set(candidates)
        result: dict[int, float] = {}
        for term in terms:
            df = self.document_frequency.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, counts in enumerate(self.term_counts):
                tf = counts.get(term, 0)
                if not tf or (allowed is not None and i not in allowed):
                    continue
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / (self.average_length or 1))
                result[i] = result.get(i, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        return result


def reciprocal_rank_fusion(rankings: Iterable[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked key lists: each key scores sum(1 / (k + rank)), rank counted from 1."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: rank_key(item[1], item[0]))
