"""Imported by the server that decoding workers are forked from (``common.workers.
start_decoding_server``), to load the places there (``common.places.load_places``).

The server starts before the indexing process loads its model, and loads them on another core
meanwhile; every worker forked from it then finds a GPS position's place at once (the arrays
shared with the server, not copied). Loading them in the indexing process had kept the model
waiting ~0.6 s at the first photo with a position, in every run; in each worker it would cost
that much CPU per worker, the model's on a small machine.
"""

from __future__ import annotations

import logging

from common.places import load_places

try:
    load_places()
except Exception as error:  # the server must start: a worker then loads them itself, or says why not
    logging.getLogger(__name__).debug("places not loaded in the decoding server: %s", error)
