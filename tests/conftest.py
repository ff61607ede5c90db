"""Shared fixtures: run either front script's real CLI in-process, paint test photos, find shared data.

Every CLI test is parametrized over both backends with the same cases, and drives the scripts
through ``main(argv)`` exactly as the command line does (argument parsing, exit status,
stdout/stderr), loading the tiny test model the way a user loads any local model.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMAGEDB_SHARED_DATA", REPO.parent / "shared" / "data"))
TINY_CONFIG = REPO / "models" / "imagedb-tiny-cifar10.json"
TINY_WEIGHTS = REPO / "models" / "imagedb-tiny-cifar10.pt"
MODEL_ARGS = ["--model-config", str(TINY_CONFIG), "--pretrained", str(TINY_WEIGHTS)]
BACKENDS = ("lancedb", "faiss")
SUMMARY = re.compile(r"(\d+) new, (\d+) updated, (\d+) removed, (\d+) unchanged, (\d+) failed")

sys.path.insert(0, str(REPO))

from common.backends import load_backend_script, store_class  # noqa: E402


def load_script(backend: str) -> ModuleType:
    """Import ``imagedb-<backend>.py`` by path, as the layout asks tests to."""
    return load_backend_script(backend)


def raw_lance_table(db: Path):
    """The LanceDB table of an imagedb database, opened with LanceDB's own API (no imagedb code)."""
    import lancedb

    return lancedb.connect(str(db)).open_table(load_script("lancedb").TABLE_NAME)


def rows_rewritten(cli: Cli, rewrite: Callable[[dict], dict]) -> None:
    """Every row of the index as ``rewrite`` makes its record (what an older imagedb wrote), its
    search text made again from it, its vector and colours kept."""
    from common.describe import current_search_text

    store = cli.store()
    try:
        paths, vectors = store.get_all_vectors()
        colors = store.get_colors(list(paths))
        records = [rewrite(record) for record in store.get_records()]
        records = [r | {"search_text": current_search_text(r)} for r in records]
        store.upsert_images(records, vectors[[list(paths).index(r["path"]) for r in records]],
                            np.stack([colors[r["path"]] for r in records]))  # fmt: skip
        store.commit()
        store.finish_indexing()
    finally:
        store.close()


def made_by_an_older_imagedb(cli: Cli, lacking: list[str]) -> None:
    """Take ``lacking`` columns out of an index, as an imagedb before them wrote it, with each
    backend's own tools (LanceDB's API, pandas on the FAISS metadata file)."""
    if cli.backend == "lancedb":
        raw_lance_table(cli.db).drop_columns(lacking)
        return
    import pandas as pd

    generation = json.loads((cli.db / "manifest.json").read_text())["generation"]
    metadata = cli.db / f"images-{generation}.parquet"
    frame = pd.read_parquet(metadata, dtype_backend="pyarrow")
    frame.drop(columns=lacking).to_parquet(metadata)


def brought_up_to_date(
    cli: Cli, folder: Path, column: str, version: int, decoded: list[str], model_loads: list[str]
) -> tuple[dict[str, dict], dict[str, dict]]:
    """Index ``folder``, make its rows what imagedb ``version`` wrote (no ``column``), then check
    that ``--repair`` (no file read) brings every row to ``SIDECARS_ALONE_SINCE - 1`` and the next
    ``--index`` to ``RECORD_VERSION`` by reading headers and sidecars: nothing decoded, no model
    loaded, every vector kept, ``column`` as a fresh index has it. The records after the repair
    and after the index, by file name, for what each column's test asserts of them."""
    from common.records import RECORD_VERSION, SIDECARS_ALONE_SINCE

    cli.index(folder)
    before = cli.records()
    stored = cli.vectors(sorted(before))
    rows_rewritten(cli, lambda r: r | {column: None, "record_version": version})
    made_by_an_older_imagedb(cli, [column])

    assert cli("--repair").code == 0
    repaired = {Path(path).name: record for path, record in cli.records().items()}
    assert {r["record_version"] for r in repaired.values()} == {SIDECARS_ALONE_SINCE - 1}

    decoded.clear()
    model_loads.clear()
    result = cli.index(folder, extra=("--workers", "0"))
    assert result.summary() == {"new": 0, "updated": len(before), "removed": 0, "unchanged": 0, "failed": 0}
    assert decoded == [] and model_loads == []
    np.testing.assert_array_equal(cli.vectors(sorted(before)), stored)
    after = cli.records()
    assert {p: r[column] for p, r in after.items()} == {p: r[column] for p, r in before.items()}
    assert {r["record_version"] for r in after.values()} == {RECORD_VERSION}
    return repaired, {Path(path).name: record for path, record in after.items()}


