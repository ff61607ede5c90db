"""Reliability: slow and hanging decoders, kill -9 at many points, --check and --repair,
a full disk, a read-only database, files that change under the run.

Every scenario runs on both backends and ends with the same two questions: is the database
still usable and consistent, and does re-running the same command converge?
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from common.embedding import Embedder, ModelSpec
from common.workers import DECODER_NICENESS, DecodePool, ReadResult
from conftest import (
    MODEL_ARGS,
    TINY_CONFIG,
    TINY_WEIGHTS,
    Cli,
    paint_photo,
    raw_lance_table,
    share_not_answering,
    shared,
)


@pytest.fixture(scope="module")
def tiny() -> Embedder:
    return Embedder(ModelSpec.from_options(None, str(TINY_WEIGHTS), str(TINY_CONFIG)), "cpu")


# --- slow and hanging decoders ------------------------------------------------------------
def test_a_hanging_decoder_times_out_and_costs_one_file(tiny: Embedder, tmp_path: Path) -> None:
    from crashing_reader import read_or_hang

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(10)]
    paths.insert(3, str(paint_photo(folder / "hang-me.png", seed=98)))
    paths.insert(8, str(paint_photo(folder / "hang-me-too.png", seed=99)))
    pool = DecodePool(2, tiny.pixel_recipe, reader=read_or_hang, time_limit=1.5)
    started = time.monotonic()
    try:
        results = list(pool.read(paths, window=4))
    finally:
        pool.close()
    assert time.monotonic() - started < 20, "two hung files cost about two time limits, not forever"
    assert sorted(r.path for r in results) == sorted(paths), "every file answered, once"
    failed = {r.path: r.reason for r in results if r.reason}
    assert set(failed) == {paths[3], paths[8]}
    assert all("timed out" in reason for reason in failed.values())
    assert all(r.crop is not None for r in results if not r.reason), "files in flight beside a hang are read again"


def test_a_time_limit_stops_the_hung_file_s_worker_alone(tiny: Embedder, tmp_path: Path) -> None:
    """The other workers go on with their files: with many workers (15 on a GPU host), killing
    them all at every hung file would restart them all and read their files again."""
    from crashing_reader import read_or_hang

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(8)]
    paths.insert(2, str(paint_photo(folder / "hang-me.png", seed=98)))
    pool = DecodePool(3, tiny.pixel_recipe, reader=read_or_hang, time_limit=1.0)
    before = set(pool._processes())
    try:
        results = list(pool.read(paths, window=3))
        after = set(pool._processes())
    finally:
        pool.close()
    assert [r.path for r in results if r.reason] == [paths[2]]
    assert len(before - after) == 1 and len(after) == 3, "one worker replaced, two kept"


def test_repair_decodes_in_workers_so_a_hung_or_crashing_file_costs_itself_alone(tmp_path: Path) -> None:
    """--repair decoded the files that lost their thumbnails or colours in threads of its own
    process: a file that hung its read or decoder hung the repair for good (a thread cannot be
    stopped; Ctrl-C waited on it), and a crash ended it. In the decoding workers, under the time
    limit, each costs its own picture."""
    from crashing_reader import read_small_or_hang_or_die

    from common.small_pictures import small_pictures_of
    from common.thumbnails import THUMBNAIL_SIZE

    folder = tmp_path / "photos"
    names = ["a.jpg", "hang-me.png", "b.png", "crash-me.jpg", "c.jpg"]
    records = [{"path": str(paint_photo(folder / name, seed=i, size=(640, 480)))} for i, name in enumerate(names)]
    started = time.monotonic()
    answered = {
        Path(r["path"]).name: (p, why) for r, p, why in small_pictures_of(records, 1.0, read_small_or_hang_or_die)
    }
    assert time.monotonic() - started < 20
    assert sorted(answered) == sorted(names), "every file answered, once"
    assert "timed out" in answered["hang-me.png"][1] and "crashed" in answered["crash-me.jpg"][1]
    for name in ("a.jpg", "b.png", "c.jpg"):
        picture, why_not = answered[name]
        assert why_not is None and picture.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE * 3 // 4) and picture.mode == "RGB"


@pytest.mark.parametrize("backend", ["faiss", "lancedb"])
def test_repair_commits_when_its_decoding_workers_fail(
    backend: str, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing thumbnails are made inside the repair, before its commit (so a file that lost its
    colours too is decoded once): workers that cannot start, or stop answering, cost the
    pictures not read yet, never the repair."""
    import common.small_pictures as small_pictures
    from common.thumbnails import THUMBNAIL_DIR, thumbnail_path

    cli = Cli(backend, tmp_path / "db")
    cli.index(photos)
    for name in ("a.jpg", "b.png", "c.webp"):
        Path(thumbnail_path(str(cli.db / THUMBNAIL_DIR), cli.records()[str(photos / name)])).unlink()

    class NoRoomForWorkers:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(small_pictures, "DecodePool", NoRoomForWorkers)
    repair = cli("--repair")
    assert repair.code == 0, repair.stderr
    assert "no thumbnail for 3 file(s)" in repair.stderr and "the decoding workers could not start" in repair.stderr
    assert "repair: rebuilt the secondary indexes" in repair.stderr
    monkeypatch.undo()

    class StopsAfterOne(small_pictures.DecodePool):
        def read(self, paths: Iterable[str], window: int) -> Iterator[ReadResult]:
            yield next(super().read(paths, window))
            raise RuntimeError("decoding stopped: a worker's pipe broke")

    monkeypatch.setattr(small_pictures, "DecodePool", StopsAfterOne)
    again = cli("--repair")
    assert again.code == 0 and "repair: made 1 missing thumbnail(s)" in again.stderr, again.stderr
    assert "no thumbnail for 2 file(s)" in again.stderr and "decoding stopped: a worker's pipe broke" in again.stderr
    assert cli("--check").code == 0


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_a_pool_mid_read_leaves_no_worker_behind(tiny: Embedder, tmp_path: Path) -> None:
    """A caller that stops reading (an exception in the model, Ctrl-C) closes the pool with its
    read unfinished: the workers stop, none is started again in their place, and the thread
    that dispatched files to them ends without an error."""
    import multiprocessing

    from crashing_reader import read_slowly

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(6)]
    paths.append(str(paint_photo(folder / "slow.png", seed=97)))
    pool = DecodePool(2, tiny.pixel_recipe, reader=read_slowly)
    reading = pool.read(paths, window=2)
    assert next(reading).reason is None
    workers = list(pool._processes().values())
    pool.close()
    time.sleep(0.5)
    assert not any(process.is_alive() for process in workers)
    assert not [p for p in multiprocessing.active_children() if p.name == "imagedb-decoder"]
    assert not [t for t in threading.enumerate() if t.name == "imagedb-dispatch"]
    reading.close()


