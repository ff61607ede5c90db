"""``--config file.yaml``: any command-line option, written once in a file.

Keys are option names without the dashes (``db``, ``batch``, ``time-limit`` or ``time_limit``;
``roots`` for ``index`` and ``output`` for ``format`` read naturally too). The file is turned
into command-line words placed *before* the real ones, so the same parser checks every value and
a flag given on the command line overrides the file.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

ALIASES = {"roots": "index", "db_path": "db", "output": "format"}


class ConfigError(Exception):
    """A config file that cannot be read or names an option that does not exist."""


def config_path(argv: list[str]) -> str | None:
    """The value of --config in ``argv`` (the last one wins), without parsing anything else."""
    found = None
    for i, word in enumerate(argv):
        if word == "--config" and i + 1 < len(argv):
            found = argv[i + 1]
        elif word.startswith("--config="):
            found = word.split("=", 1)[1]
    return found


def config_to_argv(path: str, parser: argparse.ArgumentParser) -> list[str]:
    """The command-line words a YAML config file stands for."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        data = yaml.safe_load(text) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:  # saved as "ANSI" (Latin-1, cp1252) by an editor
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}): save it as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {_where_and_what(error)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of option: value")
    _refuse_options_given_twice(yaml.compose(text, Loader=yaml.SafeLoader), path)
    options = {
        action.dest: action
        for action in parser._actions  # argparse keeps no public list of its options
        if action.option_strings and action.dest not in ("help", "config")
    }
    words: list[str] = []
    for key, value in data.items():
        action = options.get(_option_name(key))
        if action is None:
            from common.options import other_tools_option
            from common.spelt_nearly import did_you_mean  # only when a key is wrong: not at every start

            other_tools = other_tools_option(f"--{key}")  # 'top': another tool's name for limit
            meant = f"; did you mean {other_tools.removeprefix('--')}?" if other_tools else ""
            meant = meant or did_you_mean(_option_name(key), options, likeness=0.75)
            raise ConfigError(
                f"config file {path}: unknown option {key!r}{meant} (options: {', '.join(sorted(options))})"
            )
        words.extend(_words_for(action, value, path, str(key)))
    return words


def _option_name(key: Any) -> str:
    """The option a file's key names: ``time-limit``, ``time_limit`` and ``roots`` (``index``)."""
    return ALIASES.get(str(key), str(key)).replace("-", "_")


def _where_and_what(error: Exception) -> str:
    """A YAML error as one line that says where and what: 'line 2, column 1: found character
    '\\t' that cannot start any token' (PyYAML's own message starts with its context, "while
    scanning for the next token", and gives the place on later lines)."""
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is None or not problem:
        return str(error).splitlines()[0]
    said = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark is not None and context_mark.line != mark.line:
        said += f" ({context} from line {context_mark.line + 1})"
    elif context:
        said += f" ({context})"
    return said


def _refuse_options_given_twice(document: Any, path: str) -> None:
    """YAML keeps the last of two equal keys without a word, and ``roots`` and ``index`` (or
    ``time-limit`` and ``time_limit``) are one option to the parser, which keeps the last too:
    a second ``roots:`` list further down dropped the first one's folders from every run. The
    file's mapping is read as written (``yaml.compose``) to find them."""
    import yaml

    if not isinstance(document, yaml.MappingNode):
        return
    first_line: dict[str, tuple[str, int]] = {}
    for key_node, _ in document.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        name = _option_name(key)
        if name in first_line:
            earlier, earlier_line = first_line[name]
            same = f"{key!r} again" if earlier == key else f"{key!r}, which is {earlier!r} by another name"
            raise ConfigError(
                f"config file {path}: line {line}: {same} (line {earlier_line} gave it already): give each option once"
            )
        first_line[name] = (key, line)


def _words_for(action: argparse.Action, value: Any, path: str, key: str) -> list[str]:
    flag = action.option_strings[-1]
    if action.nargs == 0:  # switches: store_true, and --thumbnails/--no-thumbnails
        if not isinstance(value, bool):
            raise ConfigError(f"config file {path}: {key} must be true or false, not {value!r}")
        if isinstance(action, argparse.BooleanOptionalAction):  # "thumbnails: false" was --thumbnails
            return [action.option_strings[0] if value else action.option_strings[1]]
        return [flag] if value else []
    if action.nargs == "?" and isinstance(value, bool):  # "preview: true": the flag alone, its default way
        return [flag] if value else []
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if action.nargs is None and len(values) != 1:
        raise ConfigError(f"config file {path}: {key} takes one value, not a list")
    for one in values:
        _check_kind(one, path, key)
    # "~/Pictures" in a file means what it means typed at a shell prompt.
    words = [os.path.expanduser(v) if isinstance(v, str) else str(v) for v in values]
    for word in words:
        _check_value(action, word, path, key)
    # A value that starts with a minus reads as an option on a command line (argparse would say
    # '--text: expected at least one argument' of "text: -nikon"): written joined to its flag,
    # it is a value; a list has no such way.
    if any(word.startswith("-") and " " not in word for word in words):
        if len(words) > 1:
            raise ConfigError(
                f"config file {path}: {key}: a value that starts with a minus ({_first_minus(words)!r}) can only "
                "be given alone, not in a list"
            )
        return [f"{flag}={words[0]}"]
    return [flag, *words]


def _check_kind(value: Any, path: str, key: str) -> None:
    """Refuse what YAML made of a value that is no text, number or date: ``near: NO`` (Norway's
    code) and ``text: on`` are read by YAML as false and true, and were searched as 'False' and
    'True'; a mapping (``text: {a: b}``) was searched as its Python spelling."""
    if isinstance(value, bool):
        raise ConfigError(
            f"config file {path}: {key}: YAML reads this as {str(value).lower()} (yes, no, on and off are true or "
            f'false to it): put the text in quotes, as in {key}: "{"on" if value else "NO"}"'
        )
    if isinstance(value, dict | list):
        raise ConfigError(
            f"config file {path}: {key}: takes text or a number, not a {'list' if isinstance(value, list) else 'mapping'}"
        )


def _first_minus(words: list[str]) -> str:
    return next(word for word in words if word.startswith("-"))


def _check_value(action: argparse.Action, word: str, path: str, key: str) -> None:
    """Say a bad value is the file's, by its key: the parser would blame '--limit', never typed."""
    value: Any = word
    if callable(action.type):
        try:
            value = action.type(word)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
            raise ConfigError(f"config file {path}: {key}: {error}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        from common.spelt_nearly import did_you_mean  # only when a value is wrong

        meant = did_you_mean(word, map(str, action.choices), likeness=0.6)
        raise ConfigError(f"config file {path}: {key}: {word!r} is not one of {choices}{meant}")
