"""Text from files, as a terminal is to show it: control characters written out, not obeyed.

A file name may hold any character but '/' and NUL, and an EXIF, XMP or IPTC field anything at
all. Printed raw, an ESC in one is an instruction to the terminal, not text: recolour what
follows, clear the screen, retitle the window, move the cursor back over what was printed
(another path drawn over the real one), or, on some terminals, set the clipboard; a newline or
a tab breaks a table's row in two. So the output people read (the results table, ``--stats``,
``--duplicates``, ``--check``, the lines that say what was skipped and why) passes such text
through ``visible``, as GNU ls quotes a name on a terminal. The formats programs read keep the
text exact: JSON escapes control characters itself, and csv, paths and paths0 are data (paths0
is there for names holding a newline).
"""

from __future__ import annotations

import re

# C0 controls (newline, tab, ESC, BEL, ...), DEL and the C1 controls (U+0080-U+009F: U+009B is
# a one-character CSI to terminals that take 8-bit controls); and the bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder what follows them to the
# end of the line: 'holiday\u202egnp.exe' shows as 'holidayexe.png', and the rest of its row of
# the table reversed with it ("Trojan Source"; compilers and GitHub flag them alike). Not other
# unprinted characters: a zero-width joiner is part of an emoji or a Persian word, and the marks
# that only say a character's direction (U+200E, U+200F) reorder nothing past it.
# And the lone surrogates: Python's stand-ins for the bytes of a name that is not UTF-8 (a Latin-1
# 'caf\xe9.jpg' from an old archive reads as 'caf\udce9.jpg'), which stderr wrote as '\udce9', a
# character the name does not hold: each is written as the byte it stands for ('\xe9').
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_BYTE_STAND_INS = range(0xDC80, 0xDD00)  # what os.fsdecode's surrogateescape makes of bytes 0x80-0xFF


def visible(text: str) -> str:
    """``text`` with each control character written as a Python string literal writes it:
    ``\\n``, ``\\t``, ``\\x1b``, ``\\u202e``, and each stand-in for an undecoded byte as that byte:
    ``\\xe9``. Text without one (nearly all) comes back unchanged."""
    return CONTROL_CHARACTERS.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if code in _BYTE_STAND_INS else repr(match.group())[1:-1]
