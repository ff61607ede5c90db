"""Query arithmetic: ``--search beach.jpg --add "at night" --subtract people``.

CLIP puts pictures and words in one space, so a search can start from a photo and move towards
what some words (or another photo) look like, and away from others: the vector searched for is
the sum of the queries' unit vectors, each times its weight (subtracted ones negative), made
unit length again. rclip's users search this way (``rclip "./car.jpg" + snow``); the weight
prefix is rclip's too: ``2:snow`` counts twice, ``0.5:snow`` half. Only the weights' ratios
matter, since the sum is normalised: the ``--search`` query itself counts once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# "2:snow", "0.5:./dog.jpg". The query after the colon may not start with a digit, so a
# prompt that is a time of day ("10:30 in the morning") stays a prompt; "2:" is a weight whose
# query was left out (it was searched as the prompt "2:").
WEIGHTED = re.compile(r"(?P<weight>\d+(?:\.\d+)?):(?P<query>(?!\d).*)", re.DOTALL)
# Below this length the sum is noise: the terms cancelled (the same picture added and taken away).
SHORTEST_SUM = 1e-3


class CombineError(ValueError):
    """A combination that cannot be searched: a weight of zero, or terms that cancel out."""


@dataclass(frozen=True)
class Term:
    """One query added to (``weight`` > 0) or taken from (``weight`` < 0) a ``--search`` query."""

    query: str
    weight: float
    written: str  # as the user wrote it, weight prefix and all, for the results' heading

    @property
    def sign(self) -> str:
        return "+" if self.weight > 0 else "-"


def parse_term(text: str, subtract: bool = False) -> Term:
    """``--add``/``--subtract`` word ``text`` as a term: an optional ``N:`` weight, then the query."""
    weight, query = 1.0, text
    match = WEIGHTED.fullmatch(text)
    if match:
        weight, query = float(match["weight"]), match["query"]
        if weight == 0:
            raise CombineError(f"{text!r}: a weight of 0 leaves the query out; drop it instead")
    if not query.strip():
        raise CombineError(f"{text!r}: no query after the weight")
    return Term(query, -weight if subtract else weight, text)


def terms_of(add: list[str] | None, subtract: list[str] | None) -> list[Term]:
    """The terms ``--add`` and ``--subtract`` name, in that order."""
    return [parse_term(t) for t in add or []] + [parse_term(t, subtract=True) for t in subtract or []]


def combined_vector(query: np.ndarray, terms: list[Term], vectors: list[np.ndarray]) -> np.ndarray:
    """The unit vector of ``query`` plus each term's vector times its weight."""
    total = np.asarray(query, dtype=np.float64).copy()
    for term, vector in zip(terms, vectors, strict=True):
        total += term.weight * np.asarray(vector, dtype=np.float64)
    length = float(np.linalg.norm(total))
    if length < SHORTEST_SUM:
        raise CombineError("the query and its --add/--subtract terms cancel out: nothing is left to search for")
    return (total / length).astype(np.float32)


def combined_label(query: str, terms: list[Term]) -> str:
    """How the results' heading names a combined query: ``beach.jpg + at night - people``."""
    return " ".join([query, *(f"{t.sign} {t.written}" for t in terms)])
