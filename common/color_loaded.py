"""Imported by the server that decoding workers are forked from (``common.workers.
start_decoding_server``), to make the sRGB -> Lab transform of colour signatures
(``common.color``) there, once.

LittleCMS takes 10-15 ms of CPU to build the transform and ~10 ms more the first time it is
applied, and every worker did that on its first file (again after every restart): a worker's
first small photo cost it ~33 ms of CPU, ~21 ms now. Beside a busy program, in slivers of a
core, that first file took many times as long.
"""

from __future__ import annotations

import logging

from PIL import Image

from common.color import lab_pixels

try:
    lab_pixels(Image.new("RGB", (1, 1)))
except Exception as error:  # the server must start: a worker then makes it itself
    logging.getLogger(__name__).debug("colour transform not made in the decoding server: %s", error)
