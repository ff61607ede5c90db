"""Which of some names a name typed wrong meant: the one spelling rule that 'did you mean'
offers follow, for words, column values, towns and paths alike.

A name matches where, once folded (case aside; accents too where the caller folds them), it is
another with two neighbouring letters swapped ('jgp' for 'jpg', 'Cnaon' for 'Canon': too short,
or too alike letter for letter, for a ratio to tell), or ``difflib`` finds the two alike to the
caller's ``likeness`` (its ratio: 'canonn' and 'canon' 0.91, 'nikon' and 'canon' 0.6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def spelt_nearly(
    typed: str, names: Iterable[str], *, most: int, likeness: float, fold: Callable[[str], str] = str.casefold
) -> list[str]:
    """The ones of ``names`` spelt nearly as ``typed`` (see the module's docstring), as written,
    those a swap makes first, then the likest; ``most`` at most. One equal to ``typed`` once
    folded counts first of all."""
    import difflib  # only when something was typed wrong: not at every start

    by_folded: dict[str, list[str]] = {}
    for name in names:
        by_folded.setdefault(fold(name), []).append(name)
    wanted = fold(typed)
    same = [wanted] if wanted in by_folded else []
    swapped = [folded for folded in by_folded if _one_swap_apart(wanted, folded)]
    alike = difflib.get_close_matches(wanted, list(by_folded), n=most, cutoff=likeness)
    chosen = list(dict.fromkeys([*same, *swapped, *alike]))
    return [name for folded in chosen for name in by_folded[folded]][:most]


def did_you_mean(typed: str, names: Iterable[str], *, likeness: float) -> str:
    """'; did you mean <the one of ``names`` spelt nearly as ``typed``>?', to end a refusal's
    line with (an option, a choice, a config key typed wrong), or ''."""
    meant = spelt_nearly(typed, names, most=1, likeness=likeness)
    return f"; did you mean {meant[0]}?" if meant else ""


def _one_swap_apart(typed: str, held: str) -> bool:
    """Whether ``held`` is ``typed`` with two neighbouring letters swapped."""
    if len(typed) != len(held) or typed == held:
        return False
    apart = [index for index, (a, b) in enumerate(zip(typed, held, strict=True)) if a != b]
    return (
        len(apart) == 2
        and apart[1] == apart[0] + 1
        and typed[apart[0]] == held[apart[1]]
        and typed[apart[1]] == held[apart[0]]
    )