def test_a_pool_that_cannot_replace_a_worker_says_so_instead_of_waiting(tiny: Embedder, tmp_path: Path) -> None:
    """Out of processes (the system refusing a fork) after a crash: the read stops with that
    error; it never waits for answers no worker is left to give."""
    from crashing_reader import read_or_die

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / "crash-me.png", seed=99))]
    paths += [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(3)]
    pool = DecodePool(1, tiny.pixel_recipe, reader=read_or_die, time_limit=None)

    def refuse() -> None:
        raise OSError(11, "Resource temporarily unavailable")

    pool._start_worker = refuse
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match=r"decoding stopped: .*Resource temporarily unavailable"):
            list(pool.read(paths, window=2))
    finally:
        pool.close()
    assert time.monotonic() - started < 10


def test_a_slow_file_does_not_hold_back_the_files_behind_it(tiny: Embedder, tmp_path: Path) -> None:
    """Results come as files finish: while one worker spends seconds on a large file, the files
    after it are decoded by the other and handed on, so the model is never kept waiting."""
    from crashing_reader import SLOW_SECONDS, read_slowly

    folder = tmp_path / "photos"
    paths = [str(paint_photo(folder / "slow.png", seed=99))]
    paths += [str(paint_photo(folder / f"{i:02d}.png", seed=i)) for i in range(8)]
    pool = DecodePool(2, tiny.pixel_recipe, reader=read_slowly, time_limit=4 * SLOW_SECONDS)
    started = time.monotonic()
    arrived: dict[str, float] = {}
    try:
        for result in pool.read(paths, window=4):
            assert result.reason is None and result.crop is not None, result.reason
            arrived[result.path] = time.monotonic() - started
    finally:
        pool.close()
    assert sorted(arrived) == sorted(paths), "every file answered, once"
    assert list(arrived)[-1] == paths[0], "the slow file came last, not first"
    assert max(arrived[p] for p in paths[1:]) < arrived[paths[0]] <= 4 * SLOW_SECONDS


@pytest.mark.skipif(
    not (Path("/proc/self/schedstat").exists() and hasattr(os, "sched_setaffinity")),
    reason="needs Linux's scheduler statistics and CPU affinity",
)
@pytest.mark.parametrize("others_busy", [0, 2])
def test_a_decoder_kept_off_the_cpu_by_a_busy_program_is_not_timed_out(
    tiny: Embedder, tmp_path: Path, others_busy: int
) -> None:
    """Beside a busy program at normal priority a low-priority worker gets ~1-2 % of a core, so a
    file needing 0.1 s of CPU takes seconds. That is a busy machine, not a bad file: reporting
    it as timed out would also keep it out of the index until it changed. With more busy
    programs than cores the worker waits hundreds of milliseconds at a time, waits Linux
    reports only once they end (``common.workers._longest_wait``)."""
    import subprocess
    import sys

    from crashing_reader import read_on_the_first_core

    path = str(paint_photo(tmp_path / "busy.png", seed=5))
    core = min(os.sched_getaffinity(0))
    limit = 1.0
    pool = DecodePool(1, tiny.pixel_recipe, reader=read_on_the_first_core, time_limit=limit, yield_to_model=True)
    hogs: list[subprocess.Popen] = []
    try:
        # The worker is up and has read a file before the busy programs start: a fresh worker's
        # first file pays one-time costs (memory first touched; the colour transform, before
        # the server made it), and in slivers of a core beside them its CPU time grew more than
        # tenfold (0.03 s -> over 0.4 s here), past the limit: that is the start, not the busy
        # machine this test is about.
        [warm] = pool.read([str(paint_photo(tmp_path / "warm.png", seed=6))], window=1)
        assert warm.reason is None, warm.reason
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(others_busy)]
        hogs.append(
            subprocess.Popen(
                [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"]
            )
        )
        started = time.monotonic()
        [result] = list(pool.read([path], window=1))
        took = time.monotonic() - started
    finally:
        pool.close()
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert took > limit, f"the busy program should have kept the worker waiting past the limit ({took:.2f} s)"
    assert result.reason is None and result.crop is not None, result.reason


# --- decoders beside the model --------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "nice"), reason="process priorities as POSIX has them")
@pytest.mark.parametrize("yield_to_model", [True, False])
def test_decoders_beside_a_model_on_the_cpu_run_at_low_priority(
    tiny: Embedder, tmp_path: Path, yield_to_model: bool
) -> None:
    from crashing_reader import read_worker_niceness

    pool = DecodePool(1, tiny.pixel_recipe, reader=read_worker_niceness, yield_to_model=yield_to_model)
    try:
        [answer] = list(pool.read([str(tmp_path / "any.png")], window=1))
    finally:
        pool.close()
    own = os.nice(0)
    assert int(answer.reason) == (min(19, own + DECODER_NICENESS) if yield_to_model else own)


def test_decoding_workers_stay_light(tiny: Embedder, tmp_path: Path) -> None:
    """A worker reads a photo (record, crop, thumbnail) without loading the model's or the stores'
    libraries: pyarrow alone doubled a worker's memory (33 MB more), and a GPU host runs 15.
    (Under the CLI, the front script, which workers share with the server they are forked from,
    brings its store's pandas or pyarrow; torch never.)"""
    from crashing_reader import read_heavy_libraries

    photo = str(paint_photo(tmp_path / "p.jpg", seed=1))
    pool = DecodePool(1, tiny.pixel_recipe, reader=read_heavy_libraries, thumbnail_dir=str(tmp_path / "thumbs"))
    try:
        [answer] = list(pool.read([photo], window=1))
    finally:
        pool.close()
    assert answer.reason == "", f"loaded in a decoding worker: {answer.reason}"


def test_decoding_workers_start_with_the_script_and_the_places_loaded_from_any_folder(tmp_path: Path) -> None:
    """Workers are forked from a server that imported the program's script, loaded the places
    and made the colour transform once, wherever the program was started from: Python 3.11
    hands that server neither the script nor the module path, and run from outside the
    project's folder, each worker had imported the script itself (~0.3 s of CPU and ~100 MB)
    and would load the places (~0.6 s); each made its own colour transform (~12 ms)."""
    import subprocess
    import sys

    from conftest import REPO

    program = tmp_path / "program.py"
    program.write_text(
        f"""
import os
import sys

sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
from common.preprocess import PixelRecipe
from common.workers import DecodePool

IMPORTED_IN = os.getpid()

if __name__ == "__main__":
    from crashing_reader import read_what_came_from_the_server

    pool = DecodePool(2, PixelRecipe(32, "bicubic", (0.5,) * 3, (0.5,) * 3), reader=read_what_came_from_the_server)
    try:
        print(sorted({{result.reason for result in pool.read(sys.argv[1:], window=2)}}))
    finally:
        pool.close()
"""
    )
    photos = [str(paint_photo(tmp_path / f"{i}.jpg", seed=i)) for i in range(4)]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, str(program), *photos], cwd=elsewhere, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['script,places,colour']"


