"""``--preview``: each result's picture under its row of the table, in the terminal.

rclip shows its results' pictures in the terminal; a path alone rarely says which photo it is.
The picture is the hit's stored thumbnail (already upright, and made for HEIC, raw and video
files alike, which no terminal decodes), drawn in one of three ways:

- ``kitty``: kitty's graphics protocol (kitty, Ghostty, WezTerm), a PNG sent in chunks;
- ``iterm``: iTerm2's inline images (iTerm2, WezTerm, mintty, VS Code with images on), the JPEG
  as it is;
- ``blocks``: Unicode half blocks, each cell's upper half one pixel and lower half the next, in
  24-bit colour (or the 256-colour palette where the terminal has no more). Coarse, but every
  terminal, tmux and a pager (``less -R``) shows it.

``auto`` picks from what the terminal says of itself (``TERM``, ``TERM_PROGRAM``, ...), blocks
when unsure; inside tmux, blocks too (tmux passes graphics through only when configured to, and
does not scroll them). A picture is ``PREVIEW_ROWS`` text rows tall (``--preview-rows``), and
narrower than the window. A file the index holds no thumbnail of (``--no-thumbnails``) is decoded
for its picture.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Mapping

import numpy as np

from common.thumbnails import StandIn, find_thumbnail, jpeg_of, picture_of_file

PROTOCOLS = ("auto", "kitty", "iterm", "blocks")
PREVIEW_ROWS = 10
INDENT = "  "  # the table's own indent
# A terminal cell is about twice as tall as it is wide, where the terminal does not say.
CELL_HEIGHT_PER_WIDTH = 2.0
KITTY_CHUNK = 4096  # the protocol's largest base64 chunk


def terminal_protocol(environ: Mapping[str, str] = os.environ) -> str:
    """The way this terminal shows pictures, from what it says of itself; ``blocks`` if unsure."""
    term, program = environ.get("TERM", ""), environ.get("TERM_PROGRAM", "")
    if environ.get("TMUX") or term.startswith(("screen", "tmux")):
        return "blocks"
    if term == "xterm-kitty" or environ.get("KITTY_WINDOW_ID") or term == "xterm-ghostty" or program == "ghostty":
        return "kitty"
    if program in ("iTerm.app", "WezTerm") or environ.get("LC_TERMINAL") == "iTerm2":
        return "iterm"
    return "blocks"


def wants_true_colour(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the terminal says it shows 24-bit colour (``COLORTERM``, the usual convention)."""
    return environ.get("COLORTERM", "").lower() in ("truecolor", "24bit")


class Previewer:
    """Draws a record's thumbnail as text to write after its row, by one ``protocol``."""

    def __init__(
        self,
        thumbnail_dir: str,
        protocol: str,
        rows: int = PREVIEW_ROWS,
        environ: Mapping[str, str] = os.environ,
        window: os.terminal_size | None = None,
        cell_height_per_width: float | None = None,
        stand_in: StandIn = picture_of_file,
    ) -> None:
        self.thumbnail_dir = thumbnail_dir
        self.stand_in = stand_in  # the picture of a file the index holds no thumbnail of
        self.protocol = terminal_protocol(environ) if protocol == "auto" else protocol
        self.rows = rows
        self.true_colour = wants_true_colour(environ)
        self.in_tmux = bool(environ.get("TMUX"))
        self.window = window or shutil.get_terminal_size()
        self.cell_height_per_width = cell_height_per_width or _cell_height_per_width() or CELL_HEIGHT_PER_WIDTH

    def __call__(self, record: dict, indent: str = INDENT) -> str:
        """The text that shows ``record``'s picture (ending in a newline), or a line saying why
        not, ``indent`` from the left."""
        found = find_thumbnail(self.thumbnail_dir, record)
        if found is None:
            picture, why_not = self.stand_in(record)
            if picture is None:
                return f"{indent}(no thumbnail: indexed with --no-thumbnails, and {why_not})\n"
            data = None
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                with open(found[0], "rb") as handle:
                    data = handle.read()
                picture = Image.open(io.BytesIO(data))
                picture.load()
            except UnidentifiedImageError:  # an OSError too: first
                return f"{indent}(no thumbnail: {found[0]} is not a picture; --index DIR --force makes it again)\n"
            except OSError as error:
                return f"{indent}(no thumbnail: {error.strerror or error})\n"
        rows, columns = self._cells(picture.width, picture.height, len(indent))
        if self.protocol == "kitty":
            return indent + self._kitty(picture.convert("RGB"), rows, columns) + "\n"
        if self.protocol == "iterm":
            return indent + self._iterm(data or jpeg_of(picture), rows) + "\n"
        return blocks(picture.convert("RGB"), rows, columns, self.true_colour, indent)

    def _cells(self, width: int, height: int, indent: int) -> tuple[int, int]:
        """Rows and columns a ``width`` x ``height`` picture covers, undistorted, ``self.rows``
        tall at most and no wider than the window leaves beside the indent."""
        widest = max(4, self.window.columns - indent - 1)
        columns = width / height * self.rows * self.cell_height_per_width
        rows = self.rows if columns <= widest else max(1, round(self.rows * widest / columns))
        return rows, max(1, min(widest, round(columns)))

    def _kitty(self, picture, rows: int, columns: int) -> str:
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        payload = base64.b64encode(buffer.getvalue()).decode("ascii")
        chunks = [payload[i : i + KITTY_CHUNK] for i in range(0, len(payload), KITTY_CHUNK)]
        parts = []
        for number, chunk in enumerate(chunks):
            more = int(number < len(chunks) - 1)
            # q=2: the terminal answers nothing (an answer would land in our stdin as typed keys).
            keys = f"a=T,f=100,c={columns},r={rows},q=2,m={more}" if number == 0 else f"q=2,m={more}"
            parts.append(self._passed_through(f"\033_G{keys};{chunk}\033\\"))
        return "".join(parts)

    def _iterm(self, data: bytes, rows: int) -> str:
        payload = base64.b64encode(data).decode("ascii")
        return self._passed_through(
            f"\033]1337;File=inline=1;size={len(data)};height={rows};preserveAspectRatio=1:{payload}\a"
        )

    def _passed_through(self, sequence: str) -> str:
        """``sequence`` wrapped for tmux to hand to the terminal (when asked for inside tmux)."""
        if not self.in_tmux:
            return sequence
        return "\033Ptmux;" + sequence.replace("\033", "\033\033") + "\033\\"


