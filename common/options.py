"""The command line's options: what each means, its default, and how its value is read.

``build_parser`` is the one list of options both front scripts take (their help is the same but
for the backend's name and default database). Values are checked as they are read (a number that
is finite, a cosine in (0, 1]), so a bad one is one line naming the option; values that start with
a minus, which argparse reads as options, are joined to theirs or refused with how to write them.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex

from common.defaults import (
    DEFAULT_BATCH,
    DEFAULT_COMMIT_SECONDS,
    DEFAULT_DUPLICATE_THRESHOLD,
    DEFAULT_GPU_BATCH,
    DEFAULT_RADIUS_KM,
    DEFAULT_TIME_LIMIT,
    JPEG_DECODERS,
)
from common.discovery import path_as_named_on_disk
from common.embedding import DEFAULT_MODEL, DEFAULT_PRETRAINED, PRECISIONS
from common.output import FORMATS
from common.preview import PREVIEW_ROWS, PROTOCOLS
from common.runs import QUERIES_FROM_STDIN
from common.store import ImageStore
from common.visible import visible

MODES = ("vector", "fts", "hybrid")
# A value that starts with a minus and a digit (a position south or west, '-33.87,151.21'), which
# argparse takes for an option unless it is a plain number (``with_negative_values_joined``).
NEGATIVE_VALUE = re.compile(r"-\.?\d")
# What argparse itself reads as a negative number, a value ('-5', '-0.5'; its _negative_number_matcher).
ARGPARSE_NUMBER = re.compile(r"-\d+|-\d*\.\d+")
# Other search tools' names for imagedb's options (rclip's -t/--top, FAISS' and clip-retrieval's k
# and num_images, head's -n, …): typed from habit, they are offered imagedb's, which no spelling
# rule finds ('--top' is not spelt like '--limit').
OTHER_TOOLS_NAMES = {
    **dict.fromkeys(
        ("-k", "-n", "-t", "--k", "--top", "--top-k", "--topk", "--num", "--num-results", "--num-images",
         "--num_images", "--count", "--max-results", "--results"),
        "--limit",
    ),
    "--filter": "--where",
    "--threshold": "--min-score",
    "--query": "--search",
}  # fmt: skip


def other_tools_option(word: str) -> str | None:
    """imagedb's option for ``word``, another tool's name of it (``OTHER_TOOLS_NAMES``), as a
    word alone, with its value after '=' ('--top=5') or run together with a short one ('-k5')."""
    name = word.partition("=")[0]
    if name not in OTHER_TOOLS_NAMES and len(word) > 2 and word[1] != "-" and word[2:].isdigit():
        name = word[:2]
    return OTHER_TOOLS_NAMES.get(name)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but errors are a single line (no usage dump) so they read like every other error,
    the arguments they quote shown as the log's lines show names (``common.visible``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {visible(message)}{self.what_was_meant(message)} (see --help)\n")

    def what_was_meant(self, message: str) -> str:
        """'; did you mean --search?' for an option typed wrong ('--serach'), '; did you mean
        json?' for a choice ('--format jsn'), or '' (``common.spelt_nearly``): argparse named
        the mistake, and left the user to find the right spelling in --help. A config file's
        are offered alike (``common.config``)."""
        from common.spelt_nearly import did_you_mean

        unknown = re.match(r"unrecognized arguments: (-{1,2}[\w-]+)", message)
        choice = re.match(r"argument [^:]+: invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if unknown and (meant := other_tools_option(unknown.group(1))):
            return f"; did you mean {meant}?"
        if unknown and unknown.group(1).startswith("--"):
            options = [name for name in self._option_string_actions if name.startswith("--")]
            return did_you_mean(unknown.group(1), options, likeness=0.75)
        if choice:
            return did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)), likeness=0.6)
        return ""


def build_parser(store_class: type[ImageStore], prog: str | None = None) -> argparse.ArgumentParser:
    """The options both front scripts take; ``store_class`` names the backend and its default database."""
    parser = OneLineArgumentParser(
        prog=prog,
        description=f"Index a folder of photos and search it by image, text prompt or metadata ({store_class.backend} backend).",
        epilog="Examples:\n"
        "  %(prog)s --index ~/Pictures\n"
        "  %(prog)s --search 'a dog on a beach' --limit 5\n"
        "  %(prog)s --search holiday.jpg --where \"make = 'Canon'\"\n"
        "  %(prog)s --search beach.jpg --add 'at night' --subtract people\n"
        "  %(prog)s --search 'the beach' --under ~/Pictures/2023-rome\n"
        "  %(prog)s --search -        (a query a line from stdin, the model loaded once)\n"
        "  %(prog)s --text Nikon --format json\n"
        "  %(prog)s --where \"country = 'Italy'\" --order-by 'date_taken DESC' --limit 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_argument_group("actions (combine freely; indexing runs first)")
    actions.add_argument(
        "--index", nargs="+", metavar="DIR", help="index the images under these folders (recursive, incremental)"
    )
    actions.add_argument(
        "--force",
        action="store_true",
        help="with --index: re-embed every file, replacing its row; drop the rows of files whose folder "
        "looks unmounted (kept otherwise)",
    )
    actions.add_argument(
        "--watch", type=_positive_float, metavar="SECONDS",
        help="with --index: keep indexing, looking again every SECONDS for new, changed and removed "
        "files, until Ctrl-C (the model stays loaded; a round with nothing to do prints nothing; a "
        "file written in the last 2 s, still being copied, waits for a later round; --force and "
        "--retry-failed apply to the first run alone)",
    )  # fmt: skip
    actions.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --index: read again the files that failed in an earlier run though they have not changed since",
    )
    actions.add_argument(
        "--forget", nargs="+", metavar="DIR",
        help="remove from the index everything under these folders, there or not (a drive sold, a share "
        "retired); no file is touched",
    )  # fmt: skip
    actions.add_argument(
        "--exclude", nargs="+", action="extend", metavar="PATTERN",
        help="with --index: leave out the folders and files whose name matches ('Screenshots', '*_thumb.jpg') "
        "or whose path does ('~/Pictures/tmp'), removing rows they had; @eaDir, #recycle, $RECYCLE.BIN "
        "and other systems' folders are always left out",
    )  # fmt: skip
    actions.add_argument(
        "--search",
        nargs="+",
        metavar="QUERY",
        help="an image file or web address to find similar images, or a text prompt; '-': every query "
        "from stdin, one a line, each answered as it comes (the model stays loaded)",
    )
    actions.add_argument(
        "--add", nargs="+", action="extend", metavar="QUERY",
        help="with --search: search for each query plus these (image files, web addresses or prompts; "
        "'2:snow' counts twice, '0.5:snow' half)",
    )  # fmt: skip
    actions.add_argument(
        "--subtract", nargs="+", action="extend", metavar="QUERY",
        help="with --search: search for each query less these (as --add)",
    )  # fmt: skip
    actions.add_argument(
        "--text",
        nargs="+",
        metavar="QUERY",
        help=(
            "metadata search: match path, camera, keywords, people, … (full text; words in quotes: a phrase; "
            '-word, -"a phrase": without it; +word, +a|b: only the rows holding it, or either)'
        ),
    )
    actions.add_argument(
        "--check",
        action="store_true",
        help="validate the index (counts, vectors, paths, model, files still present); exit 1 on problems",
    )
    actions.add_argument(
        "--repair",
        action="store_true",
        help="rebuild what can be rebuilt from what is on disk, re-embedding files whose rows were lost",
    )
    actions.add_argument(
        "--duplicates",
        action="store_true",
        help="list groups of exact duplicates (same bytes) and near duplicates (cosine >= --duplicate-threshold); "
        "with --where, --near or --under, among the rows they match",
    )
    actions.add_argument(
        "--stats",
        action="store_true",
        help="what the index holds: files, years, cameras, lenses, countries, regions, cities, formats, folders, ratings, "
        "keywords, people, locations written, creators, copyrights, failures; "
        "with --where, --near or --under, what the matching rows hold",
    )
    actions.add_argument(
        "--export",
        metavar="FILE",
        help="write every indexed image (vector + metadata) to FILE: .jsonl (JSON Lines), .pkl (pickle stream) "
        "or .parquet (a typed column per record field, vector as float32); with --where, --near or --under, "
        "the matching rows",
    )
    actions.add_argument(
        "--color", "--colour", nargs="+", metavar="COLOR",
        help="colour search: '#1e90ff', 'dodgerblue', weights as '#1e90ff:0.7,white:0.3'; with --search, re-ranks its results",
    )  # fmt: skip
    actions.add_argument(
        "--palette", metavar="IMAGE", type=path_as_named_on_disk,
        help="colour search by the colours of a picture (alone or with --search)",
    )  # fmt: skip
    actions.add_argument(
        "--where",
        metavar="SQL",
        help="filter on record columns, e.g. \"width > 1024 AND make = 'Canon'\"; alone, lists matches",
    )

    actions.add_argument(
        "--near", metavar="PLACE",
        help="the photos taken within --radius km of a place ('Florence', 'Firenze', 'Paris, Texas'), a "
        "position ('43.77,11.25', '43°46′N 11°15′E', a map's link: 'geo:43.77,11.25') or a photo file; alone, lists them; with any search or --stats, narrows it (as --where)",
    )  # fmt: skip
    actions.add_argument(
        "--under", nargs="+", metavar="DIR",
        help="the files under these folders (subfolders too); alone, lists them; with any search, --stats, "
        "--duplicates or --export, narrows it (as --where)",
    )  # fmt: skip

    search = parser.add_argument_group("search options")
    search.add_argument(
        "--radius", type=_distance_in_km, metavar="KM",
        help=f"with --near: how far from it, in km, or with a unit: '500m', '3mi' (default {DEFAULT_RADIUS_KM:g})",
    )  # fmt: skip
    search.add_argument("--limit", type=_positive_int, default=10, help="results per query (default 10)")
    search.add_argument(
        "--min-score", type=_number, metavar="SCORE",
        help="keep only the results scoring at least this (cosine for image and prompt searches, 1.0 = the "
        "same picture); with a large --limit, every result above it",
    )  # fmt: skip
    search.add_argument(
        "--order-by", metavar="ORDER",
        help="list results by record columns, e.g. \"date_taken DESC\" (missing values last): a --where "
        "listing the first --limit in that order, a search its best --limit",
    )  # fmt: skip
    search.add_argument(
        "--mode",
        choices=MODES,
        default="vector",
        help="how --search's text prompts search: vector (CLIP), fts (metadata words, as --text) or hybrid (both, fused); default vector",
    )
    search.add_argument(
        "--duplicate-threshold", type=_fraction, default=DEFAULT_DUPLICATE_THRESHOLD, metavar="COSINE",
        help=f"with --duplicates (and --distinct): how similar two images must be to count as near duplicates (default {DEFAULT_DUPLICATE_THRESHOLD:g})",
    )  # fmt: skip
    search.add_argument(
        "--distinct", action="store_true",
        help="each result a different picture: a result that near-duplicates one ranked above it (a burst's other "
        "frames) is folded into that one and named in its 'alike' (the --duplicate-threshold cosine)",
    )  # fmt: skip
    search.add_argument(
        "--html",
        metavar="FILE",
        help="also write the results (or the --duplicates groups) as a self-contained HTML page of thumbnails",
    )
    search.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="output format (default table); paths0: paths each ended by a NUL byte, for xargs -0",
    )
    search.add_argument(
        "--preview",
        nargs="?",
        const="auto",
        choices=PROTOCOLS,
        metavar="HOW",
        help=(
            "show each result's picture under its row of the table (and each --duplicates file's), in the "
            "terminal: auto (the way the terminal supports; none when stdout is no terminal), kitty, iterm, "
            "or blocks (coloured half blocks: any terminal, tmux, less -R)"
        ),
    )
    search.add_argument(
        "--preview-rows", type=_positive_int, default=PREVIEW_ROWS, metavar="N",
        help=f"how tall a --preview picture is, in text rows (default {PREVIEW_ROWS})",
    )  # fmt: skip

    model = parser.add_argument_group("model options (a search uses the index's model unless told otherwise)")
    model.add_argument("--model", help=f"open_clip model name or hf-hub:org/repo (default {DEFAULT_MODEL})")
    model.add_argument(
        "--pretrained",
        help=f"open_clip pretrained tag, local checkpoint path, or 'none' (default {DEFAULT_PRETRAINED})",
    )
    model.add_argument(
        "--model-config",
        metavar="JSON",
        help="a local open_clip model-config JSON for a custom architecture (model name = file name)",
    )
    model.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="where the model runs (default auto)"
    )
    model.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="the number format the image model computes in (default auto: fp16 on a CUDA GPU, bf16 on a CPU that "
        "multiplies it in hardware (Intel AMX, AVX512-BF16: 2-4.5 times faster there) and was measured faster in "
        "it, once, fp32 elsewhere)",
    )  # fmt: skip
    model.add_argument(
        "--batch",
        type=_positive_int,
        help=f"images per forward pass (default {DEFAULT_BATCH}; {DEFAULT_GPU_BATCH} on a CUDA GPU)",
    )
    model.add_argument(
        "--workers", type=_non_negative_int, default=None,
        help="processes decoding images while the model runs (default: one per CPU core, up to 8; with a GPU, all cores but one, up to 32; 0 = decode in-process)",
    )  # fmt: skip
    model.add_argument(
        "--jpeg-decoder", choices=JPEG_DECODERS, default="workers",
        help="where JPEGs are decoded: by the decoding workers like every other file (default), where the model runs "
        "(nvJPEG on a CUDA GPU, the workers reading their headers alone: a 14th of the CPU at about the same speed), "
        "or both (each by the workers while the model's process has files waiting, else where the model runs)",
    )  # fmt: skip
    model.add_argument(
        "--time-limit", type=_non_negative_float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
        help=f"give up on a file still decoding, still being read for its hash, a query image still downloading, a result's picture still decoding (--preview, --html; a file without a thumbnail), or a folder's drive not answering (its rows kept as they are), after this long (default {DEFAULT_TIME_LIMIT:g}; 0 = no limit)",
    )  # fmt: skip
    model.add_argument(
        "--thumbnails", action=argparse.BooleanOptionalAction, default=None,
        help="make a 300 px JPEG thumbnail of each indexed file for --html (default: yes; ~1 ms a file); "
        "with --repair: every missing one (by default, those of an index that has others)",
    )  # fmt: skip
    model.add_argument(
        "--commit-every", type=_non_negative_float, default=DEFAULT_COMMIT_SECONDS, metavar="SECONDS",
        help=f"make indexed batches durable at least this often (default {DEFAULT_COMMIT_SECONDS:g}; 0 = every batch)",
    )  # fmt: skip

    general = parser.add_argument_group("general")
    general.add_argument(
        "--config", metavar="YAML", help="read options from a YAML file (command-line flags override it)"
    )
    general.add_argument(
        "--db", default=store_class.default_db_path, help=f"database location (default ./{store_class.default_db_path})"
    )
    general.add_argument(
        "--wait",
        action="store_true",
        help="if another process is indexing this database, wait for it (default: refuse)",
    )
    general.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    general.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def options_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each option string ``parser`` takes ('--near', '-q') and its action (argparse keeps no
    public list of its options)."""
    return {flag: action for action in parser._actions for flag in action.option_strings}