def test_indexing_on_the_cpu_asks_its_decoders_to_yield_to_the_model(cli: Cli, photos: Path, monkeypatch) -> None:
    import common.pipeline

    asked: list[bool] = []

    class WatchedPool(DecodePool):
        def __init__(self, *args, yield_to_model: bool = False, **kwargs) -> None:
            asked.append(yield_to_model)
            super().__init__(*args, yield_to_model=yield_to_model, **kwargs)

    monkeypatch.setattr(common.pipeline, "DecodePool", WatchedPool)
    done = cli.index(photos, extra=("--workers", "1", "--device", "cpu"))
    assert done.summary()["new"] == len([p for p in photos.rglob("*") if p.is_file()])
    assert asked == [True]


def test_indexing_a_few_files_starts_no_more_decoders_than_files(cli: Cli, photos: Path, monkeypatch) -> None:
    """One new photo (a --watch round, say) is one decoding process, whatever --workers allows."""
    import common.pipeline

    started: list[int] = []

    class WatchedPool(DecodePool):
        def _start_worker(self):
            started.append(1)
            return super()._start_worker()

    monkeypatch.setattr(common.pipeline, "DecodePool", WatchedPool)
    assert cli.index(photos, extra=("--workers", "4")).summary()["new"] > 1
    assert len(started) == 4, "a folder of photos gets every worker asked for"
    started.clear()
    paint_photo(photos / "one more.jpg", seed=99)
    assert cli.index(photos, extra=("--workers", "4")).summary()["new"] == 1
    assert started == [1]


def huge_heic_beside_photos(tmp_path: Path) -> Path:
    """Six small photos and a link to the shared 200-megapixel HEIC (it stores a 512 px thumbnail)."""
    heic = shared("stress", "200MP.heic")
    folder = tmp_path / "photos"
    for i in range(6):
        paint_photo(folder / f"{i}.jpg", seed=i)
    (folder / "huge.heic").symlink_to(heic)
    return folder


@pytest.mark.slow
def test_a_200_megapixel_heic_is_read_from_its_own_thumbnail_within_the_time_limit(cli: Cli, tmp_path: Path) -> None:
    """Its 384x512 thumbnail holds more than the model and the gallery need: no 200 MP decode."""
    folder = huge_heic_beside_photos(tmp_path)
    result = cli.index(folder, extra=("--time-limit", "1"))
    assert result.summary() == {"new": 7, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}
    huge = cli.records()[str(folder / "huge.heic")]
    assert (huge["width"], huge["height"]) == (12240, 16320), "the record keeps the picture's own size"


@pytest.mark.slow
def test_a_200_megapixel_heic_too_big_for_its_thumbnail_times_out_and_the_rest_is_indexed(
    cli: Cli, tmp_path: Path
) -> None:
    """A model with a 448 px input needs more than the thumbnail's 384 px: the whole picture is
    decoded, which runs past the limit (~3 s of CPU here); it is reported, and not tried again."""
    folder = huge_heic_beside_photos(tmp_path)
    config = json.loads(TINY_CONFIG.read_text())
    config["vision_cfg"] |= {"image_size": 448, "patch_size": 56}
    (tmp_path / "wide-eyed.json").write_text(json.dumps(config))
    model = ("--model-config", str(tmp_path / "wide-eyed.json"), "--pretrained", "none")
    # 1 s: the 200 MP file took 2.6 s of wall time on a fast day here (libheif decodes on several
    # threads; the shared data's notes say over 20 s); a small JPEG, worker start-up included, ~0.2 s.
    started = time.monotonic()
    result = cli("--index", folder, *model, "--time-limit", "1")
    assert result.code == 0, result.stderr
    assert time.monotonic() - started < 60
    assert result.summary() == {"new": 6, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}
    assert "timed out" in cli.failures_by_name()["huge.heic"]["reason"]
    assert len(cli.records()) == 6
    again = cli("--index", folder, *model, "--time-limit", "1")  # the same limit would run out the same way
    assert again.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 6, "failed": 1}
    assert "timed out" not in again.stderr, "not decoded again, so no second wait for the limit"
    assert "timed out" in cli.failures_by_name()["huge.heic"]["reason"]


# --- kill -9 ------------------------------------------------------------------------------
def commit_marker(backend: str, db: Path) -> str | None:
    """Something on disk that changes with every commit: LanceDB's version files, FAISS's manifest."""
    try:
        if backend == "lancedb":
            return str(len(list((db / "images.lance" / "_versions").iterdir())))
        manifest = json.loads((db / "manifest.json").read_text())
        return f"{manifest['generation']}+{len(manifest.get('deltas', []))}"
    except (OSError, ValueError, KeyError):
        return None


