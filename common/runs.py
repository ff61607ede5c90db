"""What a run does, and which of its options have a part in it.

Many options have a part in some runs alone: ``--limit``, ``--preview`` and ``--distinct`` in a
search, ``--force`` and ``--batch`` in indexing. Typed for a run they have no part in, they
changed nothing and said so nowhere (``--export sample.jsonl --limit 100`` wrote the whole
library), so they are refused in one line. Set in a ``--config`` file they are standing
settings, and left out of such a run: ``preview: true`` had refused every ``--index`` and
``--stats``, and the file's ``roots`` were indexed before every search. ``OPTIONS_WITH_A_PART``
is the one table both read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from common.output import PATH_ENDS

QUERIES_FROM_STDIN = "-"  # --search -: every query from stdin, one a line


def wants_results(args: argparse.Namespace) -> bool:
    """Whether the invocation asks for search results (by image, prompt, metadata, filter or colour)."""
    # With --stats, --duplicates or --export, --where, --near and --under narrow what those look
    # at, and list nothing.
    narrowed = args.stats or args.duplicates or args.export
    lists_matches = (args.where is not None or args.near or args.under) and not narrowed
    return bool(args.search or args.text or lists_matches or args.color or args.palette)


def reads_queries_from_stdin(args: argparse.Namespace) -> bool:
    """``--search -``: the queries come from stdin, one a line, each answered as it comes."""
    return bool(args.search) and QUERIES_FROM_STDIN in args.search


def lists_results(args: argparse.Namespace) -> bool:
    """Whether the run lists results: those of its queries, or of each query read from stdin."""
    return wants_results(args) or reads_queries_from_stdin(args)


def embeds_files(args: argparse.Namespace) -> bool:
    """Whether the run may read and embed files: ``--index``, or ``--repair``'s lost rows."""
    return bool(args.index or args.repair)


def asks_for_more_than_indexing(args: argparse.Namespace) -> bool:
    """Whether the run asks for anything besides indexing: results, a check, a repair, …"""
    return bool(
        lists_results(args) or args.check or args.repair or args.export or args.duplicates or args.stats or args.forget
    )


def only_indexes(args: argparse.Namespace) -> bool:
    """Whether indexing is all the run does (``--watch`` never ends, so nothing could follow it)."""
    return bool(args.index) and not asks_for_more_than_indexing(args)


@dataclass(frozen=True)
class Part:
    """Whether an option has a part in a run, and what a run it has none in is told when it is
    typed; no refusal: typed, it is always meant (only a config file's is left out)."""

    has_a_part: Callable[[argparse.Namespace], bool]
    refusal: Callable[[argparse.Namespace], str] | None


def _said(text: str) -> Callable[[argparse.Namespace], str]:
    """A refusal that is the same whatever else the run asks for."""
    return lambda args: text


# Options that say how files are read and embedded, so only for a run that embeds them: typed
# with a search (which embeds one query), they changed nothing.
INDEXING_TUNING = ("batch", "workers", "jpeg_decoder", "commit_every")


def _tuning_refusal(args: argparse.Namespace) -> str:
    typed = [f"--{dest.replace('_', '-')}" for dest in INDEXING_TUNING if dest in getattr(args, "typed", ())]
    return (
        f"{', '.join(typed)}: tune{'s' if len(typed) == 1 else ''} how --index (or --repair) reads and embeds "
        "files, and this run embeds none: give --index DIR or --repair"
    )


# Options that say where and how the model runs, so only for a run that runs it: indexing, or a
# search (a prompt, or a picture the index does not hold). Listing rows by their metadata, words
# or colours reads the index alone: 'cuda' or 'fp16' typed there changed nothing.
MODEL_RUNNING = {"device": "where", "precision": "how"}


def runs_the_model(args: argparse.Namespace) -> bool:
    """Whether the run may run the model: to embed files, or a --search query."""
    return embeds_files(args) or bool(args.search)


def _model_running_refusal(args: argparse.Namespace) -> str:
    typed = [dest for dest in MODEL_RUNNING if dest in getattr(args, "typed", ())]
    said = " and ".join(MODEL_RUNNING[dest] for dest in typed)
    options = ", ".join(f"--{dest}" for dest in typed)
    verb = f"{options} says" if len(typed) == 1 else f"{options}: say"
    return (
        f"{verb} {said} the model runs, and this run runs none (it reads the index alone): "
        "give --index DIR or --search QUERY"
    )


def _preview_refusal(args: argparse.Namespace) -> str:
    if args.format != "table":
        return f"--preview draws pictures in the table: not with --format {args.format}"
    return "--preview shows search results and duplicates: give --search, --text, --where or --duplicates"


def _html_refusal(args: argparse.Namespace) -> str:
    if args.duplicates:
        return "--html writes one page: of the search's results or of --duplicates, not both"
    return "--html writes search results or duplicates: give --search, --text, --where or --duplicates"


def _mode_refusal(args: argparse.Namespace) -> str:
    """Why ``--mode`` has no part: it combined with --add or --subtract, or it came without a
    --search prompt to apply to (--text is a metadata search whatever the mode: '--text train
    --mode hybrid' searched the words alone, and said nothing of it)."""
    if args.search:
        return f"--add and --subtract combine CLIP vectors, and --mode {args.mode} matches metadata words: drop one of them"
    if args.text and args.mode == "fts":
        return "--text matches metadata words already, as --mode fts does a --search prompt: drop --mode"
    if args.text:
        import shlex

        return (
            f"--mode {args.mode} says how a --search prompt searches, and --text matches metadata words alone: "
            f"--search {shlex.quote(args.text[0])} --mode {args.mode}"
        )
    return f"--mode {args.mode} says how a --search prompt searches: give --search PROMPT as well"


