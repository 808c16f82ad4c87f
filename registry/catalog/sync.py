"""Sync a registry store into the catalog: one listing, then only what changed.

1. List the store's ESMs once; each item carries its commit sha (on the Hub a listing
   with ``expand=sha,lastModified,tags,cardData``: one request per page of results).
2. Compare with the shas the catalog holds. Repos gone from the listing are removed;
   unchanged ones cost nothing; new or changed ones are read at the *listed* commit
   (``config.json``, through the huggingface_hub cache on the Hub), in parallel.
3. Results are written in batches, each its own transaction, and an entry's sha is part
   of its row. An interrupted sync therefore leaves a consistent catalog (every row
   matches the commit it names), and the next sync reads only what is still missing.

Example:
    >>> import tempfile
    >>> from registry.catalog import Catalog
    >>> from registry.stores import open_store
    >>> folder = tempfile.mkdtemp()
    >>> with Catalog(f"{folder}/catalog.sqlite") as catalog:
    ...     catalog.sync(open_store(f"{folder}/registry"), progress=False).describe()
    '0 listed: nothing changed; 0 indexed'
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from .._progress import progress_bar
from ..aliases import observed_pairs
from ..errors import UsageError
from ..stores.base import RegistryStore, RepoInfo
from .entries import CatalogEntry, UnusableRepo
from .extract import Draft, Failed, Outcome, Unusable, read_repo
from .rows import (
    UNUSABLE_COLUMNS,
    delete_repos,
    get_meta,
    known_shas,
    learn_aliases,
    now,
    recanonicalize,
    resolve_base_model,
    set_meta,
    transaction,
    unusable_from_row,
    upsert_entry,
    upsert_unusable,
)

__all__ = ["FailedRepo", "SyncSummary", "sync_catalog"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedRepo:
    """A repo the store failed to deliver; the next sync tries it again."""

    repo_id: str
    error: str


@dataclass(frozen=True)
class SyncSummary:
    """What a sync did.

    Attributes:
        source: The store synced from (URL or folder).
        listed: ESM repos the store listed.
        added: Repos indexed for the first time.
        updated: Repos re-read because their commit changed.
        removed: Repos dropped because the store no longer lists them.
        unchanged: Listed repos whose commit the catalog already had (not read).
        unusable: Every listed repo that cannot be indexed, with the reason.
        failed: Repos that could not be read this time.
        indexed: Entries in the catalog after the sync.
        with_problems: Of those, entries with problems (legacy or incomplete metadata).
        aliases: Base-model aliases learned during the sync.
        reads: Repos read (downloaded, or served by a cache) in this sync.
        seconds: Wall time.
    """

    source: str
    listed: int
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    unusable: tuple[UnusableRepo, ...] = ()
    failed: tuple[FailedRepo, ...] = ()
    indexed: int = 0
    with_problems: int = 0
    aliases: tuple[tuple[str, str], ...] = ()
    reads: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every listed repo was read (unusable repos are not failures)."""
        return not self.failed

    def describe(self) -> str:
        """One line such as ``5 listed: 2 added, 1 updated, 2 unchanged; 1 unusable``."""
        changes = [
            f"{len(self.added)} added" if self.added else "",
            f"{len(self.updated)} updated" if self.updated else "",
            f"{len(self.removed)} removed" if self.removed else "",
            f"{self.unchanged} unchanged" if self.unchanged and self.listed else "",
        ]
        parts = ", ".join(part for part in changes if part)
        if not (self.added or self.updated or self.removed or self.failed):
            parts = "nothing changed" if not self.unchanged else f"{self.unchanged} unchanged"
        line = f"{self.listed} listed: {parts}; {self.indexed} indexed"
        if self.with_problems:
            line += f" ({self.with_problems} with problems)"
        if self.unusable:
            line += f", {len(self.unusable)} unusable"
        if self.failed:
            line += f", {len(self.failed)} failed"
        return line