def committed_signatures(backend: str, db: Path) -> dict[str, tuple[int, float]]:
    """What another process sees as committed right now (retried: a commit may be switching files)."""
    from common.backends import store_class

    cls = store_class(backend)
    for _ in range(20):
        if not cls.exists(str(db)):
            return {}
        try:
            store = cls.open(str(db))
        except Exception:
            time.sleep(0.01)
            continue
        try:
            return store.get_signatures()
        finally:
            store.close()
    raise AssertionError(f"could not read {db} while it was being written")


def descendant_pids(pid: int) -> list[int]:
    """Every process below ``pid``: decoding workers are children of the server they are forked
    from, which is the indexing process's child."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class KillPoint:
    """When to send SIGKILL: after ``commits`` commits by this run (or once the database exists,
    or once every row is committed), then ``delay`` more seconds."""

    def __init__(self, name: str, *, commits: int = 0, delay: float = 0.0, created: bool = False, all_rows: int = 0):
        self.name, self.commits, self.delay, self.created, self.all_rows = name, commits, delay, created, all_rows

    def reached(self, backend: str, db: Path, commits: int) -> bool:
        if self.created:
            return commit_marker(backend, db) is not None
        if self.all_rows:
            return len(committed_signatures(backend, db)) >= self.all_rows
        return commits >= self.commits


def index_and_kill(backend: str, db: Path, folder: Path, point: KillPoint, *extra: str) -> dict[str, tuple[int, float]]:
    """Start an indexing run as a program, SIGKILL it at ``point``; returns what was committed just before."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    from conftest import REPO

    command = [sys.executable, str(REPO / f"imagedb-{backend}.py"), "--index", str(folder), *MODEL_ARGS,
               "--batch", "8", "--commit-every", "0", "--db", str(db), "-q", *extra]  # fmt: skip
    __import__("lancedb" if backend == "lancedb" else "faiss")  # imported now: the snapshot must be quick
    # A killed Python leaves its multiprocessing folder (pymp-*, the decoding server's socket) in
    # the temporary folder: one of this call's, removed after it (the machine's had gained 20 a
    # test run). Short: a long one would have the server's socket made in /tmp (common.workers).
    with tempfile.TemporaryDirectory(prefix="imagedb-killed-") as temporary:
        environment = {**os.environ, "TMPDIR": temporary}
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
        try:
            marker, commits, deadline = commit_marker(backend, db), 0, time.monotonic() + 120
            while not point.reached(backend, db, commits):
                assert process.poll() is None, (
                    f"{point.name}: the run ended before the kill point: {process.stderr.read()}"
                )
                assert time.monotonic() < deadline, f"{point.name}: never reached"
                time.sleep(0.005)
                now = commit_marker(backend, db)
                if now is not None and now != marker:
                    marker, commits = now, commits + 1
            before = committed_signatures(backend, db)
            time.sleep(point.delay)
            workers = descendant_pids(process.pid)
            assert process.poll() is None, f"{point.name}: the run ended before the kill"
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), f"{point.name}: decoder workers outlived their killed parent"
    return before


def assert_consistent_and_kept(cli: Cli, before: dict[str, tuple[int, float]], point: str) -> None:
    """The database opens, has one row per path with a vector each, and kept every committed row."""
    from common.backends import store_class

    if not store_class(cli.backend).exists(str(cli.db)):
        assert not before, f"{point}: committed rows vanished with the database"
        return
    store = cli.store()  # opening checks vectors against metadata (FAISS) / the table (LanceDB)
    try:
        signatures = store.get_signatures()
        assert store.count() == len(signatures), f"{point}: duplicate paths"
        assert len(store.get_vectors(list(signatures))) == len(signatures), f"{point}: rows without vectors"
    finally:
        store.close()
    lost = set(before) - set(signatures)
    assert not lost, f"{point}: committed rows lost: {sorted(lost)[:3]}"


@pytest.mark.slow
def test_kill_9_at_ten_points_loses_nothing_and_a_rerun_converges(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for i in range(200):
        paint_photo(folder / f"{i // 50}" / f"{i:03d}.png", seed=i)
    chain = [
        (KillPoint("while starting up, before the database exists", delay=0.3), ()),
        (KillPoint("right after the database is created", created=True), ()),
        (KillPoint("right after the first commit", commits=1), ()),
        (KillPoint("in the middle of a batch", commits=1, delay=0.02), ()),
        (KillPoint("after two commits, mid-batch", commits=2, delay=0.05), ()),
        (KillPoint("right after the third commit", commits=3), ()),
        (KillPoint("while finishing (secondary indexes)", all_rows=200), ()),
        (KillPoint("while --force replaces rows", commits=2), ("--force",)),
        (KillPoint("mid-batch while --force replaces rows", commits=1, delay=0.03), ("--force",)),
        (KillPoint("after deleting removed files' rows", commits=1), ()),
    ]
    for number, (point, extra) in enumerate(chain):
        if number == len(chain) - 1:  # the folder changes: 10 files removed, 5 repainted
            for i in range(10):
                (folder / "0" / f"{i:03d}.png").unlink()
            for i in range(50, 55):
                paint_photo(folder / "1" / f"{i:03d}.png", seed=1000 + i)
        before = index_and_kill(cli.backend, cli.db, folder, point, *extra)
        assert_consistent_and_kept(cli, before, point.name)

    resumed = cli.index(folder)  # the same command again, to the end
    assert resumed.summary()["new"] + resumed.summary()["updated"] < 190, "it resumed rather than restarted"
    assert cli("--check").code == 0

    reference = Cli(cli.backend, tmp_path / "reference")
    reference.index(folder)
    got, want = cli.records(), reference.records()
    assert sorted(got) == sorted(want) and len(got) == 190
    drop_time = lambda r: {k: v for k, v in r.items() if k != "indexed_at"}  # noqa: E731
    assert all(drop_time(got[p]) == drop_time(want[p]) for p in want)
    mine, theirs = cli.store().get_vectors(list(want)), reference.store().get_vectors(list(want))
    import numpy as np

    assert all(np.allclose(mine[p], theirs[p], atol=1e-5) for p in want)


def test_an_index_runs_where_the_temporary_folder_is_too_long_a_path_for_a_socket(tmp_path: Path) -> None:
    """A ``$TMPDIR`` of over 100 characters (a cluster job's scratch folder, a build sandbox's)
    is too long a path for the decoding server's socket: Python before 3.14 failed every
    ``--index`` with "AF_UNIX path too long". The run indexes every photo all the same."""
    import subprocess
    import sys

    from conftest import REPO

    folder = tmp_path / "photos"
    for i in range(4):
        paint_photo(folder / f"{i}.png", seed=i)
    temporary = tmp_path / ("scratch-of-a-cluster-job-" + "x" * 80)
    temporary.mkdir()
    db = tmp_path / "db"
    command = [sys.executable, str(REPO / "imagedb-faiss.py"), "--index", str(folder), *MODEL_ARGS, "--db", str(db)]
    run = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(temporary)}, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert sorted(Cli("faiss", db).records()) == sorted(str(path) for path in folder.iterdir())