def names_listed(cli: Cli, *args: str) -> list[str]:
    """The names of the files a command lists (``--format paths``), sorted."""
    listed = cli(*args, "--format", "paths")
    assert listed.code == 0, listed.stderr
    return sorted(Path(p).name for p in listed.stdout.split())


def linked_folder(folder: Path, files: dict[str, Path]) -> Path:
    """A folder of links, name → file (shared photos under names of their own, nothing copied)."""
    folder.mkdir(parents=True)
    for name, source in files.items():
        (folder / name).symlink_to(source)
    return folder


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test cleanly when the data is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path}")
    return path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, int]:
        match = SUMMARY.search(self.stderr)
        assert match, f"no summary line in stderr:\n{self.stderr}"
        return dict(zip(("new", "updated", "removed", "unchanged", "failed"), map(int, match.groups()), strict=True))

    def json(self):
        return json.loads(self.stdout)

    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


class Cli:
    """One backend's CLI bound to one database path."""

    def __init__(self, backend: str, db: Path) -> None:
        self.backend = backend
        self.db = db
        self.module = load_script(backend)

    def __call__(self, *args: str, db: bool = True) -> CliResult:
        argv = [str(a) for a in args] + (["--db", str(self.db)] if db else [])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = self.module.main(argv)
        return CliResult(code, out.getvalue(), err.getvalue())

    def in_time(self, *args: str | Path, seconds: float = 60) -> CliResult:
        """The command's result, failing the test when it has not ended in ``seconds`` (run on a
        daemon thread, left waiting if it hangs)."""
        import queue
        import threading

        done: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: done.put(self(*map(str, args))), daemon=True).start()
        try:
            return done.get(timeout=seconds)
        except queue.Empty:
            pytest.fail(f"{' '.join(map(str, args))} did not end in {seconds:g} s: it waited on a drive?")

    def index(self, *roots: Path | str, extra: tuple[str, ...] = ()) -> CliResult:
        result = self("--index", *roots, *MODEL_ARGS, *extra)
        assert result.code == 0, result.stderr
        return result

    def search(self, *args: str) -> list[dict]:
        """Run a search with --format json and return its list of per-query results."""
        result = self(*args, "--format", "json")
        assert result.code == 0, result.stderr
        return result.json()

    def store(self):
        """Open the database directly through the backend's store class."""
        return store_class(self.backend).open(str(self.db))

    def vectors(self, paths: list[str]) -> np.ndarray:
        """The stored vectors of ``paths``, in that order."""
        store = self.store()
        try:
            stored = store.get_vectors(paths)
        finally:
            store.close()
        return np.stack([stored[p] for p in paths])

    def records(self) -> dict[str, dict]:
        store = self.store()
        try:
            return {r["path"]: r for r in store.get_records()}
        finally:
            store.close()

    def failures_by_name(self) -> dict[str, dict]:
        """The database's failures report, by file name (every line must be an entry)."""
        lines = (self.db / "failures.jsonl").read_text(encoding="utf-8").splitlines()
        return {Path(entry["path"]).name: entry for entry in map(json.loads, lines)}


