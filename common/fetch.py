"""A query image on the web (``--search https://…/cat.jpg``): fetched to a temporary file.

Searching by a picture seen in a browser is a copy of its address away, as rclip allows; the
picture is decoded exactly as a local query image is (``common.decoding``), from a temporary
file deleted once it is embedded. Only the query is fetched: nothing is indexed from the web.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

# A query image larger than this is refused before it fills the disk (a 200 MP HEIC is ~60 MB).
MAX_QUERY_IMAGE_BYTES = 256 * 1024 * 1024
CHUNK_BYTES = 1 << 20
USER_AGENT = "imagedb (image search; fetches one query image)"


class FetchError(Exception):
    """The query image could not be fetched; the message says why, in a few words."""


def is_image_url(query: str) -> bool:
    """Whether a ``--search`` query is a web address (http or https) rather than a file or words."""
    return not why_no_url(query)


def why_no_url(query: str) -> str | None:
    """Why ``query`` is no web address (http or https) to fetch, or None when it is one."""
    try:
        parts = urlsplit(query.strip())
    except ValueError as error:  # 'http://[::1': urllib's own reason ("Invalid IPv6 URL")
        return str(error)
    if parts.scheme.lower() not in ("http", "https"):
        return "not http or https"
    if not parts.netloc:
        return "no host"
    if any(c.isspace() for c in query):
        return "a space in it"
    return None


def looks_like_a_url(query: str) -> bool:
    """Whether ``query`` starts as a web address does: meant as one, whether it is or not."""
    return query.strip().lower().startswith(("http://", "https://"))


@contextlib.contextmanager
def fetched_image(url: str, timeout: float | None) -> Iterator[str]:
    """The picture at ``url`` in a temporary file (named with the address's extension, which tells
    a video from an image), deleted afterwards. ``timeout``: seconds the whole download may take
    (None: as long as it takes)."""
    import urllib.error
    import urllib.request

    suffix = os.path.splitext(urlsplit(url).path)[1].lower()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with tempfile.TemporaryDirectory(prefix="imagedb-query-") as folder:
        path = os.path.join(folder, "query" + suffix)
        try:
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=timeout) as response, open(path, "wb") as out:
                fetched = 0
                while chunk := response.read(CHUNK_BYTES):
                    fetched += len(chunk)
                    if fetched > MAX_QUERY_IMAGE_BYTES:
                        raise FetchError(f"larger than {MAX_QUERY_IMAGE_BYTES // 2**20} MB")
                    if timeout is not None and time.monotonic() - started > timeout:
                        raise TimeoutError  # each read came in time, but the whole is too slow
                    out.write(chunk)
        except urllib.error.HTTPError as error:
            raise FetchError(f"the server answered {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            raise FetchError(_in_words(error.reason)) from None
        except OSError as error:  # a read that timed out (TimeoutError), a connection reset
            raise FetchError(_in_words(error)) from None
        yield path


def _in_words(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "the server did not answer in time (--time-limit)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