def _indexing_refusal(option: str, value: str = "") -> Callable[[argparse.Namespace], str]:
    """The refusal of ``option`` (--force, --watch, …; ``value`` as a user would type it) typed
    for a run that indexes nothing. With a config file's roots left out (the run asks for more
    than indexing them), "only applies to --index" read as wrong: the file's roots are what the
    user meant to index."""

    def refusal(args: argparse.Namespace) -> str:
        if "index" not in getattr(args, "left_out", ()):
            return f"{option} only applies to --index"
        return (
            f"{option} applies to indexing, and a config file's roots are indexed by a run that asks for nothing "
            f"else: run --config {args.config} {option}{value} on its own (or give --index DIR)"
        )

    return refusal


def _watch_refusal(args: argparse.Namespace) -> str:
    if not args.index:
        return _indexing_refusal("--watch", " SECONDS")(args)
    return "--watch indexes until Ctrl-C, so nothing would come after it: run searches and checks apart"


def _thumbnails_refusal(args: argparse.Namespace) -> str:
    flag = "--thumbnails" if args.thumbnails else "--no-thumbnails"
    return f"{flag} says whether --index (or --repair) makes thumbnails: give --index DIR or --repair"


def _searches(args: argparse.Namespace) -> bool:
    return bool(args.search or args.text or args.color or args.palette)


ADD_OR_SUBTRACT_ALONE = "--add and --subtract change a --search query: give --search QUERY as well"
# Each option (by ``dest``) that has a part in some runs alone; a run is refused for the first
# typed where it has none, in this order. An option whose part depends on another's comes after
# it: a config file's 'preview: true' left out takes 'preview-rows' with it.
OPTIONS_WITH_A_PART: dict[str, Part] = {
    # A config file's roots are indexed by a run that asks for nothing else ('--config file'):
    # a search, --stats or --check with the file walked the whole tree first, and embedded what
    # was new, before it answered. Typed, --index runs first, whatever else is asked.
    "index": Part(lambda a: not asks_for_more_than_indexing(a), None),
    "add": Part(lambda a: bool(a.search), _said(ADD_OR_SUBTRACT_ALONE)),
    "subtract": Part(lambda a: bool(a.search), _said(ADD_OR_SUBTRACT_ALONE)),
    "limit": Part(lists_results, _said(
        "--limit counts search results, and this lists none: --export, --duplicates and --stats take every row; "
        "narrow them with --where, --under or --near"
    )),
    "duplicate_threshold": Part(lambda a: bool(a.duplicates or a.distinct), _said(
        "--duplicate-threshold says how alike near duplicates are: give --duplicates or --distinct"
    )),
    "thumbnails": Part(embeds_files, _thumbnails_refusal),
    **{dest: Part(embeds_files, _tuning_refusal) for dest in INDEXING_TUNING},
    **{dest: Part(runs_the_model, _model_running_refusal) for dest in MODEL_RUNNING},
    "radius": Part(lambda a: bool(a.near), _said(
        "--radius says how far from a --near place: give --near PLACE as well"
    )),
    "format": Part(lambda a: not (a.stats and a.format in PATH_ENDS), _said(
        "--stats counts files rather than listing them: use --format table, json, jsonl or csv"
    )),
    "min_score": Part(_searches, _said(
        "--min-score keeps results by their score: give --search, --text or --color (a --where listing has none)"
    )),
    "preview": Part(lambda a: a.format == "table" and (lists_results(a) or bool(a.duplicates)), _preview_refusal),
    "preview_rows": Part(lambda a: bool(a.preview), _said(
        "--preview-rows says how tall --preview draws each picture: give --preview as well"
    )),
    "distinct": Part(lists_results, _said(
        "--distinct folds near duplicates among results: give --search, --text, --color or --where"
    )),
    "html": Part(lambda a: bool(wants_results(a)) != bool(a.duplicates), _html_refusal),
    "mode": Part(lambda a: bool(a.search) and (not (a.add or a.subtract) or a.mode == "vector"), _mode_refusal),
    "force": Part(lambda a: bool(a.index), _indexing_refusal("--force")),
    "retry_failed": Part(lambda a: bool(a.index), _indexing_refusal("--retry-failed")),
    "exclude": Part(lambda a: bool(a.index), _indexing_refusal("--exclude", " PATTERN")),
    "watch": Part(only_indexes, _watch_refusal),
    "order_by": Part(wants_results, _said(
        "--order-by lists search results: give --search, --text, --color, --where or --near as well"
    )),
}  # fmt: skip


def option_with_no_part(args: argparse.Namespace) -> str | None:
    """Why the first option typed (``args.typed``) for a run it has no part in is refused, or None."""
    typed = getattr(args, "typed", set())
    for dest, part in OPTIONS_WITH_A_PART.items():
        if dest in typed and part.refusal is not None and not part.has_a_part(args):
            return part.refusal(args)
    return None


def leave_out_settings_with_no_part_in(args: argparse.Namespace, set_in_file: dict[str, object]) -> list[str]:
    """Leave out of this run each setting a config file sets and the command line does not
    (``set_in_file``, each with its value when not set) that has no part in it; those left out."""
    left_out = []
    for dest, part in OPTIONS_WITH_A_PART.items():
        if dest in set_in_file and not part.has_a_part(args):
            setattr(args, dest, set_in_file[dest])
            left_out.append(dest)
    return left_out
