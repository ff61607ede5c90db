"""What an invocation asks for, checked before the model or the database is touched.

Every refusal here is one line and exit status 2, with nothing written: an option with no part
in the run (``common.runs``), a value that cannot be meant (a radius past half the Earth, a
colour no one names), a query image or folder not there, text in another encoding, a ``--where``
or ``--order-by`` that does not parse. ``--near`` is read here too, into the ``--where`` every
search kind takes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from common.defaults import DEFAULT_RADIUS_KM, MAX_RADIUS_KM
from common.discovery import (
    absolute,
    has_image_extension,
    has_storable_name,
    kind_of_file,
    missing_roots,
    no_answer_in,
    normalise_root,
    path_as_named_on_disk,
)
from common.fetch import looks_like_a_url, why_no_url
from common.ordering import OrderError, parse_order
from common.runs import QUERIES_FROM_STDIN, option_with_no_part, reads_queries_from_stdin, wants_results
from common.store import FilterError

if TYPE_CHECKING:
    from common.combine import Term

log = logging.getLogger("imagedb")


class UsageError(Exception):
    """A bad invocation: reported as one line, exit status 2, nothing written."""


# Archives a library comes in (Google Takeout's .zip or .tgz parts): named to --index, refused
# with what to do, rather than read as a picture that fails.
ARCHIVES = (".zip", ".tgz", ".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".7z", ".rar")


class MissingFolder(UsageError):
    """An --index folder that is not there: a typo, or a drive not mounted (``Session.held_rows_hint``)."""

    def __init__(self, folder: str) -> None:
        super().__init__(f"folder not found: {folder}{did_you_mean(folder, folder=True)}")
        self.folder = folder


def did_you_mean(path: str, *, folder: bool) -> str:
    """'; did you mean <the path spelt nearly so that is there>?' (``common.near_paths``), or ''."""
    from common.near_paths import path_spelt_nearly

    near = path_spelt_nearly(path, folder=folder)
    return f"; did you mean {near}?" if near else ""


# What each option that names something is given: an empty value (a shell variable not set:
# --index "$PHOTOS") names nothing (``refuse_empty_names``).
NAMED_BY = {
    "index": "a folder", "forget": "a folder", "under": "a folder", "near": "a place or a position",
    "palette": "an image file", "html": "the page to write", "export": "the file to write",
    "db": "the index's folder", "config": "a YAML file", "model": "an open_clip model name",
    "pretrained": "a pretrained tag, a checkpoint or 'none'", "model_config": "a model-config JSON file",
}  # fmt: skip


def check_invocation(args: argparse.Namespace) -> None:
    """Everything that can be refused before touching the model or the database."""
    refuse_empty_names(args)
    if not (
        args.index or args.forget or args.check or args.repair or args.export or args.duplicates or args.stats
        or wants_results(args)
    ):  # fmt: skip
        raise UsageError(
            "nothing to do: give --index DIR, --search QUERY, --text QUERY, --where SQL, --stats or --check"
        )
    refusal = option_with_no_part(args)  # typed: a config file's settings are for the runs they have a part in
    if refusal:
        raise UsageError(refusal)
    if args.radius is not None and args.radius > MAX_RADIUS_KM:
        raise UsageError(f"--radius {args.radius:g}: at most {MAX_RADIUS_KM:,.0f} km, half the way round the Earth")
    if args.color and args.palette:
        raise UsageError("give --color or --palette, not both")
    if args.color:
        from common.color import ColorError, parse_colors

        try:
            parse_colors(args.color)
        except ColorError as error:
            raise UsageError(f"--color: {error}") from None
    if args.palette and not os.path.isfile(args.palette):
        raise UsageError(no_image_file("palette image", args.palette, args.palette))
    # A file named in quotes ("~/results.html"), where the shell leaves the ~, means what it does
    # typed bare, as every path read is (--index, --db, a query image): it was "its folder does
    # not exist" (or, had a folder named ~ been there, a file written in it).
    args.html, args.export = (os.path.expanduser(path) if path else path for path in (args.html, args.export))
    if args.html == "-":  # stdout already has the results, in --format; '-' wrote a file so named
        raise UsageError("--html -: the page is written to a file: name it, as in --html results.html")
    if args.html and not os.path.isdir(os.path.dirname(os.path.abspath(args.html))):
        raise UsageError(f"--html {args.html}: its folder does not exist")
    if args.html and os.path.isdir(args.html):
        # Found before the search, not after it: the page is named, not its folder.
        raise UsageError(f"--html {args.html}: is a folder; name the page to write, as in {args.html}/results.html")
    if args.export:
        from common.export import export_format

        if export_format(args.export) is None:
            raise UsageError(f"--export {args.export}: use a .jsonl (JSON Lines), .pkl (pickle) or .parquet file name")
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.export))):
            raise UsageError(f"--export {args.export}: its folder does not exist")
        if os.path.isdir(args.export):
            raise UsageError(f"--export {args.export}: is a folder; name the file to write")
    for pattern in args.exclude or ():
        if not pattern.strip(os.sep + " "):  # '' or '/': it left nothing out, and said nothing
            raise UsageError(
                f"--exclude {pattern!r} names nothing: give a name ('Screenshots', '*_thumb.jpg') or a path"
            )
    # A folder on a drive that does not answer cannot be told from one that is not there: its
    # rows are kept as they are, and neither this look nor the run's waits on it again.
    patience = args.time_limit or None
    missing, unanswered = missing_roots(args.index or [], patience)
    if missing:
        raise MissingFolder(missing[0])
    args.silent_roots = {absolute(root): no_answer_in(patience) for root in unanswered}
    for root in args.index or []:
        silent = absolute(root) in args.silent_roots
        if not has_storable_name(absolute(root) if silent else normalise_root(root)):
            raise UsageError(f"cannot index {root}: its name is not valid UTF-8 (another encoding?); rename it")
        # Google Takeout comes as .zip or .tgz.
        if not silent and root.lower().endswith(ARCHIVES) and os.path.isfile(root):
            raise UsageError(f"--index {root}: an archive, not a picture: extract it, then index the folder it makes")
    if reads_queries_from_stdin(args) and (len(args.search) > 1 or args.text):
        raise UsageError(
            f"--search {QUERIES_FROM_STDIN} reads every query from stdin, one a line: give no other --search or --text query"
        )
    for query in (args.text or []) + (args.add or []) + (args.subtract or []):
        if not query.strip():
            raise UsageError("empty query: give an image path or some words")
    typed, named = "typed in a terminal set to", "a name in"  # folders: the index holds no such name
    for option, values, likely in (
        ("--search", [] if reads_queries_from_stdin(args) else args.search, typed), ("--add", args.add, typed),
        ("--subtract", args.subtract, typed), ("--text", args.text, typed), ("--where", [args.where], typed),
        ("--near", [args.near], typed), ("--order-by", [args.order_by], typed), ("--color", args.color, typed),
        ("--under", args.under, named), ("--forget", args.forget, named),
    ):  # fmt: skip
        for value in values or ():
            if value is not None:
                refuse_bytes_of_another_encoding(option, value, sys.getfilesystemencoding(), likely)
    for query in [] if reads_queries_from_stdin(args) else args.search or []:
        check_query(query, args.mode)
    for query in args.text or []:
        check_words("--text", query)
    for term in query_terms(args):
        check_query(term.query)
    if args.order_by is not None:
        try:
            parse_order(args.order_by)
        except OrderError as error:
            raise UsageError(f"--order-by {args.order_by!r}: {error}") from None
    if args.where is not None:
        from common.filters import validate_where

        try:
            args.where = validate_where(args.where)
        except FilterError as error:
            raise FilterError(f"invalid --where {args.where!r}: {error}") from None


def refuse_bytes_of_another_encoding(what: str, value: str, encoding: str, likely: str) -> None:
    """Refuse a value whose bytes were not ``encoding`` text (typed in a terminal set to Latin-1,
    a line of a file written in another encoding; ``likely`` says which): Python keeps each odd
    byte as a stand-in that no tokenizer, SQL engine or store can take, and the run ended on an
    unexpected error."""
    if not has_storable_name(value):
        try:  # the bytes as they came
            shown = repr(value.encode(encoding, "surrogateescape"))[2:-1]
        except UnicodeEncodeError:  # (mixed with characters the encoding has not: as Python writes them)
            shown = ascii(value)[1:-1]
        raise UsageError(f"{what} {shown}: not {encoding.upper()} text ({likely} another encoding?)")


def check_query(query: str, mode: str = "vector") -> None:
    """Refuse a query that cannot be meant as given: empty, a missing image file, a folder, words
    that a metadata search (``mode`` fts or hybrid) would only leave out."""
    if not query.strip():
        raise UsageError("empty query: give an image path or some words")
    no_url = why_no_url(query)
    if no_url is None:  # a URL is fetched when searched: asked once
        return
    path = path_as_named_on_disk(query)
    if os.path.isfile(path):
        return
    if looks_like_a_url(query):
        raise UsageError(f"--search {query}: not a web address to fetch ({no_url})")
    if os.path.isdir(path) and (has_image_extension(query) or names_a_folder(query)):
        raise UsageError(f"--search {query}: that is a folder; give an image file (or words to search for)")
    if has_image_extension(query) or written_as_a_path(query):
        raise UsageError(no_image_file("query image", query, path))
    if mode != "vector":
        check_words("--search", query)


def check_words(option: str, query: str) -> None:
    """Refuse a metadata query that only leaves words out (``-nikon``): it would rank nothing,
    and every row without them is a filter's answer (``--where``), not a search's."""
    from common.text_search import TextQuery

    parts = TextQuery.of(query)
    if parts.left_out and not parts.searches_anything:
        raise UsageError(
            f"{option} {query!r}: only words to leave out (a minus before each): give a word to search for "
            "too, or filter with --where"
        )


def no_image_file(what: str, given: str, path: str) -> str:
    """Why ``given`` (at ``path``), named as an image file, cannot be read as one: it is not
    there, or it is there but no file (a named pipe would wait for a writer forever, a device
    never end): saying 'not found' of what ``ls`` shows would send the user looking elsewhere."""
    if not os.path.exists(path):
        return f"{what} not found: {given}{did_you_mean(path, folder=False)}"
    return f"{what} {given} is not a file but {kind_of_file(path)}; give an image file"


def refuse_empty_names(args: argparse.Namespace) -> None:
    """Refuse an option of ``NAMED_BY`` given an empty or blank value. As a path, '' is the current
    folder to the system: ``--forget ""`` run in a library's folder forgot its rows, ``--index ""``
    read the folder the shell was in; elsewhere it was no value at all, and a place, a page or an
    export asked for was left out without a word."""
    for name, what in NAMED_BY.items():
        value = getattr(args, name, None)
        for given in value if isinstance(value, list) else [value]:
            if isinstance(given, str) and not given.strip():
                option = "--" + name.replace("_", "-")
                raise UsageError(f"{option} {given!r}: names nothing (a shell variable not set?): give {what}")


def narrow_by_place(args: argparse.Namespace) -> None:
    """Fold ``--near`` into ``--where``: one SQL condition that every search kind, a listing and
    ``--stats`` take, so each backend filters it with its own engine. ``args.filter_label`` is
    how results and counts name the filter ('within 10 km of Florence, Tuscany, Italy')."""
    if not args.near:
        return
    from common.nearby import NearError, centre_of, near_label, with_near

    try:
        centre = centre_of(args.near)
    except NearError as error:
        raise UsageError(str(error)) from None
    km = args.radius or DEFAULT_RADIUS_KM
    namesake = f"; {args.near} is also {centre.next_of_name}" if centre.next_of_name else ""
    log.info(
        "near %s (%.5f, %.5f): within %g km%s", centre.label, centre.latitude, centre.longitude, round(km, 3), namesake
    )  # fmt: skip
    args.filter_label = near_label(args.filter_label, centre, km)
    args.apart_from_near = args.where  # with --under's folders added later: what the nearest is among
    args.where = with_near(args.where, centre, km)
    args.near_centre, args.near_km = centre, km


def query_terms(args: argparse.Namespace) -> list[Term]:
    """What ``--add`` and ``--subtract`` ask to combine with each ``--search`` query."""
    from common.combine import CombineError, terms_of

    try:
        return terms_of(args.add, args.subtract)
    except CombineError as error:
        raise UsageError(f"--add/--subtract {error}") from None


def query_image(query: str) -> str | None:
    """The image file a ``--search`` query names (``~`` expanded: a config file's, or a quoted,
    ``~/Pictures/cat.jpg``), or None: the query is a text prompt."""
    path = path_as_named_on_disk(query)
    return path if os.path.isfile(path) else None


def written_as_a_path(query: str) -> bool:
    """Whether a ``--search`` query that names nothing on disk was meant as a path all the same:
    it starts as only a path does (``./``, ``../``, ``~/``: ``~/Pictures/IMG_0042``, its extension
    forgotten), or with a slash and reads as no sentence (``/mnt/cam/``, a drive not mounted;
    ``/beach``). Searched as words, it found the pictures nearest to the words of a path; a
    prompt that starts with a slash (``/imagine a red car``) is still one."""
    separators = {"/", os.sep}
    if query.startswith(tuple(start + separator for start in (".", "..", "~") for separator in separators)):
        return True
    if not query.startswith(tuple(separators)):
        return False
    rest = query.lstrip("/" + os.sep)
    return any(separator in rest for separator in separators) or not any(character.isspace() for character in query)


def names_a_folder(query: str) -> bool:
    """Whether a ``--search`` query that is a folder's name was meant as one: written as a path
    (``photos/``, ``./dog``, ``~/Pictures``, ``/mnt/cam``). A bare word stays a prompt even where a
    folder of that name is at hand: ``--search dog`` run beside a ``dog`` folder searches for dogs."""
    return os.sep in query or "/" in query or query.startswith(("~", "."))