def with_negative_values_joined(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with a value that starts with a minus and a digit joined to its option:
    ``--near -33.87,151.21`` (Sydney: south of the equator) as ``--near=-33.87,151.21``.
    argparse takes such a word for an option unless it is a plain number, and said "--near:
    expected one argument"; no option of imagedb's starts with a digit."""
    takes_one_value = {flag for flag, action in options_of(parser).items() if action.nargs in (None, "?")}
    joined: list[str] = []
    for word in argv:
        if joined and joined[-1] in takes_one_value and NEGATIVE_VALUE.match(word):
            joined[-1] = f"{joined[-1]}={word}"
        else:
            joined.append(word)
    return joined


def value_read_as_an_option(argv: list[str], parser: argparse.ArgumentParser) -> str | None:
    """Why an option's value that starts with a minus and is no option is refused, in words that
    say how to give it (``--exclude -drafts``, ``--text canon -nikon``): argparse took it for an
    option and said "--text: expected at least one argument" or "unrecognized arguments". Short
    options run together (``-qv``), and words starting with two minuses (``--lim`` abbreviates
    ``--limit``), are left to argparse."""
    options = options_of(parser)
    flag, taken = None, []  # the option whose values the words are, and those read
    for word in argv:
        if word in options or word.startswith("--"):
            action = options.get(word)
            flag, taken = (word if action is not None and action.nargs not in (0, "?") else None), []
            continue
        if flag is None:
            continue
        if (
            word.startswith("-")
            and word != QUERIES_FROM_STDIN
            and not ARGPARSE_NUMBER.fullmatch(word)  # '-5' argparse takes as a value
            and not all(f"-{c}" in options for c in word[1:])
            and other_tools_option(word) is None  # '-k 3' meant as --limit: argparse's line offers it
        ):
            typed = " ".join([*taken, word])
            if flag == "--text":
                from common.text_search import TextQuery

                if not taken and TextQuery.of(word).searches_anything:  # a whole quoted query, minus first
                    return f"--text {word}: a query that starts with a minus reads as an option: write it --text={shlex.quote(word)}"
                query = typed if taken else f"canon {word}"
                return f"--text {typed}: a minus term goes inside the quoted query: --text '{query}'"
            if flag in ("--search", "--add", "--subtract") and taken:  # a prompt's words, unquoted
                return f"{flag} {typed}: a word that starts with a minus reads as an option: quote the prompt, {flag} '{typed}'"
            return f"{flag} {word}: a value that starts with a minus reads as an option: write it {flag}={word}"
        taken.append(word)
        if options[flag].nargs is None:
            flag = None
    return None


def options_given(parser: argparse.ArgumentParser, args: argparse.Namespace) -> set[str]:
    """The options (by ``dest``) that ``args``, parsed by ``parser``, hold other than by default."""
    return {dest for dest, value in vars(args).items() if value != parser.get_default(dest)}


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _number(text: str) -> float:
    """An argparse type: a finite number ('nan' would compare false with every score: no results, said nowhere)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


# A distance with its unit, for --radius: '5', '5km', '500 m', '3mi', '2 miles'.
_DISTANCE = re.compile(r"\s*([^\sa-z]+?)\s*([a-z]*)\s*", re.IGNORECASE)
_KM_IN = {
    "": 1.0, "km": 1.0, "kilometer": 1.0, "kilometre": 1.0, "m": 0.001, "meter": 0.001, "metre": 0.001,
    "mi": 1.609344, "mile": 1.609344,
}  # fmt: skip


def _distance_in_km(text: str) -> float:
    """An argparse type: a distance above zero in km, or with its unit ('500m', '3mi', '2 miles'):
    an American's '3mi' was 'not a number'."""
    written = _DISTANCE.fullmatch(text)
    unit = written.group(2).lower() if written else ""
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in _KM_IN else unit
    if written is None or unit not in _KM_IN:
        raise argparse.ArgumentTypeError(f"not a distance: {text!r} (km, or a number with km, m or mi: '500m', '3mi')")
    value = _number(written.group(1)) * _KM_IN[unit]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite distance > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    """An argparse type: a number of seconds, zero or more."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    """An argparse type: a cosine similarity threshold in (0, 1]."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value