class _BatchWriter:
    """Writes read outcomes in batches, one transaction each, in the calling thread."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        indexed: set[str],
        *,
        batch_size: int,
        flush_seconds: float,
    ) -> None:
        self.conn = conn
        self.indexed = indexed
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.pending: list[Outcome] = []
        self.added: list[str] = []
        self.updated: list[str] = []
        self.failed: list[FailedRepo] = []
        self.new_unusable = 0
        self.aliases: list[tuple[str, str]] = []
        self.last_flush = time.monotonic()

    def add(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if (
            len(self.pending) >= self.batch_size
            or time.monotonic() - self.last_flush >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        if not batch:
            return
        learned: list[tuple[str, str]] = []
        with transaction(self.conn):
            for index, outcome in enumerate(batch):
                if isinstance(outcome, Draft):
                    self.conn.execute("SAVEPOINT esm_entry")
                    try:
                        learned += self._write_entry(outcome)
                    except (sqlite3.Error, ValueError, OverflowError) as exc:
                        # A stranger's values that the database refuses: that entry only.
                        self.conn.execute("ROLLBACK TO esm_entry")
                        outcome = Unusable(outcome.repo, f"cannot be stored: {exc}")
                        batch[index] = outcome
                    finally:
                        self.conn.execute("RELEASE esm_entry")
                if isinstance(outcome, Unusable):
                    repo = outcome.repo
                    upsert_unusable(
                        self.conn,
                        UnusableRepo(
                            repo_id=repo.repo_id,
                            reason=outcome.reason,
                            sha=repo.sha,
                            last_modified=repo.last_modified,
                            private=repo.private,
                            gated=repo.gated,
                        ),
                    )
        # Only now, with the batch committed, does it count as done.
        self.aliases += learned
        for outcome in batch:
            repo_id = outcome.repo.repo_id
            if isinstance(outcome, Draft):
                (self.updated if repo_id in self.indexed else self.added).append(repo_id)
            elif isinstance(outcome, Unusable):
                self.new_unusable += 1
                logger.info("%s is unusable: %s", repo_id, outcome.reason)
            elif isinstance(outcome, Failed):
                self.failed.append(FailedRepo(repo_id, outcome.error))
                logger.info("cannot read %s: %s", repo_id, outcome.error)

    def _write_entry(self, draft: Draft) -> list[tuple[str, str]]:
        learned = learn_aliases(
            self.conn, observed_pairs(draft.base_model_ids), f"observed:{draft.repo.repo_id}"
        )
        repo = draft.repo
        entry = CatalogEntry(
            repo_id=repo.repo_id,
            sha=repo.sha,
            last_modified=repo.last_modified,
            base_model_canonical=resolve_base_model(self.conn, draft.metadata.base_model),
            metadata=draft.metadata,
            problems=draft.problems,
            source=draft.source,
            private=repo.private,
            gated=repo.gated,
        )
        upsert_entry(self.conn, entry)
        return learned


def _list(store: RegistryStore) -> dict[str, RepoInfo]:
    listing: dict[str, RepoInfo] = {}
    for info in store.list_esms():
        listing[info.repo_id] = info
    return listing


def sync_catalog(
    conn: sqlite3.Connection,
    store: RegistryStore,
    *,
    jobs: int = 8,
    progress: bool | None = True,
    batch_size: int = 200,
    flush_seconds: float = 2.0,
) -> SyncSummary:
    """Bring the catalog behind ``conn`` in line with ``store``; see the module docstring.

    Args:
        conn: A connection to the catalog (used from this thread only).
        store: The registry to mirror.
        jobs: Repos read at the same time.
        progress: Show a progress bar; ``None``: only when stderr is a terminal.
        batch_size: Entries written per transaction.
        flush_seconds: Also write whatever was read after this many seconds.

    Raises:
        StoreError: listing failed (nothing was changed), or the store became unusable
            mid-sync (unreachable, credentials refused): what was read is kept.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a whole number of at least 1, got {jobs!r}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size!r}")
    started = time.monotonic()
    listing = _list(store)
    known = known_shas(conn)
    gone = sorted(set(known) - set(listing))
    todo = [
        info
        for repo_id, info in listing.items()
        if info.sha is None or known.get(repo_id) != info.sha
    ]
    if any(info.sha is None for info in todo):
        logger.warning("%s lists repos without a commit sha: they are read at every sync", store)
    previous = get_meta(conn, "source")
    if previous is not None and previous != store.location and known:
        logger.warning(
            "the catalog mirrored %s; it now mirrors %s, so entries of the former that the "
            "latter does not list are removed",
            previous,
            store.location,
        )
    with transaction(conn):
        delete_repos(conn, gone)
        set_meta(conn, "source", store.location)
    if gone:
        logger.info("removed %d repo(s) no longer listed", len(gone))

    indexed = {str(row[0]) for row in conn.execute("SELECT repo_id FROM esms")}
    writer = _BatchWriter(conn, indexed, batch_size=batch_size, flush_seconds=flush_seconds)
    _read_all(store, todo, writer, jobs=jobs, progress=progress)

    with transaction(conn):
        recanonicalize(conn)
        set_meta(conn, "last_sync", now())
    unusable = tuple(
        unusable_from_row(row)
        for row in conn.execute(
            f"SELECT {UNUSABLE_COLUMNS} FROM unusable ORDER BY repo_id"  # noqa: S608
        )
    )
    indexed, with_problems = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(problem_count > 0), 0) FROM esms"
    ).fetchone()
    summary = SyncSummary(
        source=store.location,
        listed=len(listing),
        added=tuple(sorted(writer.added)),
        updated=tuple(sorted(writer.updated)),
        removed=tuple(gone),
        unchanged=len(listing) - len(todo),
        unusable=unusable,
        failed=tuple(sorted(writer.failed, key=lambda f: f.repo_id)),
        indexed=int(indexed),
        with_problems=int(with_problems),
        aliases=tuple(writer.aliases),
        reads=len(writer.added) + len(writer.updated) + len(writer.failed) + writer.new_unusable,
        seconds=time.monotonic() - started,
    )
    logger.info("sync of %s: %s", store.location, summary.describe())
    return summary


def _read_all(
    store: RegistryStore,
    todo: Iterable[RepoInfo],
    writer: _BatchWriter,
    *,
    jobs: int,
    progress: bool | None,
) -> None:
    """Read repos on ``jobs`` threads; write results here as they arrive."""
    items = list(todo)
    bar = progress_bar(
        total=len(items), desc="syncing catalog", unit="esm", progress=progress if items else False
    )
    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="esm-catalog")
    try:
        pending: set[Future[Outcome]] = {executor.submit(read_repo, store, info) for info in items}
        while pending:
            done, pending = wait(pending, timeout=writer.flush_seconds, return_when=FIRST_COMPLETED)
            error: BaseException | None = None
            for future in done:
                try:
                    outcome = future.result()
                except BaseException as exc:  # aborting store errors, and bugs
                    error = error or exc
                    continue
                writer.add(outcome)
                bar.update(1)
            if error is not None:
                raise error
            if not done:
                writer.flush()  # slow store: still commit what arrived
            if writer.failed or writer.new_unusable:
                bar.set_postfix(
                    failed=len(writer.failed), unusable=writer.new_unusable, refresh=False
                )
        writer.flush()
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        try:
            writer.flush()  # what was read is consistent: keep it
        except Exception:  # the original error matters more
            logger.exception("could not save the entries read before the sync stopped")
        bar.close()
        raise
    executor.shutdown(wait=True)
    bar.close()