@pytest.fixture(autouse=True, scope="session")
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tests' own cache folder (``IMAGEDB_CACHE``, inherited by every process they start):
    the first place lookup compiles the places into it, as a user's first does, and nothing is
    written into the user's own."""
    from common.user_cache import CACHE_ENVIRONMENT

    folder = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENVIRONMENT, str(folder))
        yield folder


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """Names of the files decoded from now on (count in-process runs: --workers 0)."""
    import common.workers

    names: list[str] = []
    real_decode = common.workers.decode_image
    monkeypatch.setattr(common.workers, "decode_image", lambda *a: names.append(Path(a[0]).name) or real_decode(*a))
    return names


@pytest.fixture
def model_loads(monkeypatch) -> list[str]:
    """Models loaded from now on (clear it to count from a later point)."""
    import common.embedding

    loads: list[str] = []
    real_init = common.embedding.Embedder.__init__

    def counting_init(self, spec, *args, **kwargs) -> None:
        loads.append(spec.model)
        real_init(self, spec, *args, **kwargs)

    monkeypatch.setattr(common.embedding.Embedder, "__init__", counting_init)
    return loads


@contextlib.contextmanager
def drive_not_answering(monkeypatch, reader: str, name: str, module: str = "common.reuse"):
    """``<module>.<reader>`` never returns for the file called ``name`` while in the block, as a
    read on a network or cloud drive that stopped answering; it returns once the block ends."""
    import importlib
    import threading

    answer = threading.Event()
    reading = importlib.import_module(module)
    real_read = getattr(reading, reader)

    def read(file):  # a path or a FoundFile
        if os.path.basename(getattr(file, "path", file)) == name:
            answer.wait()
        return real_read(file)

    monkeypatch.setattr(reading, reader, read)
    try:
        yield
    finally:
        answer.set()


@contextlib.contextmanager
def share_not_answering(monkeypatch, *folders: Path) -> Iterator[None]:
    """Each look at a path under ``folders`` (stat, lstat, a folder's listing) never returns while
    in the block, as on a hard NFS mount whose server is gone (a NAS switched off, a VPN down);
    each returns once the block ends."""
    import threading

    answer = threading.Event()
    names = tuple(map(str, folders))

    def blocked(real: Callable) -> Callable:
        def look(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, str | os.PathLike) and os.fspath(path).startswith(names):
                answer.wait()
            return real(path, *args, **kwargs)

        return look

    with monkeypatch.context() as patched:
        for look in ("stat", "lstat", "scandir", "listdir"):
            patched.setattr(os, look, blocked(getattr(os, look)))
        try:
            yield
        finally:
            answer.set()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def cli(backend: str, tmp_path: Path) -> Cli:
    return Cli(backend, tmp_path / f"db-{backend}")


def paint_photo(path: Path, seed: int, size: tuple[int, int] = (160, 120)) -> Path:
    """A distinct synthetic picture: a coloured background with random shapes, saved by extension."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, size[0] - 20)), int(rng.integers(0, size[1] - 20))
        x1, y1 = x0 + int(rng.integers(10, size[0] // 2)), y0 + int(rng.integers(10, size[1] // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=92) if path.suffix.lower() in {".jpg", ".jpeg"} else image.save(path)
    return path


def paint_tagged_photo(path: Path, seed: int, exif_tags: dict[int, str], xmp: str | None = None) -> Path:
    """``paint_photo``'s JPEG with these IFD0 EXIF tags (number → text) and, given, an XMP packet."""
    paint_photo(path, seed)
    with Image.open(path) as image:
        image.load()
        exif = Image.Exif()
        exif.update(exif_tags)
        image.save(path, exif=exif, **({"xmp": xmp.encode()} if xmp else {}))
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Twelve generated photos in nested folders, several formats."""
    root = tmp_path / "photos"
    names = [
        "a.jpg",
        "b.png",
        "c.webp",
        "d.bmp",
        "e.gif",
        "f.tiff",
        "sub/g.jpg",
        "sub/h.jpeg",
        "sub/deeper/i.png",
        "j.JPG",
        "k.jpg",
        "l.png",
    ]
    for seed, name in enumerate(names):
        paint_photo(root / name, seed)
    return root