# --- --check and --repair -----------------------------------------------------------------
def test_a_run_stopped_while_it_indexes_what_it_wrote_is_completed_by_the_next_unchanged_run(
    cli: Cli, photos: Path, monkeypatch
) -> None:
    """Ctrl-C (or a full disk) after a run's last rows were committed, while it builds the
    full-text and column indexes, left LanceDB without them: the next run found every file
    unchanged, wrote nothing, so built nothing, and ``--text`` found nothing for good while
    ``--check`` said "--index" would mend it. Rows a later run added outside the indexes are
    folded in the same way."""
    from common.backends import store_class

    store_type = store_class(cli.backend)
    finish = store_type.finish_indexing

    def stopped(self) -> None:
        raise KeyboardInterrupt

    paint_photo(photos / "sunset.png", seed=50)
    monkeypatch.setattr(store_type, "finish_indexing", stopped)
    assert cli("--index", photos, *MODEL_ARGS).code != 0
    monkeypatch.setattr(store_type, "finish_indexing", finish)
    assert cli.index(photos).summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 13, "failed": 0}
    assert cli("--check").code == 0
    assert [hit["path"] for hit in cli.search("--text", "sunset")[0]["results"]] == [str(photos / "sunset.png")]

    paint_photo(photos / "sunrise.png", seed=51)  # added by a run stopped the same way
    monkeypatch.setattr(store_type, "finish_indexing", stopped)
    assert cli("--index", photos, *MODEL_ARGS).code != 0
    monkeypatch.setattr(store_type, "finish_indexing", finish)
    assert cli.index(photos).summary()["unchanged"] == 14
    assert [hit["path"] for hit in cli.search("--text", "sunrise")[0]["results"]] == [str(photos / "sunrise.png")]
    if cli.backend == "lancedb":
        from common.records import FILTER_COLUMNS

        table = raw_lance_table(cli.db)
        indexes = {index.columns[0]: index.name for index in table.list_indices()}
        assert {"search_text", "path", *FILTER_COLUMNS} <= set(indexes)
        assert all(table.index_stats(name).num_unindexed_rows == 0 for name in indexes.values())


