"""The command line both front scripts share: ``main(StoreClass)`` is all a backend adds.

Exit status: 0 success (a run that skipped bad files still succeeds; they are reported),
1 a database that cannot be used as it is, 2 a bad invocation (nothing is written),
130 interrupted (143 by SIGTERM, handled alike), 141 the reader of standard output went away
(``| head``): quietly, as ``cat`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from common.companions import without_companions
from common.config import ConfigError, config_path, config_to_argv
from common.db_folder import other_things_in, roots_inside
from common.discovery import (
    absolute,
    counted_in_words,
    has_image_extension,
    normalise_root,
    patterns_renamed,
)
from common.distinct import distinct_hits
from common.embedding import ModelError, ModelSpec
from common.failures import FAILURES_FILE, FailureReport
from common.fetch import is_image_url
from common.invocation import (
    MissingFolder,
    UsageError,
    check_invocation,
    check_query,
    did_you_mean,
    narrow_by_place,
    query_image,
    query_terms,
    refuse_bytes_of_another_encoding,
)
from common.log_lines import RepeatsHeldBack, configure_logging, only_warnings_logged
from common.native_messages import native_messages_hidden, send_to_null_device
from common.options import build_parser, options_given, value_read_as_an_option, with_negative_values_joined
from common.ordering import hits_in_order, parse_order
from common.output import (
    QueryResults,
    escape_what_streams_cannot_write,
    stream_encoding,
    write_results,
)
from common.query_lines import queries_typed
from common.runs import (
    leave_out_settings_with_no_part_in,
    reads_queries_from_stdin,
    wants_results,
)
from common.settling import Settling
from common.store import FilterError, Hit, ImageStore, IndexInfo, StoreError, write_errors_explained
from common.thumbnails import THUMBNAIL_DIR, PicturesOfFiles
from common.visible import visible

if TYPE_CHECKING:
    import numpy as np

    from common.combine import Term
    from common.duplicates import Duplicates
    from common.embedding import Embedder
    from common.forget import FolderLooks
    from common.nearby import Centre
    from common.pipeline import IndexSummary
    from common.place_names import IndexPlaces

log = logging.getLogger("imagedb")


class Terminated(KeyboardInterrupt):
    """SIGTERM: a service manager stopping a ``--watch``, or ``kill``. Handled as Ctrl-C is (the
    batches written are committed and kept), with the exit status of a terminated process."""


def stop_as_ctrl_c_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise ``Terminated`` in the main thread; returns how to put the old handler
    back. Python's default would end the process at once, losing the batches not yet committed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def terminated(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    return lambda: signal.signal(signal.SIGTERM, previous)


class ReaderGone(Exception):
    """Whoever read our standard output stopped reading (``| head``): not an error to report."""


@contextlib.contextmanager
def writing_to_stdout():
    """Standard output, where a closed pipe becomes ``ReaderGone`` (and stdout is let go at once).

    Only writes to stdout may be read as "the reader left": a ``BrokenPipeError`` from anywhere
    else (a worker's pipe) is a real failure and must still be reported.
    """
    try:
        yield sys.stdout
        sys.stdout.flush()
    except BrokenPipeError:
        stop_writing_to_stdout()
        raise ReaderGone from None


def stop_writing_to_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit cannot fail on the closed pipe again.

    The recipe from the ``signal`` module's documentation (its note on SIGPIPE).
    """
    with contextlib.suppress(OSError, ValueError):  # ValueError: no file behind stdout (a test's buffer)
        send_to_null_device(sys.stdout.fileno())


def main(store_class: type[ImageStore], argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(store_class, prog)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        path = config_path(argv)
        argv = with_negative_values_joined(argv, parser)
        refused = value_read_as_an_option(argv, parser)
        if refused:
            parser.error(refused)
        from_file = config_to_argv(path, parser) if path else []
        args = parser.parse_args(from_file + argv)
        args.typed = options_given(parser, parser.parse_args(argv) if from_file else args)
        args.set_in_file = {dest: parser.get_default(dest) for dest in options_given(parser, args) - args.typed}
    except ConfigError as error:
        print(f"{parser.prog}: error: {visible(str(error))}", file=sys.stderr)
        return 2
    except SystemExit as exit_:
        return int(exit_.code or 0)
    escape_what_streams_cannot_write()
    configure_logging(parser.prog, args.quiet, args.verbose)
    with native_messages_hidden(show=args.verbose):
        return carry_out(store_class, args)


def carry_out(store_class: type[ImageStore], args: argparse.Namespace) -> int:
    """Carry out the actions ``args`` asks for; the exit status."""
    restore_sigterm = stop_as_ctrl_c_on_sigterm()
    try:
        session = Session(store_class, args)  # touches nothing yet: the refusals below may use it
        # As typed: check_invocation rewrites dates, --near and --under add to it.
        args.filter_label, args.where_typed, args.near_centre = args.where, args.where, None
        args.left_out = leave_out_settings_with_no_part_in(args, getattr(args, "set_in_file", {}))
        for left_out in args.left_out:
            log.debug("config file: %s left out (no part in this run)", left_out.replace("_", "-"))
        check_invocation(args)
        narrow_by_place(args)
        try:
            if args.repair:
                session.repair()
            if args.forget:
                session.forget(args.forget)
            if args.index and args.watch:
                session.watch(args.index, args.watch)  # the first run, then the looks
            elif args.index:
                session.index(args.index)
            if args.check:
                session.check()
            if args.under:  # after --index, which may be what puts rows there
                session.narrow_by_folder()
            if args.export:
                session.export(args.export)
            if args.duplicates:
                session.list_duplicates()
            if args.stats:
                session.print_overview()
            if reads_queries_from_stdin(args):
                if session.answer_each_query_from(sys.stdin):
                    return 2
            elif wants_results(args):
                results = session.search()
                try:
                    with writing_to_stdout() as stdout:
                        write_results(results, args.format, stdout, preview=session.previewer())
                finally:  # `| head` taking only the first lines still gets the page it asked for
                    if args.html:
                        session.write_gallery(results, args.html)
            if session.named_files_not_indexed:
                return 1
        finally:
            session.close()
    except ReaderGone:
        return 128 + signal.SIGPIPE
    except MissingFolder as error:
        log.error("error: %s%s", error, session.held_rows_hint(error.folder))
        return 2
    except (UsageError, ModelError, FilterError) as error:
        log.error("error: %s", error)
        return 2
    except StoreError as error:
        log.error("error: %s", error)
        return 1
    except KeyboardInterrupt as stop:
        if args.index or args.repair or args.forget:
            log.error("interrupted: what was already indexed is kept; run the same command again to resume")
        else:  # a search (a session of them, --search -), a check or a listing: nothing to resume
            log.error("interrupted")
        return 128 + signal.SIGTERM if isinstance(stop, Terminated) else 130
    except Exception as error:  # a bug or an environment problem: one line, the traceback on -v
        log.debug("traceback", exc_info=True)
        log.error("error: unexpected %s: %s (run with -v for the traceback)", type(error).__name__, error)
        return 1
    finally:
        restore_sigterm()
    return 0


class Session:
    """One invocation's store and (lazily) its model, shared by the index and search actions."""

    def __init__(self, store_class: type[ImageStore], args: argparse.Namespace) -> None:
        self.store_class = store_class
        self.args = args
        self.db_path = os.path.abspath(os.path.expanduser(args.db))
        self.store: ImageStore | None = None
        self.folder_names: dict[str, list[str]] = {}  # as_indexed
        self.said_no_preview = False  # previewer
        self._pictures_of_files: PicturesOfFiles | None = None  # pictures_of_files
        self.said_fused_scores_are_small = False  # search_one
        self.said_why_nothing_was_found = False  # say_why_nothing_was_found: once while the index stays as it is
        self.embedder: Embedder | None = None
        # Each query's vector, once: an --add term is read (or fetched) once for every --search query.
        self.query_vectors: dict[str, tuple[np.ndarray, str]] = {}
        self.index_places: IndexPlaces | None = None  # metadata_words
        self.index_words: list[str] | None = None  # say_what_words_may_mean
        self.color: tuple[np.ndarray | None, str] | None = None  # color_query
        self.named_files_not_indexed: list[str] = []  # index: files --index named that failed

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    # --- model ---------------------------------------------------------------------------
    def requested_model(self) -> ModelSpec | None:
        """The model the user named, or None when they left it to the index."""
        a = self.args
        if not (a.model or a.pretrained or a.model_config):
            return None
        return ModelSpec.from_options(a.model, a.pretrained, a.model_config)

    def model_for(self, info: IndexInfo | None) -> ModelSpec:
        requested = self.requested_model()
        if info is None:
            return requested or ModelSpec.from_options(None, None, None)
        if requested is None:
            return info.model
        if (requested.model, requested.pretrained) != (info.model.model, info.model.pretrained):
            if requested.model == info.model.model and requested.has_the_weights_of(info.model):
                if requested.has_the_config_of(info.model):  # each file hashed once
                    log.info(
                        "%s has the bytes of the index's %s: the same model, moved",
                        requested.pretrained,
                        info.model.pretrained,
                    )
                    return requested
                raise UsageError(
                    f"--model-config {requested.model_config} is not the model config the index at {self.db_path} was "
                    f"built with (its content differs from that of {info.model.model_config}), though the checkpoint is"
                )
            raise UsageError(
                f"the index at {self.db_path} was built with {info.model.describe()}, not {requested.describe()}: "
                f"drop --model/--pretrained to use the index's model, or use another --db"
            )
        return requested

    def load_embedder(self, spec: ModelSpec, image_tower: bool = False) -> Embedder:
        """The model, loaded once; again, whole, when an image must be embedded and only the
        text tower was (``--search -``: a photo the index does not hold after a prompt)."""
        if self.embedder is None or (image_tower and self.embedder.text_only):
            from common.embedding import Embedder

            log.debug("loading %s", spec.describe())
            try:
                self.embedder = Embedder(
                    spec,
                    self.args.device,
                    text_only=not (image_tower or self.needs_image_tower()),
                    precision=self.args.precision,
                    queries_only=not (self.args.index or self.args.repair),
                )
            except ModelError as error:
                raise ModelError(f"{error}{self.where_the_index_s_model_went(spec)}") from None
        return self.embedder

    def where_the_index_s_model_went(self, spec: ModelSpec) -> str:
        """What to add to "checkpoint … does not exist" when the index's own model files are
        gone: moved, they are found by their content, which the index records (``model_for``)."""
        missing = spec.missing_files()
        if not missing or self.requested_model() is not None:
            return ""
        if spec.pretrained_sha256 is None:  # an index made before imagedb recorded fingerprints
            return (
                f" (the index at {self.db_path} was made with it, and knows it by that path alone: put it back there)"
            )
        options = "--model-config and --pretrained" if spec.model_config in missing else "--pretrained"
        return f" (the index at {self.db_path} was made with it: moved? give its new place with {options})"

    def needs_image_tower(self) -> bool:
        """Indexing or an image query needs it; text prompts alone do not (a faster cold start)."""
        a = self.args
        queries = (a.search or []) + [term.query for term in query_terms(a)]
        return bool(a.index or a.repair) or any(query_image(q) or is_image_url(q) for q in queries)

    # --- index ---------------------------------------------------------------------------
    def index(self, folders: list[str], wait: bool | None = None, settling: Settling | None = None) -> IndexSummary:
        """Index ``folders``; with ``settling``, as a watch's later look: only what changed
        since, what is still being written left for the look after (``common.settling``).
        ``--force`` and ``--retry-failed`` are for the first run, a whole run as without
        ``--watch``: a watch re-embedding every photo, or retrying every failed file, at each
        look would never rest."""
        from common.locking import indexing_lock
        from common.pipeline import index_roots
        from common.workers import start_decoding_server

        again = settling is not None

        exists = self.store_class.exists(self.db_path)
        if not exists:
            self.refuse_a_folder_that_cannot_hold_an_index()
            self.refuse_a_folder_of_other_things()
        # One name a folder: the walk visits a folder once whatever its names, so a second would
        # find none of the rows it holds and take them for files deleted.
        roots = (
            self.as_indexed(folders, one_name_each=True) if exists else list(dict.fromkeys(map(self.named, folders)))
        )
        # The drives that did not answer check_invocation are not waited on again by the first
        # run; a watch's later looks ask again (each for --time-limit at most): back, they are walked.
        silent = {} if again else self.args.silent_roots
        inside = roots_inside([root for root in roots if root not in self.args.silent_roots], self.db_path)
        if inside:
            raise UsageError(
                f"--index {inside[0]}: it is in the database's own folder (--db {self.db_path}), which "
                "indexing leaves out: give --db a folder of its own, beside the photos or in them"
            )
        renamed = {folder: names[0] for folder, names in self.folder_names.items() if names[0] != folder}
        exclude = patterns_renamed(self.args.exclude or (), renamed)
        info = self.open_store().info if exists else None
        spec = self.model_for(info)

        def load_checked_embedder() -> Embedder:
            embedder = self.load_embedder(spec)
            if info is not None and embedder.dim != info.dim:
                raise UsageError(f"the model makes {embedder.dim}-d vectors but the index holds {info.dim}-d ones")
            return embedder

        if info is None:  # a new index records the model's vector size: load it now, before the lock
            if self.args.workers != 0:
                start_decoding_server()  # it starts while the model loads
            load_checked_embedder()
        # An existing index loads the model only if some file needs embedding (an unchanged tree
        # never does). Everything above only read; from here on this process is the one writer.
        with (
            write_errors_explained(self.db_path),
            indexing_lock(self.db_path, self.args.wait if wait is None else wait),
        ):
            if self.store is None:
                embedder = load_checked_embedder()  # loaded above; load_embedder keeps it
                created = IndexInfo(embedder.spec.with_fingerprints(), embedder.dim)
                self.store = self.store_class.create(self.db_path, created)
            else:  # reopened under the lock: another writer may have committed since we looked
                self.store.close()
                self.store = self.store_class.open(self.db_path)
            failures = FailureReport(os.path.join(self.db_path, FAILURES_FILE))
            try:
                summary = index_roots(
                    self.store, load_checked_embedder, roots, force=self.args.force and not again,
                    batch_size=self.args.batch,
                    failures=failures, progress=False if self.args.quiet else None,
                    retry_failed=self.args.retry_failed and not again, workers=self.args.workers,
                    time_limit=self.args.time_limit, commit_seconds=self.args.commit_every,
                    thumbnail_dir=os.path.join(self.db_path, THUMBNAIL_DIR) if self.args.thumbnails is not False else None,
                    exclude=exclude, jpeg_decoder=self.args.jpeg_decoder, settling=settling, silent_roots=silent,
                )  # fmt: skip
            finally:
                failures.close()
        log.info("indexed %s: %s", ", ".join(roots), summary.line())
        if summary.failed:
            log.info("%d file(s) skipped; see %s", summary.failed, failures.path)
        log.info("%s in %s", counted_in_words(self.store.count(), self.store.count_videos()), self.db_path)
        self.say_named_files_not_indexed(summary.named_files, failures)
        if summary.stopped_by is not None:
            raise summary.stopped_by  # exit status 130 (143: SIGTERM), after the summary
        return summary

    def say_named_files_not_indexed(self, named: set[str], failures: FailureReport) -> None:
        """A file ``--index`` named itself (not one found in a folder) that failed: the user asked
        for that very file, so the run ends with exit status 1 once its other actions are done,
        as ``cp a b dir/`` does when ``a`` cannot be read, and one line says which and why (a
        failure an earlier run found, not tried again, was said at the info level alone). ``named``:
        the files as the walk found them, asked of no drive again (one may have stopped answering)."""
        failed = {str(entry["path"]): entry["reason"] for entry in failures.entries if str(entry["path"]) in named}
        kept = self.store.get_records_by_path(list(failed)) if failed and self.store is not None else {}
        for path, reason in failed.items():
            if path in kept:  # a file changed since it was indexed, which fails now
                log.error("error: --index %s: not indexed as it is now (its row from before is kept): %s", path, reason)
            else:
                log.error("error: --index %s: not indexed: %s", path, reason)
        # As this run left them: a watch's later look that indexes a file another failed on
        # clears it (the exit status said a file was not indexed when the watch ended).
        self.named_files_not_indexed = [p for p in self.named_files_not_indexed if p not in named] + list(failed)

    def watch(self, folders: list[str], seconds: float) -> None:
        """Index ``folders``, then again every ``seconds`` until Ctrl-C or SIGTERM (``--watch``),
        the model kept loaded between rounds. A round that finds nothing to do prints nothing; one
        that does prints its summary line, and any file it skipped; a warning the round before
        gave too (a drive still away) is not given again. Another indexer holding the
        database is waited for rather than refused: a watch outlives such runs. Stopped between
        rounds, the normal end of a watch (a service manager stopping it), it exits 0."""
        repeats, settling = RepeatsHeldBack(), Settling()
        with repeats.during_a_look():  # a whole run, as without --watch, saying all it has to say
            self.index(folders)
        folders = self.as_indexed(folders, one_name_each=True)  # named as that run's lines named them
        log.info("watching %s: looking again every %g s (Ctrl-C stops)", ", ".join(folders), seconds)
        while True:
            try:
                time.sleep(seconds)
            except KeyboardInterrupt:  # Terminated too: between looks, nothing is cut short
                log.info("stopped watching %s", ", ".join(folders))
                return
            with only_warnings_logged(), repeats.during_a_look():  # stopped during a look: as any run is
                summary = self.index(folders, wait=True, settling=settling)
            if summary.new or summary.updated or summary.removed or summary.failed > summary.failed_before:
                log.info("indexed %s: %s", ", ".join(folders), summary.line())

    def as_indexed(self, folders: list[str], one_name_each: bool = False) -> list[str]:
        """``folders`` as the index names them (``common.folder_names``), so that indexing or
        forgetting a folder by a symlink's name works on the rows of its first name, rather than
        adding every file again under the new name or finding nothing to forget. Asked once a
        session for each folder: a watch's every look would otherwise read every path again."""
        from common.folder_names import folders_as_indexed
        from common.under import holds_rows_under

        store = self.open_store()
        named = list(map(self.named, folders))
        asked = [folder for folder in named if folder not in self.folder_names]
        self.folder_names.update(folders_as_indexed(store, asked, functools.partial(holds_rows_under, store)))
        names = [self.folder_names[folder] for folder in named]
        return list(dict.fromkeys(name for found in names for name in (found[:1] if one_name_each else found)))

    def named(self, folder: str) -> str:
        """``folder`` as records name it (``normalise_root``); as given, made absolute, where its
        drive did not answer check_invocation: not looked at again."""
        given = absolute(folder)
        if given in self.args.silent_roots:
            self.folder_names.setdefault(given, [given])  # nor its other names
            return given
        return normalise_root(folder)

    def as_indexed_within(self, folders: list[str], looks: FolderLooks) -> list[str]:
        """``as_indexed``, unless the disk does not answer it within ``looks.patience`` (a name
        not held by the index is looked for there, and a name with accents too): then the
        folders as given, absolute, said once and not looked at again (``looks``)."""
        from common.reading import answer_within

        self.open_store()  # here, not on the thread that may be left waiting
        answered, named = answer_within(lambda: self.as_indexed(folders), looks.patience)
        if answered and named is not None:
            return named
        given = [absolute(folder) for folder in folders]
        log.warning(
            "%s did not answer in %g s (a drive not answering?): taken by the name given, as not there",
            ", ".join(given),
            looks.patience,
        )
        looks.silent.update(given)
        return given

    def forget(self, folders: list[str]) -> None:
        """Remove the rows of every file under ``folders`` (``common.forget``)."""
        from common.forget import FolderLooks, ForgetRefused, forget_folders, refuse_what_cannot_be_meant
        from common.locking import indexing_lock

        failures_path = os.path.join(self.db_path, FAILURES_FILE)
        looks = FolderLooks(self.args.time_limit or None)  # a drive not answering: waited on as a decoder is
        folders = self.as_indexed_within(folders, looks)
        try:  # before the lock, which a refused command must not take (nothing written)
            refuse_what_cannot_be_meant(self.open_store(), folders, FailureReport(failures_path), looks=looks)
        except ForgetRefused as error:
            raise UsageError(f"--forget: {error}") from None
        with write_errors_explained(self.db_path), indexing_lock(self.db_path, self.args.wait):
            self.store.close()  # reopened under the lock: another writer may have committed since
            self.store = self.store_class.open(self.db_path)
            failures = FailureReport(failures_path)
            try:
                thumbnails = os.path.join(self.db_path, THUMBNAIL_DIR)
                forgotten = forget_folders(self.store, folders, failures, thumbnails, looks)
            except ForgetRefused as error:
                raise UsageError(f"--forget: {error}") from None
            finally:
                failures.close()
        for folder, count in forgotten.items():
            log.info("forgot %d image(s) under %s; no file was touched", count, folder)
            if count and looks.still_there(folder, [folder]):  # not a drive gone: the next --index reads them again
                log.info("%s is still there: an --index of a folder holding it reads its files again "
                         "(--exclude %s keeps them out)", folder, folder)  # fmt: skip
        log.info("%s in %s", counted_in_words(self.store.count(), self.store.count_videos()), self.db_path)

    # --- health --------------------------------------------------------------------------
    def check(self) -> None:
        """Print the index's health; problems make the exit status 1."""
        from common.health import HealthReport, check_store

        try:
            report = check_store(self.open_store(), self.args.time_limit or None)
        except StoreError as error:  # too broken to open: that is the one problem to report
            report = HealthReport(images=0, model="unknown", problems=[str(error)])
        try:
            with writing_to_stdout() as stdout:
                report.write(self.args.format, stdout)
        except ReaderGone:
            if report.healthy:
                raise
            # an unhealthy index says so in its exit status, whether or not the reader stayed
        if not report.healthy:
            raise StoreError(
                f"the index at {self.db_path} has {len(report.problems)} problem(s), listed above; --repair rebuilds what it can"
            )

    def previewer(self) -> Callable[[dict], str] | None:
        """What draws a result's picture under its row (``--preview``), if asked for and where
        it can be seen: ``auto`` draws nothing into a pipe or a file (a named way does: ``less
        -R`` shows blocks), and says so once."""
        if not self.args.preview:
            return None
        if self.args.preview == "auto" and not sys.stdout.isatty():
            if not self.said_no_preview:
                log.info("--preview: stdout is not a terminal, so no pictures (--preview blocks draws them anyway)")
                self.said_no_preview = True
            return None
        from common.preview import Previewer

        return Previewer(
            os.path.join(self.db_path, THUMBNAIL_DIR), self.args.preview, self.args.preview_rows,
            stand_in=self.pictures_of_files(),
        )  # fmt: skip

    def pictures_of_files(self) -> PicturesOfFiles:
        """The pictures of results the index holds no thumbnail of, read within --time-limit;
        one for the session, so a folder that stalled is not waited for again."""
        if self._pictures_of_files is None:
            self._pictures_of_files = PicturesOfFiles(self.args.time_limit)
        return self._pictures_of_files

    def write_gallery(self, results: list[QueryResults], path: str) -> None:
        from common.gallery import write_gallery

        try:
            write_gallery(results, path, os.path.join(self.db_path, THUMBNAIL_DIR), stand_in=self.pictures_of_files())
        except OSError as error:
            raise StoreError(f"cannot write the page {path}: {error.strerror or error}") from None
        log.info("wrote %s", path)

    def list_duplicates(self) -> None:
        from common.duplicates import find_duplicates

        found = find_duplicates(
            self.open_store(), self.args.duplicate_threshold, self.args.where, self.args.filter_label
        )
        if (
            self.narrowed()
            and not found.exact
            and not found.near
            and not self.open_store().get_records(self.args.where, 1)
        ):
            self.say_why_nothing_was_found(self.open_store())
        # Their records, for pictures (--preview, --html): read once, for the files listed alone.
        records = self.open_store().get_records_by_path(found.paths()) if self.args.preview or self.args.html else {}
        try:
            with writing_to_stdout() as stdout:
                found.write(self.args.format, stdout, self.duplicates_previewer(records))
        finally:  # `| head` taking only the first lines still gets the page it asked for
            if self.args.html:
                self.write_duplicates_page(found, records, self.args.html)

    def write_duplicates_page(self, found: Duplicates, records: dict[str, dict], path: str) -> None:
        """``--duplicates --html``: a section a group, each file's picture with its facts (which
        copy to keep is easier to say seen, side by side)."""
        from common.gallery import write_gallery

        title = "imagedb duplicates" + (f" among the files matching: {found.among}" if found.among else "")
        try:
            write_gallery(
                found.as_sections(records), path, os.path.join(self.db_path, THUMBNAIL_DIR), title, "file",
                self.pictures_of_files(),
            )  # fmt: skip
        except OSError as error:
            raise StoreError(f"cannot write the page {path}: {error.strerror or error}") from None
        log.info("wrote %s", path)

    def duplicates_previewer(self, records: dict[str, dict]) -> Callable[[str, str], str] | None:
        """``--preview`` for ``--duplicates``' files, which it names by path."""
        previewer = self.previewer()
        if previewer is None:
            return None

        def preview(path: str, indent: str) -> str:
            record = records.get(path)  # None: removed by another process since the groups were found
            return previewer(record, indent) if record else f"{indent}(no longer in the index)\n"

        return preview

    def narrow_by_folder(self) -> None:
        """Fold ``--under`` into ``--where`` (``common.under``), and into how results and counts
        name the filter ('under /photos/2023'), each folder as the index names it
        (``common.folder_names``: a symlink's name finds what was indexed by the real one). A
        folder the index holds nothing of is a typo or a folder not indexed yet: one line saying
        which, rather than a search that finds nothing and says nothing of why."""
        from common.folder_names import folders_as_indexed
        from common.reading import answer_within
        from common.under import holds_rows_under, under_label, with_under

        # Each name asked once: the check below asks again of the names found holding rows.
        store = self.open_store()
        holds = functools.cache(functools.partial(holds_rows_under, store))
        # A name the index does not hold (or one with accents) is looked for on the disk, which a
        # share that stopped answering never answers: --time-limit at most, then the names given.
        patience = self.args.time_limit or None
        answered, names = answer_within(lambda: folders_as_indexed(store, self.args.under, holds), patience)
        if not answered or names is None:
            names = {given: [given] for given in map(absolute, self.args.under)}
        for folder, found in names.items():
            if not any(map(holds, found)):
                if not answered:
                    why = f"its disk did not answer in {patience:g} s: a drive not answering?"
                elif os.path.isdir(folder):
                    why = "index it with --index DIR first"
                elif os.path.lexists(folder):
                    indexable = has_image_extension(folder)
                    why = "a file not indexed yet: --index it first" if indexable else "a file of a kind not indexed"
                else:
                    why = f"there is no such folder{did_you_mean(folder, folder=True)}"
                raise UsageError(f"--under {folder}: nothing is indexed under it ({why})")
        folders = list(dict.fromkeys(name for found in names.values() for name in found))
        self.args.filter_label = under_label(self.args.filter_label, folders)
        self.args.where = with_under(self.args.where, folders)
        if self.args.near_centre is not None:
            self.args.apart_from_near = with_under(self.args.apart_from_near, folders)

    def print_overview(self) -> None:
        from common.overview import overview_of

        overview = overview_of(self.open_store(), self.db_path, self.args.where, self.args.filter_label)
        if self.narrowed() and not overview.files:
            self.say_why_nothing_was_found(self.open_store())
        with writing_to_stdout() as stdout:
            overview.write(self.args.format, stdout)

    def export(self, path: str) -> None:
        from common.export import export_store

        try:
            count = export_store(self.open_store(), path, self.args.where)
        except OSError as error:
            raise StoreError(f"cannot write the export {path}: {error.strerror or error}") from None
        among = f" (matching: {self.args.filter_label})" if self.args.where is not None else ""
        log.info("exported %d images to %s%s", count, path, among)
        if not count and self.narrowed():
            self.say_why_nothing_was_found(self.open_store())

    def repair(self) -> None:
        """Salvage, mend and re-index: everything sound is kept, lost rows are re-embedded."""
        from common.health import repair_store
        from common.locking import indexing_lock

        if not os.path.isdir(self.db_path):  # not exists(): a FAISS folder may have lost its manifest
            raise UsageError(f"no index at {self.db_path} to repair: create one with --index DIR")
        if not self.store_class.exists(self.db_path):
            self.refuse_a_folder_that_cannot_hold_an_index()
        with write_errors_explained(self.db_path), indexing_lock(self.db_path, self.args.wait):
            if self.store is not None:
                self.store.close()
            self.store, actions, dropped = self.store_class.salvage(self.db_path)
            result = repair_store(self.store, actions, dropped, self.args.time_limit, self.make_missing_thumbnails)
        for action in result.actions:
            log.info("repair: %s", action)
        for held in result.left_alone:
            log.warning(
                "repair: kept the rows of %d file(s) not found under %s: %s",
                len(held.paths),
                held.folder,
                held.reason(),
            )
        if result.to_reembed:
            folders = sorted({os.path.dirname(p) for p in result.to_reembed})
            log.info("repair: re-embedding %d file(s) whose rows were lost", len(result.to_reembed))
            self.index(folders)

    def make_missing_thumbnails(self, lacking: list[str]) -> list[str]:
        """``--repair``'s thumbnails of the files ``lacking`` one: those some files lack where
        others have theirs (lost with a disk, deleted by a cleaner), or every missing one with
        ``--thumbnails``; none with ``--no-thumbnails``, or where no file has one (indexed
        without: a choice, not a loss)."""
        from common.health import thumbnails_of
        from common.small_pictures import make_missing_thumbnails

        if self.args.thumbnails is False:
            return []
        if not lacking or (len(lacking) == self.store.count() and self.args.thumbnails is None):
            return []
        records = self.store.get_records_by_path(lacking)
        made, unread = make_missing_thumbnails(
            thumbnails_of(self.store), [records[path] for path in lacking], self.args.time_limit,
            progress=False if self.args.quiet else None,
        )  # fmt: skip
        said = [f"made {made} missing thumbnail(s)"] if made else []
        if unread:
            path, why = unread[0]
            more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
            said.append(f"no thumbnail for {len(unread)} file(s): {path}: {why}{more}")
        return said

    def held_rows_hint(self, folder: str) -> str:
        """What to add when a missing --index folder has rows in the index (an unplugged drive, a
        share not mounted, or one gone for good): how many, and how to drop them. Read only; empty
        when there is no index or nothing of the folder in it, or the index cannot be read."""
        from common.discovery import is_under_root

        root = normalise_root(folder)
        if not self.store_class.exists(self.db_path):
            return ""
        try:
            store = self.store_class.open(self.db_path)
        except StoreError:
            return ""
        try:  # opened and closed here: the refusal comes before the session opens a store of its own
            held = sum(is_under_root(path, root) for path in store.get_signatures())
        finally:
            store.close()
        if not held:
            return ""
        return f" (the index holds {held} image(s) from it, kept: a drive not mounted? If it is gone for good, --forget {root} drops them)"

    def refuse_a_folder_that_cannot_hold_an_index(self) -> None:
        """Before any work (loading the model takes seconds): a --db that is a file, or that holds
        the other backend's index, cannot take this one."""
        from common.backends import other_backend_at

        if os.path.exists(self.db_path) and not os.path.isdir(self.db_path):
            raise UsageError(f"--db {self.db_path} is a file, not a database folder")
        other = other_backend_at(self.db_path, self.store_class.backend)
        if other:
            raise UsageError(
                f"{self.db_path} holds an imagedb-{other}.py index, not an imagedb-{self.store_class.backend}.py "
                f"one: use imagedb-{other}.py with it, or give --db a folder of its own"
            )

    def refuse_a_folder_of_other_things(self) -> None:
        """A new index is not spread among a folder's other files (``common.db_folder``)."""
        others = other_things_in(self.db_path)
        if others:
            named = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
            raise UsageError(
                f"--db {self.db_path} holds other things ({len(others)}: {named}) and no index: a new "
                "index needs a folder of its own (one not there yet, or empty)"
            )

    def open_store(self) -> ImageStore:
        if self.store is None:
            if not self.store_class.exists(self.db_path):
                self.refuse_a_folder_that_cannot_hold_an_index()
                if "index" in getattr(self.args, "left_out", ()):  # the config file's roots, not indexed yet
                    typed_db = f" --db {self.args.db}" if "db" in getattr(self.args, "typed", ()) else ""
                    raise UsageError(
                        f"no index at {self.db_path}: index the config file's roots first, with "
                        f"--config {self.args.config}{typed_db} on its own"
                    )
                raise UsageError(f"no index at {self.db_path}: create one with --index DIR (or point --db at one)")
            self.store = self.store_class.open(self.db_path)
        return self.store

    # --- search --------------------------------------------------------------------------
    def answer_each_query_from(self, stdin: TextIO) -> int:
        """``--search -``: answer each query of ``stdin`` as it comes, with the store, the model
        and every option loaded once: a session of searches, or a program's line-by-line client,
        pays the cold start once (~5 s for a prompt on ViT-B-32 here) instead of at every query.
        A query that cannot be answered (an image not found, a folder) is one error line, and
        the next is read; how many were is returned. ``--format json`` writes each answer on
        one line; ``--html`` gets every answer, once stdin ends."""
        # What would fail every query fails the session at once: no index, another model than
        # the index's, a --palette that cannot be read.
        self.model_for(self.open_store().info)
        self.color_query()
        answered: list[QueryResults] = []
        refused = 0
        stdin_encoding = stream_encoding(stdin)
        try:
            for query in queries_typed(stdin, prompt=stdin.isatty()):
                self.see_what_was_committed_since()
                try:
                    refuse_bytes_of_another_encoding("query", query, stdin_encoding, "a line written in")
                    check_query(query, self.args.mode)
                    results = self.search([query])
                except UsageError as error:
                    log.error("error: %s", error)
                    refused += 1
                    continue
                with writing_to_stdout() as stdout:
                    write_results(results, self.args.format, stdout, one_line=True, preview=self.previewer())
                answered.extend(results)
        finally:
            if self.args.html and answered:
                self.write_gallery(answered, self.args.html)
        return refused

    def see_what_was_committed_since(self) -> None:
        """Open the store again when another process has committed since it was opened (an index
        run in another terminal during a ``--search -`` session): the next query finds the new
        photos, and the session holds no version a writer's clean-up may delete."""
        if self.store is None or not self.store.outdated():
            return
        model = self.store.info.model
        self.store.close()
        self.store = None
        log.debug("the index changed since it was opened: opening it again")
        if self.open_store().info.model != model:  # rebuilt with another model (--force)
            self.embedder = None
        self.query_vectors.clear()  # a photo's stored vector may have changed with it
        self.index_places = self.index_words = None
        self.said_why_nothing_was_found = False  # the rows the filter is tried on have changed

    def search(self, queries: list[str] | None = None) -> list[QueryResults]:
        """The results of every search asked for: ``--search`` (or ``queries`` in its place),
        ``--text``, ``--color`` and a listing."""
        store = self.open_store()
        a = self.args
        results: list[QueryResults] = []
        color, color_label = self.color_query()
        for query in (a.search or []) if queries is None else queries:
            if color is None:
                results.append(self.search_one(store, query, a.limit))
                continue
            from common.color import COMBINED_CANDIDATES, rerank_by_color

            found = self.search_one(store, query, max(COMBINED_CANDIDATES, a.limit))
            paths = [h.record["path"] for h in found.hits]
            hits = rerank_by_color(found.hits, store.get_colors(paths), color, a.limit)
            results.append(QueryResults(f"{query} + {color_label}", found.kind, f"{found.mode}+color", hits))
        for query in a.text or []:
            words = self.metadata_words(store, query)
            hits = self.best_hits(store, lambda n, w=words: store.search_by_text(w, n, a.where), a.limit)
            if not hits:
                self.say_what_no_row_holds(store, query, words)
            results.append(QueryResults(query, "metadata", "fts", hits))
        if color is not None and not a.search:
            hits = self.best_hits(store, lambda n: store.search_by_color(color, n, a.where), a.limit)
            results.append(QueryResults(color_label, "color", "color", hits))
        order = parse_order(a.order_by) if a.order_by else None
        if not a.search and not a.text and color is None and a.where is not None:
            if a.near_centre is not None and order is None:  # photos near a place: the nearest first
                from common.nearby import nearest_records

                def listed(n: int) -> list[Hit]:
                    return [_record_hit(r) for r in nearest_records(store, a.where, a.near_centre, n)]
            else:

                def listed(n: int) -> list[Hit]:
                    return [_record_hit(r) for r in store.get_records(a.where, n, order)]

            hits = (
                distinct_hits(listed, a.limit, store.get_vectors, a.duplicate_threshold)
                if a.distinct
                else listed(a.limit)
            )
            results.append(QueryResults(a.filter_label, "filter", "filter", hits))
        if self.narrowed() and results and not any(result.hits for result in results):
            self.say_why_nothing_was_found(store)
        if a.near_centre is not None:
            with_distances_from(a.near_centre, results)
        if a.min_score is not None:  # the best --limit, those that score at least --min-score
            results = [self.scoring_at_least(a.min_score, r) for r in results]
        if order:  # the best --limit, listed in that order (a listing is in it already)
            results = [r if r.kind == "filter" else replace(r, hits=hits_in_order(r.hits, order)) for r in results]
        return results

    def color_query(self) -> tuple[np.ndarray | None, str]:
        """The colour signature asked for with --color or --palette (None without), and its label;
        worked out once (a ``--search -`` session asks at every query)."""
        if self.color is None:
            self.color = self.color_asked_for()
        return self.color

    def color_asked_for(self) -> tuple[np.ndarray | None, str]:
        a = self.args
        if a.color:
            from common.color import colors_signature, parse_colors

            return colors_signature(parse_colors(a.color)), "colour " + " ".join(a.color)
        if a.palette:
            from common.color import image_signature
            from common.decoding import DecodeError, decode_image

            try:
                decoded = decode_image(a.palette, 64)
            except DecodeError as error:
                raise UsageError(f"cannot read palette image {a.palette}: {error}") from None
            return image_signature(decoded.image), f"colours of {a.palette}"
        return None, ""

    def best_hits(self, store: ImageStore, search: Callable[[int], list[Hit]], limit: int) -> list[Hit]:
        """The ``limit`` best hits ``search(n)`` gives, each photo once (``common.companions``) and,
        with ``--distinct``, each scene once (``common.distinct``)."""
        if not self.args.distinct:
            return without_companions(search, limit)
        return distinct_hits(
            lambda n: without_companions(search, n), limit, store.get_vectors, self.args.duplicate_threshold
        )

    def search_one(self, store: ImageStore, query: str, limit: int) -> QueryResults:
        a = self.args
        terms = query_terms(a)
        if terms:
            return self.search_combined(store, query, terms, limit)
        if a.mode != "vector" and not (is_image_url(query) or query_image(query)):
            words = self.metadata_words(store, query)
            if a.mode == "fts":
                hits = self.best_hits(store, lambda n: store.search_by_text(words, n, a.where), limit)
            else:
                from common.text_search import as_the_model_reads

                vector = self.text_vector(store, as_the_model_reads(query))
                self.say_fused_scores_are_small()
                hits = self.best_hits(store, lambda n: store.search_hybrid(vector, words, n, a.where), limit)
            if not hits:
                self.say_what_no_row_holds(store, query, words)
            return QueryResults(query, "text", a.mode, hits)
        vector, kind = self.query_vector(store, query)
        if kind == "image" and a.mode != "vector":
            log.info("%s is an image: searching by vector (--mode %s applies to text prompts)", query, a.mode)
        if kind == "text":
            self.say_the_model_reads_no_minus(query)
            self.say_the_model_reads_no_plus(query)
        hits = self.best_hits(store, lambda n: store.search_by_vector(vector, n, a.where), limit)
        return QueryResults(query, kind, "vector", hits)

    def scoring_at_least(self, min_score: float, result: QueryResults) -> QueryResults:
        """``result`` with the hits that score ``min_score`` or more; where that leaves none of
        several, a line says what the best scored: 'no matches' left the user to guess the
        scale (a prompt's cosine rarely passes 0.35, a photo's own file scores 1)."""
        kept = [hit for hit in result.hits if hit.score >= min_score]
        fused = result.mode == "hybrid" and self.said_fused_scores_are_small  # its own line said so
        if result.hits and not kept and not fused:
            best = max(hit.score for hit in result.hits)
            log.warning(
                "%s: no result scores --min-score %g or more; the best scored %.4f", result.query, min_score, best
            )
        return replace(result, hits=kept)

    def say_fused_scores_are_small(self) -> None:
        """Say once that no hybrid result can reach a --min-score above what fusion gives: it
        kept nothing, and said nothing of why (a score of cosine scale reads as one)."""
        from common.text_search import RRF_K

        highest = 2 / (RRF_K + 1)  # ranked first by both the vectors and the words
        if self.args.min_score is not None and self.args.min_score > highest and not self.said_fused_scores_are_small:
            self.said_fused_scores_are_small = True
            log.warning(
                "--min-score %g: a hybrid search's scores are reciprocal-rank fusions, at most %.4f (first in "
                "both rankings): no result reaches it", self.args.min_score, highest,
            )  # fmt: skip

    @staticmethod
    def say_the_model_reads_no_minus(query: str) -> None:
        """Say how to leave something out, when a prompt searched by vector holds '-cat': the
        model reads it as words, and draws the search toward cats (a number, '-5 degrees', is
        taken for one)."""
        import shlex

        from common.text_search import QUOTES, left_out_as_written

        terms = [term for term in left_out_as_written(query) if not term[0].isdigit()]
        if terms:
            log.warning(
                "%s: the model reads no minus: %s draws the search toward what it names, not away (--subtract %s "
                "searches away from it; --mode hybrid leaves out the rows whose metadata names it)",
                query, " ".join(f"-{term}" for term in terms),
                " ".join(shlex.quote(term.strip(QUOTES)) for term in terms),
            )  # fmt: skip

    @staticmethod
    def say_the_model_reads_no_plus(query: str) -> None:
        """Say how to require a word, when a prompt searched by vector holds '+canon': the model
        reads it as one more word, and keeps no row out (a number, '+5 degrees', is taken for one)."""
        from common.text_search import required_as_written

        terms = [term for term in required_as_written(query) if not term[0].isdigit()]
        if terms:
            log.warning(
                "%s: the model reads no plus: %s %s one more word to it (--mode hybrid keeps only the rows whose "
                "metadata holds %s)", query, " ".join(f"+{term}" for term in terms),
                "is" if len(terms) == 1 else "are", "it" if len(terms) == 1 else "them",
            )  # fmt: skip

    def narrowed(self) -> bool:
        """Whether a --where or --near narrows what is searched, listed or counted (whose finding
        nothing ``say_why_nothing_was_found`` explains)."""
        return self.args.where_typed is not None or self.args.near_centre is not None

    def say_why_nothing_was_found(self, store: ImageStore) -> None:
        """Say which comparison of the --where typed no row meets, and what the index holds that
        it may have meant ('Italien': Italy; ``common.empty_filters``), and how far from a --near
        place the nearest photo is (``common.nearby.how_near_the_nearest_is``): 'no matches'
        alone left the user to take the condition apart, or to guess the radius. Once in a
        ``--search -`` session while the index stays as it is: the filter is the session's, and
        each query repeated it."""
        from common.empty_filters import what_no_row_meets
        from common.nearby import how_near_the_nearest_is

        if self.said_why_nothing_was_found:
            return
        self.said_why_nothing_was_found = True
        a = self.args
        lines = what_no_row_meets(store, a.where_typed) if a.where_typed is not None else []
        if a.near_centre is not None and not lines:  # where --where lets rows through
            others = [name for name, given in (("--where", a.where_typed), ("--under", a.under)) if given]
            among = f" {' and '.join(others)} let{'s' if len(others) == 1 else ''} through" if others else ""
            nearest = how_near_the_nearest_is(store, a.apart_from_near, a.near_centre, a.near_km, among)
            lines += [nearest] if nearest else []
        for line in lines:
            log.warning("%s", line)

    def say_what_no_row_holds(self, store: ImageStore, query: str, words: str) -> None:
        """Say which term a metadata search that found nothing requires no row holds ('canon
        +2017': no photo of 2017), or that no row holds them all together: 'no matches' alone
        left the user to take the query apart. ``words``: ``query`` as searched (with the names
        the index gives its places), whose terms required stand in the same order."""
        from common.text_search import TextQuery, required_as_written, tokenize

        if self.args.where is not None and not store.get_records(self.args.where, 1):
            return  # the filter lets no row through: that is what to say (``say_why_nothing_was_found``)
        rows = "no row --where lets through" if self.args.where is not None else "no row"
        typed, searched = TextQuery.of(query).required_terms, TextQuery.of(words).required_terms
        if not typed:
            self.say_what_words_may_mean(store, query, tokenize(TextQuery.of(query).words), rows)
            return
        if len(typed) != len(searched):
            return
        as_written = [f"+{term}" for term in required_as_written(query)]
        if len(as_written) == len(typed):  # each as the user wrote it ('+紫禁城', not its pairs)
            typed = as_written
        held = [bool(store.search_by_text(term, 1, self.args.where)) for term in searched]
        if not all(held):
            missing = " ".join(term for term, found in zip(typed, held, strict=True) if not found)
            log.warning("%s: %s holds %s", query, rows, missing)
        elif len(typed) > 1:
            log.warning("%s: %s holds %s together", query, rows, " and ".join(typed))

    def say_what_words_may_mean(self, store: ImageStore, query: str, words: list[str], rows: str) -> None:
        """Say, of the ``words`` of a metadata search that found nothing, those no row holds and
        the index's words spelt nearly so ('canonn': canon; ``common.spellings``)."""
        from common.spellings import words_nearly_so, words_of_index

        def index_words() -> list[str]:
            if self.index_words is None:
                self.index_words = words_of_index(store)
            return self.index_words

        for word, offered in words_nearly_so(store, words, self.args.where, index_words).items():
            log.warning("%s: %s holds %s; did you mean %s?", query, rows, word, " or ".join(offered))

    def metadata_words(self, store: ImageStore, query: str) -> str:
        """``query`` as the metadata search takes it: with the names the index records for the
        places it calls by another name ('München' also matches the rows that say Munich;
        ``common.place_names``), and the names the rows' written locations give the places it
        names ('Genoa' also matches 'Genova, Italia'; ``common.written_places``); a place left out
        (``-München``) is left out by those names too. The CLIP half of a hybrid search gets
        ``query`` as it is, less what it leaves out: the model knows München."""
        from common.place_names import places_of_index, recorded_names_in
        from common.text_search import TextQuery

        if "*" in query:  # 'can*' found nothing, and said nothing of why
            log.warning(
                "%s: a metadata search matches whole words, with no wildcard: searched as %r", query,
                " ".join(query.replace("*", " ").split()),
            )  # fmt: skip
        if self.index_places is None:
            self.index_places = places_of_index(store, self.db_path)
        parts = TextQuery.of(query)
        names = recorded_names_in(parts.searched, self.index_places)
        left_out_names = recorded_names_in(parts.left_out, self.index_places) if parts.left_out else []
        # A place required ('+firenze') is met by a row holding any name of it ('Florence').
        required_names = [
            list(dict.fromkeys(name for term in group for name in recorded_names_in(term, self.index_places)))
            for group in parts.required
        ]
        if not names and not left_out_names and not any(required_names):
            return query
        if names:
            log.info("%s: also matching %s, as the index names it", query, " and ".join(names))
        for group, added in zip(parts.required, required_names, strict=True):
            if added:
                log.info("%s: +%s also met by %s, as the index names it", query, "|".join(group), " or ".join(added))
        if left_out_names:
            log.info("%s: also leaving out %s, as the index names it", query, " and ".join(left_out_names))
        return parts.with_added(names, left_out_names, required_names).written()

    def search_combined(self, store: ImageStore, query: str, terms: list[Term], limit: int) -> QueryResults:
        """The nearest rows to ``query`` plus and minus ``terms`` (``common.combine``)."""
        from common.combine import CombineError, combined_label, combined_vector

        vector, _ = self.query_vector(store, query)
        term_vectors = [self.query_vector(store, term.query)[0] for term in terms]
        try:
            target = combined_vector(vector, terms, term_vectors)
        except CombineError as error:
            raise UsageError(f"{combined_label(query, terms)}: {error}") from None
        hits = self.best_hits(store, lambda n: store.search_by_vector(target, n, self.args.where), limit)
        return QueryResults(combined_label(query, terms), "combined", "vector", hits)

    def query_vector(self, store: ImageStore, query: str) -> tuple[np.ndarray, str]:
        """The CLIP vector of a picture on the web, an image file or a prompt, and which it was."""
        if query not in self.query_vectors:
            self.query_vectors[query] = self.embedded_query(store, query)
        return self.query_vectors[query]

    def embedded_query(self, store: ImageStore, query: str) -> tuple[np.ndarray, str]:
        if is_image_url(query):
            from common.fetch import FetchError, fetched_image

            try:
                with fetched_image(query, self.args.time_limit or None) as image:
                    return self.image_vector(store, query, image), "image"
            except FetchError as error:
                raise UsageError(f"cannot fetch query image {query}: {error}") from None
        image = query_image(query)
        if image:
            return self.image_vector(store, query, image), "image"
        return self.text_vector(store, query), "text"

    def image_vector(self, store: ImageStore, query: str, image: str) -> np.ndarray:
        """The vector of the picture in the file ``image`` (what ``query`` named): the one the
        index holds for it when it has one, else embedded now."""
        from common.decoding import DecodeError, check_recognised

        spec = self.model_for(store.info)  # another model asked for is refused, stored vector or not
        stored = stored_vector(store, image)
        if stored is not None:
            log.debug("%s: searching by the vector the index holds for it (no model loaded)", query)
            return stored
        try:
            check_recognised(image)
            return embedded_image(self.load_embedder(spec, image_tower=True), image)
        except DecodeError as error:
            raise UsageError(f"cannot read query image {query}: {error}") from None

    def text_vector(self, store: ImageStore, query: str) -> np.ndarray:
        embedder = self.load_embedder(self.model_for(store.info))
        if embedder.fills_context(query):
            log.warning(
                "the prompt %r fills all %d tokens %s reads; any words past them are ignored: put what matters first",
                _shortened(query), embedder.context_length, embedder.spec.model,
            )  # fmt: skip
        return embedder.embed_texts([query])[0]


def embedded_image(embedder: Embedder, image: str) -> np.ndarray:
    """The vector of the picture in the file ``image``, decoded exactly as indexing decodes it: a
    file with the bytes of an indexed one finds it at 1.0. Raises ``DecodeError``."""
    from common.decoding import decode_image

    return embedder.embed_images([decode_image(image, embedder.min_side).image])[0]


def stored_vector(store: ImageStore, image: str) -> np.ndarray | None:
    """The vector the index holds for the picture in the file ``image``: its own row's while the
    file is unchanged since it was indexed (size and mtime), else that of a row with the same
    bytes (a copy, or the file touched); None for a picture the index does not hold.

    Either is what embedding the file now would give (the same model, decoding and crop), so a
    search by a photo of the library loads no model at all: a cold "more like this one" skips
    importing torch and reading the weights, most of its time.
    """
    from common.metadata import content_hash

    path = normalise_root(image)
    try:
        stat = os.stat(path)
        record = store.get_records_by_path([path]).get(path)
        if record is None or (record["size_bytes"], record["mtime"]) != (stat.st_size, stat.st_mtime):
            same_bytes = content_hash(path)
            record = store.get_records_by_content_hash([same_bytes]).get(same_bytes)
    except OSError:  # unreadable: decoding it says why, in the words every query image gets
        return None
    if record is None:
        return None
    return store.get_vectors([record["path"]]).get(record["path"])


def _shortened(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def with_distances_from(centre: Centre, results: list[QueryResults]) -> None:
    """Give each hit its great-circle distance from a ``--near`` place (``distance_km``, to the metre)."""
    from common.nearby import distance_km

    for result in results:
        records = [hit.record for hit in result.hits]
        km = distance_km(centre, [r.get("gps_latitude") for r in records], [r.get("gps_longitude") for r in records])
        for hit, distance in zip(result.hits, km.tolist(), strict=True):
            hit.extra["distance_km"] = round(distance, 3)


def _record_hit(record: dict):
    from common.store import Hit

    return Hit(record=record, score=float("nan"))