def blocks(picture, rows: int, columns: int, true_colour: bool, indent: str = INDENT) -> str:
    """``picture`` as ``rows`` lines of ``columns`` half blocks ("▀": the upper pixel the text
    colour, the lower one the background), each line indented and ending with a colour reset."""
    from PIL import Image

    pixels = np.asarray(picture.resize((columns, rows * 2), Image.Resampling.BOX), dtype=np.uint8)
    colour = _true_colour if true_colour else _palette_colour
    lines = []
    for y in range(rows):
        cells, was = [], (None, None)
        for upper, lower in zip(pixels[2 * y], pixels[2 * y + 1], strict=True):
            now = (colour(38, upper), colour(48, lower))
            changed = [code for code, before in zip(now, was, strict=True) if code != before]
            cells.append((f"\033[{';'.join(changed)}m" if changed else "") + "▀")  # a colour is said once
            was = now
        lines.append(indent + "".join(cells) + "\033[0m\n")
    return "".join(lines)


def _true_colour(layer: int, rgb: np.ndarray) -> str:
    return f"{layer};2;{rgb[0]};{rgb[1]};{rgb[2]}"


def _palette_colour(layer: int, rgb: np.ndarray) -> str:
    return f"{layer};5;{palette_index(rgb)}"


# The 256-colour palette's 6 x 6 x 6 cube levels, and its 24 greys (8, 18, ..., 238).
_CUBE_LEVELS = np.array([0, 95, 135, 175, 215, 255])


def palette_index(rgb: np.ndarray) -> int:
    """The xterm 256-colour palette entry nearest ``rgb``: the colour cube's or the grey ramp's."""
    rgb = np.asarray(rgb, dtype=np.int32)
    levels = np.abs(_CUBE_LEVELS[None, :] - rgb[:, None]).argmin(axis=1)
    cube = _CUBE_LEVELS[levels]
    grey_step = int(np.clip(round((rgb.mean() - 8) / 10), 0, 23))
    grey = 8 + 10 * grey_step
    if np.sum((rgb - grey) ** 2) < np.sum((rgb - cube) ** 2):
        return 232 + grey_step
    return 16 + 36 * int(levels[0]) + 6 * int(levels[1]) + int(levels[2])


def _cell_height_per_width() -> float | None:
    """The terminal's cell shape from its size in pixels (TIOCGWINSZ), where it says."""
    try:
        import fcntl
        import struct
        import sys
        import termios

        packed = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        rows, columns, width_px, height_px = struct.unpack("HHHH", packed)
    except (ImportError, OSError, ValueError, AttributeError):
        return None
    if not (rows and columns and width_px and height_px):
        return None
    return (height_px / rows) / (width_px / columns)
