"""Imported first by the server decoding workers are forked from (``common.workers.
start_decoding_server``): it takes the indexing process's module path and imports its main
script, as multiprocessing's own preload would if Python before 3.13 handed the server those.

A worker forked from the server then has the script (a front script's store libraries) and
everything else the server preloaded, and its first file is read within milliseconds; without
this, each worker imported the script itself. Its ``__name__ == "__main__"`` block does not run:
the script is imported as ``__mp_main__``, as in any worker.
"""

from __future__ import annotations

import json
import logging
import os
from multiprocessing import process, spawn

from common.workers import SERVER_SETUP, SERVER_SETUP_VARIABLE

log = logging.getLogger(__name__)

_setup = json.loads(os.environ.pop(SERVER_SETUP_VARIABLE, "{}"))
if _setup:
    # As multiprocessing's forkserver marks the import of the main script: a script that
    # started processes while imported is refused, not run into a loop of servers.
    process.current_process()._inheriting = True
    try:
        spawn.prepare({key: value for key, value in _setup.items() if key in SERVER_SETUP})
    except Exception as error:  # the server must start: each worker then imports the script itself
        log.debug("the decoding server did not import the main script: %s", error)
    finally:
        del process.current_process()._inheriting