def test_check_says_healthy_and_finds_stale_files_which_repair_removes(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    healthy = cli("--check")
    assert healthy.code == 0 and healthy.stdout.startswith("healthy: 12 images, model ")
    (photos / "a.jpg").unlink()
    stale = cli("--check", "--format", "json")
    assert stale.code == 1 and "has 1 problem(s)" in stale.stderr_lines()[-1]
    assert stale.json()["stale"] == [str(photos / "a.jpg")] and not stale.json()["healthy"]
    repaired = cli("--repair", "--check")
    assert repaired.code == 0 and "removed 1 row(s) of deleted files" in repaired.stderr
    assert sorted(cli.records()) == sorted(str(p) for p in photos.rglob("*.*") if p.name != "a.jpg")


def test_check_speaks_every_output_format(cli: Cli, photos: Path) -> None:
    import csv
    import io

    cli.index(photos)
    healthy = cli("--check", "--format", "csv")
    assert healthy.code == 0 and list(csv.reader(io.StringIO(healthy.stdout)))[1][0] == "healthy"
    gone = [photos / "a.jpg", photos / "sub" / "g.jpg"]
    for path in gone:
        path.unlink()
    paths = cli("--check", "--format", "paths")
    assert paths.code == 1 and paths.stdout.splitlines() == sorted(map(str, gone)), "for xargs and friends"
    rows = list(csv.DictReader(io.StringIO(cli("--check", "--format", "csv").stdout)))
    assert sorted(r["detail"] for r in rows if r["kind"] == "stale") == sorted(map(str, gone))
    assert next(r["detail"] for r in rows if r["kind"] == "problem").startswith("2 indexed file(s) no longer exist")
    (line,) = cli("--check", "--format", "jsonl").stdout.splitlines()
    assert json.loads(line)["healthy"] is False and len(json.loads(line)["stale"]) == 2


def test_repair_keeps_the_rows_of_a_folder_that_looks_unmounted(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    shutil.rmtree(photos / "sub")
    (photos / "sub").mkdir()  # a drive mounted at sub/, not there now
    (photos / "a.jpg").unlink()
    repaired = cli("--repair")
    assert repaired.code == 0, repaired.stderr
    assert "removed 1 row(s) of deleted files" in repaired.stderr
    assert f"kept the rows of 3 file(s) not found under {photos / 'sub'}: the folder is empty" in repaired.stderr
    assert len(cli.records()) == 11


def test_repair_names_a_drive_whose_whole_tree_went_once_not_once_per_folder(cli: Cli, tmp_path: Path) -> None:
    """drive/ held only year folders, and all of it went: without a root to judge by, --repair
    keeps their rows and names drive/ once, not each year (a drive of 400 albums: 400 lines)."""
    library = tmp_path / "library"
    for seed, name in enumerate(("home.jpg", "drive/2019/a.jpg", "drive/2019/b.jpg", "drive/2020/c.jpg")):
        paint_photo(library / name, seed)
    cli.index(library)
    shutil.rmtree(library / "drive")
    repaired = cli("--repair")
    assert repaired.code == 0, repaired.stderr
    [kept] = [line for line in repaired.stderr.splitlines() if "kept the rows of" in line]
    assert f"kept the rows of 3 file(s) not found under {library / 'drive'}: the folder is not there" in kept
    assert len(cli.records()) == 4


def test_check_and_repair_do_not_wait_on_a_share_that_stopped_answering(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--check and --repair look for every indexed file: with a NAS switched off (each look at
    it blocks here, as on a hard NFS mount) both waited forever. Now the share is waited on
    --time-limit once, whatever its folders: its files are not looked for (a note says so; its
    rows are kept), and the rest is checked and repaired as ever."""
    share, home = tmp_path / "nas", tmp_path / "home"
    for seed, name in enumerate(("2019/a.jpg", "2019/b.jpg", "2020/c.jpg")):
        paint_photo(share / name, seed)
    for seed, name in enumerate(("h0.jpg", "h1.jpg"), start=10):
        paint_photo(home / name, seed)
    cli.index(share, home)
    (home / "h1.jpg").unlink()
    with share_not_answering(monkeypatch, share):
        check = cli.in_time("--check", "--time-limit", "1")
        assert check.code == 1, check.stderr
        assert f"problem: 1 indexed file(s) no longer exist: {home / 'h1.jpg'}" in check.stdout
        not_looked_for = f"3 indexed file(s) under {share} were not looked for: it did not answer in 1 s"
        assert f"note: {not_looked_for}" in check.stdout
        repaired = cli.in_time("--repair", "--time-limit", "1")
    assert repaired.code == 0, repaired.stderr
    assert "removed 1 row(s) of deleted files" in repaired.stderr
    assert f"kept the rows of 3 file(s) not found under {share}: it did not answer in 1 s" in repaired.stderr
    assert sorted(Path(p).name for p in cli.records()) == ["a.jpg", "b.jpg", "c.jpg", "h0.jpg"]
    assert cli("--check").code == 0


def test_a_file_that_timed_out_as_its_drive_stopped_answering_is_read_again_by_the_next_run(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A VPN that goes down during a run: the file being decoded then runs past --time-limit. A
    file too slow to decode is left alone by later runs with no more time (it would time out
    again), and so was this one: never indexed until it changed; and every file queued after it
    on that drive waited out the limit in turn (a library's thousands: hours). Its drive is asked
    now: not answering, the file and those not sent to a decoder yet are reported at once and read
    again by the next run. Nor does the run's end wait on the drive (a file given to --index is not
    looked at again to say it failed)."""
    import contextlib

    from crashing_reader import read_or_hang_once_gone

    import common.pipeline
    from common.discovery import Walk

    share = tmp_path / "nas"
    hang = paint_photo(share / "hang.jpg", seed=2)  # its decoder never returns, as a read on a share that went
    queued = [paint_photo(share / f"n{i}.jpg", seed=10 + i) for i in range(4)]
    real_files = Walk.files
    gone = contextlib.ExitStack()

    def files_then_the_share_goes(walk: Walk) -> Iterator:
        found = list(real_files(walk))
        gone.enter_context(share_not_answering(monkeypatch, share))  # here
        (tmp_path / "gone").touch()  # and in the decoders
        return iter(found)

    monkeypatch.setattr(Walk, "files", files_then_the_share_goes)
    monkeypatch.setattr(common.pipeline, "read_file", read_or_hang_once_gone)
    with gone:
        result = cli.in_time("--index", share, hang, *MODEL_ARGS, "--time-limit", "1", "--workers", "1")
    assert result.code == 1, result.stderr
    assert result.summary() == {"new": 0, "updated": 0, "removed": 0, "unchanged": 0, "failed": 5}
    assert f"{share} does not answer (a drive not answering?): the next run reads it again" in result.stderr
    failed = cli.failures_by_name()
    assert failed["hang.jpg"]["retry"] == "next-run" and "time_limit" not in failed["hang.jpg"]
    # The file sent to the replaced decoder meanwhile waits too: two waits, not one a file.
    assert len([line for line in result.stderr_lines() if "skipped" in line and "timed out" in line]) == 2
    assert failed["n0.jpg"]["reason"].startswith("timed out") and failed["n0.jpg"]["retry"] == "next-run"
    for photo in queued[1:]:
        assert failed[photo.name]["reason"].startswith(f"not read: {share} does not answer"), failed[photo.name]
        assert failed[photo.name]["retry"] == "next-run"
    monkeypatch.undo()
    (tmp_path / "gone").unlink()
    again = cli.index(share)
    assert again.summary() == {"new": 5, "updated": 0, "removed": 0, "unchanged": 0, "failed": 0}


def test_repair_renormalises_and_reembeds_rows_with_broken_vectors(cli: Cli, photos: Path) -> None:
    import numpy as np

    cli.index(photos)
    good = cli.store().get_vectors([str(photos / "b.png"), str(photos / "c.webp")])
    store = cli.store()
    records = {r["path"]: r for r in store.get_records()}
    store.upsert_images([records[str(photos / "b.png")]], 3 * good[str(photos / "b.png")][None])
    # LanceDB refuses NaN vectors on write; a zero vector is as useless and both take it.
    store.upsert_images([records[str(photos / "c.webp")]], np.zeros((1, store.info.dim), np.float32))
    store.commit()
    store.close()

    check = cli("--check")
    assert check.code == 1
    assert (
        "1 vector(s) not of unit length" in check.stdout and "1 row(s) with a non-finite or zero vector" in check.stdout
    )

    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert "re-embedding 1 file(s)" in repair.stderr and "healthy: 12 images" in repair.stdout
    fixed = cli.store().get_vectors(list(good))
    assert all(np.allclose(fixed[p], good[p], atol=1e-5) for p in good)


def test_repair_brings_old_search_text_up_to_date_without_re_embedding(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    """A row indexed before file-name parts were searchable lacks them: --check says so, and
    --repair rewrites the text from the row's own record, keeping its vector, loading no model."""
    import numpy as np

    folder = tmp_path / "photos"
    for seed, name in enumerate(("vacation2019.jpg", "garden.jpg")):
        paint_photo(folder / name, seed=seed)
    cli.index(folder)
    assert cli("--check").code == 0, "a fresh index holds this version's text"
    path = str(folder / "vacation2019.jpg")
    store = cli.store()
    record = next(r for r in store.get_records() if r["path"] == path)
    vector, color = store.get_vectors([path])[path], store.get_colors([path])[path]
    old_text = f"{path}\nvacation2019.jpg"  # as versions before the name-parts rule wrote it
    store.upsert_images([record | {"search_text": old_text}], vector[None], color[None])
    store.commit()
    store.finish_indexing()
    store.close()

    def names(result: dict) -> list[str]:
        return [Path(r["path"]).name for r in result["results"]]

    assert names(cli.search("--text", "vacation")[0]) == []
    check = cli("--check")
    assert check.code == 1 and "1 row(s) lacking what this version records" in check.stdout

    def no_model(*args, **kwargs):
        raise AssertionError("repairing text must not load the model")

    monkeypatch.setattr(Embedder, "__init__", no_model)
    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert (
        "brought 1 row(s) an older version wrote up to date" in repair.stderr and "healthy: 2 images" in repair.stdout
    )
    assert names(cli.search("--text", "vacation")[0]) == ["vacation2019.jpg"]
    assert np.array_equal(cli.store().get_vectors([path])[path], vector), "the vector is kept as it was"


def test_faiss_vectors_lost_from_the_index_file_are_rebuilt(tmp_path: Path, photos: Path) -> None:
    import faiss
    import numpy as np

    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    manifest = json.loads((cli.db / "manifest.json").read_text())
    index_file = cli.db / f"images-{manifest['generation']}.faiss"
    index = faiss.read_index(str(index_file))
    index.remove_ids(np.array([0, 1], dtype=np.int64))  # two rows lose their vectors
    faiss.write_index(index, str(index_file))

    broken = cli("--search", str(photos / "a.jpg"))
    assert broken.code == 1 and "inconsistent" in broken.stderr and "--repair" in broken.stderr
    check = cli("--check")
    assert check.code == 1 and "2 rows without a vector" in check.stdout

    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert "dropped 2 row(s) whose vector was lost" in repair.stderr and "re-embedding 2 file(s)" in repair.stderr
    assert len(cli.records()) == 12
    (hits,) = cli.search("--search", str(photos / "a.jpg"), "--limit", "1")
    assert hits["results"][0]["path"] == str(photos / "a.jpg")


def test_faiss_colour_signatures_lost_with_their_file_are_made_again_by_repair(tmp_path: Path, photos: Path) -> None:
    """A lost colour file left every row without a colour signature: a colour search scored each
    0.0000 until --force embedded the whole library again. --repair makes them again from the
    thumbnails they were counted on (a file without one is decoded), nothing embedded."""
    import numpy as np

    from common.thumbnails import THUMBNAIL_DIR, find_thumbnail

    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    paths = sorted(cli.records())
    before = cli.store().get_colors(paths)
    (listed,) = cli.search("--color", "red", "--limit", "3")
    without_thumbnail = cli.records()[str(photos / "b.png")]
    Path(find_thumbnail(str(cli.db / THUMBNAIL_DIR), without_thumbnail)[0]).unlink()
    (colour_file,) = cli.db.glob("images-*.color.faiss")
    colour_file.unlink()

    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert "made the colour signatures of 12 file(s) again, from their thumbnails (else the files" in repair.stderr
    assert "re-embedding" not in repair.stderr
    after = cli.store().get_colors(paths)
    assert all(float(before[p] @ after[p]) > 0.98 for p in paths)
    (again,) = cli.search("--color", "red", "--limit", "3")
    assert [h["path"] for h in again["results"]] == [h["path"] for h in listed["results"]]
    assert all(h["score"] > 0 for h in again["results"])
    assert np.any(after[without_thumbnail["path"]])


def test_faiss_repair_recovers_a_lost_manifest_from_the_metadata_file(tmp_path: Path, photos: Path) -> None:
    cli = Cli("faiss", tmp_path / "db")
    cli.index(photos)
    (cli.db / "manifest.json").unlink()
    assert cli("--check").code == 2, "no manifest: no index here, as far as opening goes"
    # The folder still holds a generation; --repair reads the model from the metadata file itself.
    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert len(cli.records()) == 12 and json.loads((cli.db / "manifest.json").read_text())["rows"] == 12
    (hits,) = cli.search("--search", str(photos / "f.tiff"), "--limit", "1")
    assert hits["results"][0]["path"] == str(photos / "f.tiff")


def test_lancedb_repair_keeps_one_row_per_duplicated_path(tmp_path: Path, photos: Path) -> None:
    cli = Cli("lancedb", tmp_path / "db")
    cli.index(photos)
    table = raw_lance_table(cli.db)
    duplicate = table.search().where(f"path = '{photos / 'a.jpg'}'").limit(None).to_arrow()
    table.add(duplicate)  # a plain append bypasses the upsert by path
    check = cli("--check")
    assert check.code == 1 and "1 path(s) indexed more than once" in check.stdout
    repair = cli("--repair", "--check")
    assert repair.code == 0, repair.stderr
    assert cli.store().count() == 12
    (hits,) = cli.search("--search", str(photos / "a.jpg"), "--limit", "2")
    assert [h["path"] for h in hits["results"]].count(str(photos / "a.jpg")) == 1


# --- a full disk, a read-only database ----------------------------------------------------
def run_program(backend: str, db: Path, *args: str, file_size_limit: int | None = None, read_only_user: bool = False):
    """Run a front script as a program, optionally unable to write files past ``file_size_limit``
    bytes (the disk is full, as far as the program can tell) or without root's power to write
    where permissions say no."""
    import os
    import resource
    import shutil
    import signal
    import subprocess
    import sys

    from conftest import REPO

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    command = [sys.executable, str(REPO / f"imagedb-{backend}.py"), *args, "--db", str(db)]
    if read_only_user and os.geteuid() == 0:  # root ignores file modes unless it gives up these powers
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder read-only to this process")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size if file_size_limit else None
    )


@pytest.fixture
def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for i in range(40):
        paint_photo((first if i < 12 else second) / f"{i:03d}.png", seed=i)
    return first, second


def assert_one_clear_line_and_state_kept(result, cli: Cli, kept: dict[str, dict], why: str) -> None:
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and f"cannot write to the database at {cli.db}: {why}" in errors[0], result.stderr
    after = cli.records()
    assert all(after[p]["mtime"] == r["mtime"] for p, r in kept.items()), "the earlier rows are intact"
    assert cli("--check").code == 0


@pytest.mark.slow
def test_a_full_disk_is_one_clear_error_and_loses_nothing(cli: Cli, two_folders: tuple[Path, Path]) -> None:
    first, second = two_folders
    cli.index(first)
    kept = cli.records()
    full = run_program(cli.backend, cli.db, "--index", str(second), *MODEL_ARGS, file_size_limit=3000)
    assert_one_clear_line_and_state_kept(full, cli, kept, "File too large")
    assert cli.index(second).summary()["failed"] == 0
    assert len(cli.records()) == 40 and cli("--check").code == 0, "with room again, the same command completes"


@pytest.mark.slow
def test_a_read_only_database_can_be_searched_and_refuses_writes_clearly(
    cli: Cli, two_folders: tuple[Path, Path]
) -> None:
    import os

    first, second = two_folders
    cli.index(first)
    kept = cli.records()
    folders = [cli.db, *[Path(d) for d, _, _ in os.walk(cli.db)]]
    for folder in folders:
        folder.chmod(0o555)
    try:
        search = run_program(cli.backend, cli.db, "--search", str(first / "003.png"), "--format", "paths",
                             read_only_user=True)  # fmt: skip
        assert search.returncode == 0 and search.stdout.splitlines()[0] == str(first / "003.png"), search.stderr
        refused = run_program(cli.backend, cli.db, "--index", str(second), *MODEL_ARGS, read_only_user=True)
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert_one_clear_line_and_state_kept(refused, cli, kept, "Permission denied")


# --- files that change under the run ------------------------------------------------------
def test_a_file_that_vanishes_between_scan_and_decode_is_reported(cli: Cli, photos: Path, monkeypatch) -> None:
    from common.discovery import Walk

    real_files = Walk.files

    def find_then_delete(walk: Walk) -> list:
        found = list(real_files(walk))
        (photos / "sub" / "g.jpg").unlink()  # after the scan saw it, before anything reads it
        return found

    monkeypatch.setattr(Walk, "files", find_then_delete)
    result = cli.index(photos)
    assert result.summary() == {"new": 11, "updated": 0, "removed": 0, "unchanged": 0, "failed": 1}
    assert "vanished" in cli.failures_by_name()["g.jpg"]["reason"]
    assert len(cli.records()) == 11


@pytest.mark.slow
def test_an_unreadable_file_is_reported_and_the_rest_indexed(cli: Cli, photos: Path) -> None:
    (photos / "b.png").chmod(0o000)  # the scan can still stat it; reading it is refused
    try:
        result = run_program(cli.backend, cli.db, "--index", str(photos), *MODEL_ARGS, read_only_user=True)
    finally:
        (photos / "b.png").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert f"skipped {photos / 'b.png'}: permission denied" in result.stderr
    assert cli.failures_by_name()["b.png"]["reason"] == "permission denied"
    assert len(cli.records()) == 11
    assert cli.index(photos).summary()["new"] == 1, "readable again: indexed by the next run"


@pytest.mark.slow
def test_a_folder_that_cannot_be_read_keeps_its_rows(cli: Cli, photos: Path) -> None:
    cli.index(photos)
    (photos / "sub").chmod(0o000)  # its files cannot be seen: not the same as deleted
    try:
        result = run_program(cli.backend, cli.db, "--index", str(photos), *MODEL_ARGS, read_only_user=True)
    finally:
        (photos / "sub").chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "0 removed" in result.stderr
    assert f"kept the rows of 3 file(s) not found under {photos / 'sub'}: the folder cannot be read" in result.stderr
    assert len(cli.records()) == 12


# --- concurrent use -----------------------------------------------------------------------
@pytest.mark.slow
def test_searching_while_another_process_indexes_sees_committed_states(cli: Cli, tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import REPO

    folder = tmp_path / "photos"
    for i in range(160):
        paint_photo(folder / f"{i:03d}.png", seed=i)
    command = [sys.executable, str(REPO / f"imagedb-{cli.backend}.py"), "--index", str(folder), *MODEL_ARGS,
               "--batch", "8", "--commit-every", "0", "--db", str(cli.db), "-q"]  # fmt: skip
    indexer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: list[int] = []
    try:
        while indexer.poll() is None:
            if not (cli.db / ("images.lance" if cli.backend == "lancedb" else "manifest.json")).exists():
                time.sleep(0.05)
                continue
            result = cli("--where", "width > 0", "--limit", "1000", "--format", "paths")
            assert result.code == 0, result.stderr
            paths = result.stdout.splitlines()
            assert len(paths) == len(set(paths)), "never a half-written or duplicated state"
            seen.append(len(paths))
    finally:
        _, errors = indexer.communicate(timeout=120)
    assert indexer.returncode == 0, errors
    assert len(seen) >= 3 and seen == sorted(seen), f"searches saw growing committed states: {seen}"
    assert max(seen) > 0 and max(seen) <= 160 and len(cli.records()) == 160


def test_a_decompression_bomb_is_refused_before_any_pixel_is_allocated(cli: Cli, photos: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A 40,000 × 40,000 RGB PNG header (1.6 gigapixels, 4.8 GB decoded) in a 100-byte file.
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
    (photos / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + idat + chunk(b"IEND", b""))
    started = time.monotonic()
    result = cli.index(photos)
    assert time.monotonic() - started < 60
    assert result.summary()["failed"] == 1 and result.summary()["new"] == 12
    reason = cli.failures_by_name()["bomb.png"]["reason"]
    assert reason == "decompression bomb refused: it claims 1,600,000,000 pixels, over the limit of 250,000,000"
