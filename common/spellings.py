"""Words of a metadata search that no row holds, and the words of the index spelt nearly so:
``--text canonn`` is offered 'canon', ``--text arezo`` 'arezzo'.

A metadata search matches whole words, so a word typed one letter wrong finds nothing, and
'no matches' alone left the user to wonder whether the photos were not indexed. The words
offered are those of the columns people search by name (the camera, the lens, the places, the
keywords, people, location, creator, title and caption, the folders): few distinct values,
whatever the size of the library (a column holding more than ``MOST_VALUES_READ`` is left
out), read only when a search found nothing, and matched as ``common.spelt_nearly`` spells; a
word offered is one some row the search may list holds.
"""

from __future__ import annotations

from collections.abc import Callable

from common.spelt_nearly import spelt_nearly
from common.store import ImageStore
from common.text_search import tokenize

# The columns whose words are offered, each a name people type.
SPELLED_COLUMNS = (
    "make", "model", "lens", "city", "county", "state", "country", "keywords", "people", "location",
    "creator", "title", "caption", "folder",
)  # fmt: skip
MOST_VALUES_READ = 20_000  # distinct values of one column: more (a caption on every photo) are left out
MOST_OFFERED = 3
LIKENESS = 0.8  # difflib's ratio: 'canonn' and 'canon' 0.91, 'nikon' and 'canon' 0.6
SHORTEST_WORD = 4  # shorter words are too like too many others to say which was meant


def words_nearly_so(
    store: ImageStore, typed: list[str], where: str | None, index_words: Callable[[], list[str]]
) -> dict[str, list[str]]:
    """For each word of ``typed`` (as ``tokenize`` gives them) that no row ``where`` lets through
    holds, the words of the index (``index_words``: ``words_of_index``'s, read once for a
    ``--search -`` session) spelt nearly so that some such row holds (``MOST_OFFERED`` at most,
    the likest first); a word with none is left out."""
    missing = [
        word
        for word in dict.fromkeys(typed)
        if len(word) >= SHORTEST_WORD and not word.isdigit() and not store.search_by_text(word, 1, where)
    ]
    if not missing:
        return {}
    held = index_words()
    offered = {}
    for word in missing:
        near = spelt_nearly(word, held, most=MOST_OFFERED * 2, likeness=LIKENESS)
        found = [candidate for candidate in near if store.search_by_text(candidate, 1, where)][:MOST_OFFERED]
        if found:
            offered[word] = found
    return offered


def words_of_index(store: ImageStore) -> list[str]:
    """The words of ``SPELLED_COLUMNS`` in the index, each once."""
    words: dict[str, None] = {}
    for column in SPELLED_COLUMNS:
        for value in store.get_distinct_values(column, MOST_VALUES_READ) or []:
            words.update(dict.fromkeys(word for word in tokenize(value) if len(word) >= SHORTEST_WORD))
    return list(words)
