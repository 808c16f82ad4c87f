"""The :class:`Catalog`: an embedded SQLite index of a registry's ESMs, and its query API.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from registry.esm import Esm
    >>> from registry.metadata import EsmMetadata
    >>> from registry.publish import publish_esm
    >>> from registry.stores import open_store
    >>> folder = tempfile.mkdtemp()
    >>> store = open_store(f"{folder}/registry")
    >>> meta = EsmMetadata.model_validate({"base_model": "bert-base-uncased",
    ...     "task": {"task_id": "stanfordnlp/imdb"}, "embedding_dim": 4})
    >>> _ = publish_esm(Esm(meta, np.eye(4), np.zeros(4)), store, namespace="alice")
    >>> catalog = Catalog(f"{folder}/catalog.sqlite")
    >>> catalog.sync(store, progress=False).added
    ('alice/ESM_bert-base-uncased_stanfordnlp__imdb',)
    >>> hits = catalog.search(base_model="google-bert/bert-base-uncased", architecture="linear")
    >>> [(hit.task_id, hit.embedding_dim) for hit in hits]
    [('stanfordnlp/imdb', 4)]
    >>> catalog.coverage()
    {'google-bert/bert-base-uncased': 1}
    >>> catalog.close()
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._io import atomic_output
from ..errors import CatalogError, NotInCatalogError, RepoNotFoundError, StoreError, UsageError
from ..filters import SearchFilters
from ..paths import README_NAME
from ..stores.base import CommitResult, RegistryStore
from .db import (
    ForeignFileError,
    connect,
    default_catalog_path,
    enable_wal,
    ensure_schema,
    move_aside,
)
from .entries import CatalogEntry, SearchResults, UnusableRepo
from .query import ENTRY_COLUMNS, ENTRY_TABLES, build_search
from .rows import (
    UNUSABLE_COLUMNS,
    entry_from_row,
    get_meta,
    learn_aliases,
    parse_time,
    resolve_base_model,
    set_meta,
    transaction,
    unusable_from_row,
    upsert_entry,
    upsert_unusable,
)
from .snapshot import (
    SNAPSHOT_PATH,
    Snapshot,
    arrow_table,
    dataset_card,
    export_format,
    read_snapshot,
    snapshot_info,
    write_csv,
    write_parquet,
)
from .sync import SyncSummary, sync_catalog

if TYPE_CHECKING:
    import datasets

__all__ = ["Catalog"]

logger = logging.getLogger(__name__)

_NOT_A_DATABASE = 26  # SQLITE_NOTADB


def _not_a_database(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == _NOT_A_DATABASE or "not a database" in str(exc)


class Catalog:
    """A local, queryable index of the ESMs of one registry (see the module example).

    The catalog is a cache: :meth:`sync` fills it from a store and keeps it current by
    reading only repos whose commit changed. Any number of processes may read it while
    one writes (WAL mode); each thread gets its own connection.

    Args:
        path: The SQLite file; default :func:`~registry.catalog.default_catalog_path`
            (``$ESM_REGISTRY_CATALOG``, else ``$HF_HOME/esm-registry/catalog.sqlite``).
        create: Create the file when it does not exist. With ``False`` a missing file
            raises :class:`~registry.errors.CatalogError`.
        force: A file that is not a catalog is moved aside (renamed ``*.foreign-<time>``)
            and a new catalog started; without it such a file is refused, never touched.
        timeout: Seconds to wait for another writer before giving up.

    Raises:
        UsageError: the file is not a catalog (someone else's file) and ``force`` is off.
        CatalogError: the file is missing (``create=False``), written by a newer
            esm-registry, or cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        force: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path if path is not None else default_catalog_path()).expanduser()
        self.path = self.path.absolute()
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self._open(create=create, force=force)
        self._register(conn)
        self._fts = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'esm_text'").fetchone()
            is not None
        )

    # --- connections -----------------------------------------------------------------------

    def _open(self, *, create: bool, force: bool) -> sqlite3.Connection:
        if self.path.is_dir():
            raise CatalogError(f"{self.path} is a folder; name a catalog file instead")
        if not self.path.exists():
            if not create:
                raise CatalogError(
                    f"no catalog at {self.path}; build it with `esm-registry catalog sync "
                    "--registry REG` (or pass --catalog PATH / set ESM_REGISTRY_CATALOG)"
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"cannot create the catalog {self.path}: {exc}") from exc
        try:
            return self._connect_checked()
        except (ForeignFileError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not _not_a_database(exc):
                raise CatalogError(f"cannot open the catalog {self.path}: {exc}") from exc
            if not force:
                raise UsageError(
                    f"{self.path} is not an esm-registry catalog; name another file "
                    "(--catalog PATH), or pass --force to move it aside and start a new "
                    "catalog there"
                ) from None
            moved = move_aside(self.path)
            logger.warning(
                "%s is not an esm-registry catalog: moved it to %s and started a new catalog",
                self.path,
                moved,
            )
        try:
            return self._connect_checked()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open the catalog {self.path}: {exc}") from exc

    def _connect_checked(self) -> sqlite3.Connection:
        conn = connect(self.path, timeout=self._timeout)
        try:
            ensure_schema(conn, self.path)
            enable_wal(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _register(self, conn: sqlite3.Connection) -> None:
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise CatalogError(f"the catalog {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = connect(self.path, timeout=self._timeout)
            except sqlite3.Error as exc:
                raise CatalogError(f"cannot open the catalog {self.path}: {exc}") from exc
            self._register(conn)
        return conn

    def close(self) -> None:
        """Close every connection this object opened (from any thread)."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # --- state ----------------------------------------------------------------------------

    @property
    def last_sync(self) -> datetime | None:
        """When the last complete sync (or snapshot load) ended; ``None`` if never."""
        return parse_time(get_meta(self._conn(), "last_sync"))

    @property
    def source(self) -> str | None:
        """The store (URL or folder) the catalog mirrors."""
        return get_meta(self._conn(), "source")

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM esms").fetchone()[0])

    def __contains__(self, repo_id: object) -> bool:
        return isinstance(repo_id, str) and self.get(repo_id) is not None

    def __iter__(self) -> Iterator[CatalogEntry]:
        return self.entries()

    # --- reading --------------------------------------------------------------------------

    def get(self, repo_id: str) -> CatalogEntry | None:
        """The entry of ``repo_id`` (exact, else the one case-insensitive match), or None."""
        conn = self._conn()
        select = f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_TABLES} WHERE e.repo_id = ?"  # noqa: S608
        row = conn.execute(select, (repo_id,)).fetchone()
        if row is None:
            rows = conn.execute(select + " COLLATE NOCASE LIMIT 2", (repo_id,)).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else entry_from_row(row)

    def _load(self, repo_ids: Sequence[str]) -> dict[str, CatalogEntry]:
        """Entries by repo id, for lazy search results (ids that vanished are left out)."""
        marks = ", ".join("?" * len(repo_ids))
        select = f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_TABLES} WHERE e.repo_id IN ({marks})"  # noqa: S608 - only "?" marks
        rows = self._conn().execute(select, list(repo_ids))
        return {str(row[0]): entry_from_row(row) for row in rows}

    def __getitem__(self, repo_id: str) -> CatalogEntry:
        entry = self.get(repo_id)
        if entry is None:
            raise NotInCatalogError(self._not_found(repo_id))
        return entry

    def _not_found(self, repo_id: str) -> str:
        row = (
            self._conn()
            .execute("SELECT reason FROM unusable WHERE repo_id = ? COLLATE NOCASE", (repo_id,))
            .fetchone()
        )
        if row is not None:
            return f"{repo_id} is in the registry but cannot be indexed: {row[0]}"
        return (
            f"{repo_id} is not in the catalog {self.path}; check the id, or sync the "
            "catalog (`esm-registry catalog sync`)"
        )

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, by repo id (read in chunks, built one at a time)."""
        cursor = self._conn().execute(
            f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_TABLES} ORDER BY e.repo_id"  # noqa: S608
        )
        while rows := cursor.fetchmany(500):
            yield from (entry_from_row(row) for row in rows)

    def search(
        self,
        filters: SearchFilters | None = None,
        /,
        *,
        limit: int | None = None,
        order_by: str = "repo_id",
        resolve_with: RegistryStore | None = None,
        **criteria: Any,
    ) -> SearchResults:
        """ESMs that pass every filter given (none: every ESM).

        Args:
            filters: A :class:`~registry.filters.SearchFilters`; what each filter means is
                defined there (``base_model`` aliases match, ``text`` matches word
                beginnings, ...).
            limit: At most this many results.
            order_by: ``repo_id`` (default), ``base_model``, ``task_id``,
                ``architecture``, ``embedding_dim``, ``num_examples``, ``last_modified``
                or ``problems``; prefix ``-`` for descending.
            resolve_with: A store to ask for the canonical id of an un-namespaced base
                model that the offline alias table does not know (on the Hub one request;
                see :meth:`canonical_base_model`).
            criteria: Filters as keywords (``base_model="bert-base-uncased"``), set on top
                of ``filters``.

        Raises:
            UsageError: an unknown filter, an invalid filter value, or ``order_by``.

        Example:
            >>> import tempfile
            >>> with Catalog(tempfile.mkdtemp() + "/c.sqlite") as catalog:
            ...     catalog.search(base_model="bert-base-uncased", architecture="linear")
            SearchResults(0 entries: )
        """
        filters = SearchFilters.of(filters, **criteria)
        if filters.base_model is not None:
            canonical = self.canonical_base_model(filters.base_model, resolve_with=resolve_with)
            filters = replace(filters, base_model=canonical)
        sql, params = build_search(filters, limit=limit, order_by=order_by, fts=self._fts)
        repo_ids = [str(row[0]) for row in self._conn().execute(sql, params)]
        return SearchResults(repo_ids, self._load)

    def coverage(self) -> dict[str, int]:
        """ESMs per (canonical) base model, most first.

        Example:
            >>> import tempfile
            >>> with Catalog(tempfile.mkdtemp() + "/c.sqlite") as catalog:
            ...     catalog.coverage()
            {}
        """
        rows = self._conn().execute(
            "SELECT base_model_canonical, COUNT(*) FROM esms "
            "GROUP BY base_model_canonical ORDER BY 2 DESC, 1"
        )
        return {str(model): int(count) for model, count in rows}

    def unusable(self) -> list[UnusableRepo]:
        """Repos tagged as ESMs that cannot be indexed, with the reason."""
        rows = self._conn().execute(
            f"SELECT {UNUSABLE_COLUMNS} FROM unusable ORDER BY repo_id"  # noqa: S608
        )
        return [unusable_from_row(row) for row in rows]

    # --- aliases --------------------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        """Alias -> canonical base model, as observed by this catalog (not the built-in table)."""
        rows = self._conn().execute("SELECT alias, canonical FROM aliases ORDER BY alias")
        return {str(alias): str(canonical) for alias, canonical in rows}

    def add_alias(self, alias: str, canonical: str) -> bool:
        """Declare that ``alias`` names the model ``canonical``; False if already decided."""
        if not alias.strip() or canonical.count("/") != 1:
            raise UsageError("an alias pair needs a model id and a canonical 'namespace/name'")
        with transaction(self._conn()) as conn:
            return bool(learn_aliases(conn, [(alias.strip(), canonical.strip())], "user"))

    def canonical_base_model(
        self, model_id: str, *, resolve_with: RegistryStore | None = None
    ) -> str:
        """The id under which the catalog files ESMs of ``model_id``.

        Offline: the built-in table of Hub renames, then aliases the catalog observed.
        With ``resolve_with``, an un-namespaced id that neither knows is looked up with
        :meth:`~registry.stores.RegistryStore.canonical_model_id` (on the Hub one
        ``model_info`` request, answered with the id the Hub redirects to), and the answer
        is remembered. Stores that cannot tell (local folders) change nothing, and neither
        does a failed look-up: the offline answer still holds.
        """
        canonical = resolve_base_model(self._conn(), model_id)
        if resolve_with is None or "/" in canonical:
            return canonical
        try:
            online = resolve_with.canonical_model_id(canonical)
        except (StoreError, UsageError) as exc:  # a nicety: offline resolution still holds
            logger.info("could not resolve %s on %s: %s", canonical, resolve_with.location, exc)
            return canonical
        if online is not None and online.lower() != canonical.lower():
            with transaction(self._conn()) as conn:
                learn_aliases(conn, [(canonical, online)], f"hub:{resolve_with.location}")
            return resolve_base_model(self._conn(), model_id)
        return canonical

    # --- writing --------------------------------------------------------------------------

    def sync(
        self,
        store: RegistryStore,
        *,
        jobs: int = 8,
        progress: bool | None = True,
        batch_size: int = 200,
    ) -> SyncSummary:
        """Mirror ``store``: one listing, then read only new or changed repos.

        See :mod:`registry.catalog.sync` for what is read, when and in which order.

        Args:
            store: The registry (``open_store("hub")``, ``open_store("./registry")``, ...).
            jobs: Repos read at the same time.
            progress: Show a progress bar; ``None``: only when stderr is a terminal.
            batch_size: Entries written per transaction.

        Raises:
            StoreError: the store could not be listed (nothing changed), or became
                unreachable mid-sync (what was read is kept; sync again to finish).
        """
        return sync_catalog(
            self._conn(), store, jobs=jobs, progress=progress, batch_size=batch_size
        )

    def upsert(self, entries: Iterable[CatalogEntry]) -> int:
        """Add or replace entries directly (custom indexers, tests); returns how many.

        The base model of each entry is re-resolved, so aliases stay consistent.
        """
        count = 0
        with transaction(self._conn()) as conn:
            for entry in entries:
                canonical = resolve_base_model(conn, entry.metadata.base_model)
                if canonical != entry.base_model_canonical:
                    entry = entry.model_copy(update={"base_model_canonical": canonical})
                upsert_entry(conn, entry)
                count += 1
        return count

    # --- snapshots and exports -------------------------------------------------------------

    def _snapshot_info(self, *, include_restricted: bool = True) -> dict[str, Any]:
        """The snapshot header; without ``include_restricted`` nothing in it names a
        private or gated repo (not its entry, not its unusable record, not the aliases
        learned from it)."""
        conn = self._conn()
        hidden = set() if include_restricted else self._restricted_repo_ids()
        aliases = [
            (str(a), str(c), str(o))
            for a, c, o in conn.execute("SELECT alias, canonical, origin FROM aliases")
            if not (str(o).startswith("observed:") and str(o)[len("observed:") :] in hidden)
        ]
        entries = conn.execute(
            "SELECT COUNT(*) FROM esms WHERE ? OR NOT (private OR gated)", (include_restricted,)
        ).fetchone()[0]
        return snapshot_info(
            source=self.source,
            entries=int(entries),
            unusable=[repo for repo in self.unusable() if repo.repo_id not in hidden],
            aliases=aliases,
            last_sync=get_meta(conn, "last_sync"),
        )

    def _restricted_repo_ids(self) -> set[str]:
        conn = self._conn()
        rows = conn.execute(
            "SELECT repo_id FROM esms WHERE private OR gated "
            "UNION SELECT repo_id FROM unusable WHERE private OR gated"
        )
        return {str(row[0]) for row in rows}

    def to_dataset(self) -> datasets.Dataset:
        """Every entry as a ``datasets.Dataset`` (flat columns plus ``metadata`` JSON).

        Raises:
            ImportError: the ``datasets`` library is not installed.
        """
        try:
            import datasets  # noqa: PLC0415 - optional and slow to import
        except ImportError as exc:
            raise ImportError(
                "to_dataset() needs the datasets library: `pip install datasets`"
            ) from exc
        return datasets.Dataset(arrow_table(self.entries(), self._snapshot_info()))

    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every entry to ``path`` (``.parquet`` or ``.csv``); returns the row count.

        A parquet export is a complete snapshot (see :meth:`load_snapshot_file`). The file
        is written under a temporary name and renamed, so it is never half-written.

        Raises:
            UsageError: another extension, or parquet without pyarrow installed.
        """
        target = Path(path)
        kind = export_format(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as temporary:
            if kind == "parquet":
                info = self._snapshot_info()
                write_parquet(self.entries(), temporary, info)
                count = int(info["entries"])
            else:
                with temporary.open("w", encoding="utf-8", newline="") as handle:
                    count = write_csv(self.entries(), handle)
        logger.info("exported %d entries to %s", count, target)
        return count

    def publish_snapshot(
        self,
        store: RegistryStore,
        repo_id: str,
        *,
        private: bool | None = None,
        include_restricted: bool = False,
    ) -> CommitResult:
        """Publish the catalog as a dataset repo of ``store`` (parquet file + card).

        Private and gated repos are left out (their entries, unusable records and the
        aliases learned from them), unless ``include_restricted`` is set; then the snapshot
        repo must be private: created with ``private=True``, or already private.

        Raises:
            CatalogError: the catalog has never been synced.
            UsageError: restricted repos asked for, but the snapshot repo would be public.
            StoreError: the store refused the commit.
        """
        if self.last_sync is None:
            raise CatalogError(f"the catalog {self.path} has never been synced; sync it first")
        restricted = self._restricted_repo_ids()
        if include_restricted and restricted:
            self._require_private_snapshot(store, repo_id, private, len(restricted))
        hidden = set() if include_restricted else restricted
        if hidden:
            logger.info("leaving %d private or gated repo(s) out of the snapshot", len(hidden))
        info = self._snapshot_info(include_restricted=include_restricted)
        buffer = io.BytesIO()
        write_parquet(
            (entry for entry in self.entries() if entry.repo_id not in hidden), buffer, info
        )
        files = {
            SNAPSHOT_PATH: buffer.getvalue(),
            README_NAME: dataset_card(info, repo_id).encode("utf-8"),
        }
        message = f"Catalog snapshot: {info['entries']} ESMs from {info['source']}"
        result = store.commit(repo_id, files, message, private=private, repo_type="dataset")
        logger.info("published a snapshot of %d entries to %s", info["entries"], result.url)
        return result

    @staticmethod
    def _require_private_snapshot(
        store: RegistryStore, repo_id: str, private: bool | None, count: int
    ) -> None:
        try:
            exists_private: bool | None = store.repo_info(repo_id, repo_type="dataset").private
        except RepoNotFoundError:
            exists_private = None
        public = not exists_private if exists_private is not None else private is not True
        if public:
            where = "is public" if exists_private is not None else "would be created public"
            raise UsageError(
                f"refusing to publish {count} private or gated repo(s) to the snapshot "
                f"{repo_id}, which {where}; publish to a private dataset repo (--private "
                "for a new one), or leave them out (drop --include-private)"
            )

    def load_snapshot(self, store: RegistryStore, repo_id: str) -> Snapshot:
        """Replace the catalog's contents with a snapshot published to ``store`` (one download).

        A later :meth:`sync` is incremental against the snapshot's commit shas.

        Raises:
            RepoNotFoundError: no such snapshot.
            CatalogError: the file is not a snapshot this version can read.
        """
        data = store.read_file(repo_id, SNAPSHOT_PATH, repo_type="dataset")
        snapshot = read_snapshot(data, name=f"dataset {repo_id}")
        self._bootstrap(snapshot, origin=f"{store.location} dataset {repo_id}")
        return snapshot

    def load_snapshot_file(self, path: str | os.PathLike[str]) -> Snapshot:
        """Like :meth:`load_snapshot`, from a local parquet file (e.g. an :meth:`export`)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CatalogError(f"cannot read the snapshot {path}: {exc}") from exc
        snapshot = read_snapshot(data, name=str(path))
        self._bootstrap(snapshot, origin=str(path))
        return snapshot

    def _bootstrap(self, snapshot: Snapshot, *, origin: str) -> None:
        with transaction(self._conn()) as conn:
            conn.execute("DELETE FROM esm_languages")
            conn.execute("DELETE FROM esm_documents")
            conn.execute("DELETE FROM esms")
            conn.execute("DELETE FROM unusable")
            conn.execute("DELETE FROM aliases WHERE origin != 'user'")
            for alias, canonical, alias_origin in snapshot.aliases:
                learn_aliases(conn, [(alias, canonical)], alias_origin)
            for entry in snapshot.entries:
                canonical = resolve_base_model(conn, entry.metadata.base_model)
                if canonical != entry.base_model_canonical:
                    entry = entry.model_copy(update={"base_model_canonical": canonical})
                upsert_entry(conn, entry)
            for repo in snapshot.unusable:
                upsert_unusable(conn, repo)
            set_meta(conn, "source", snapshot.source)
            set_meta(conn, "last_sync", snapshot.info.get("last_sync"))
            set_meta(conn, "snapshot", origin)
        logger.info("loaded %d entries from the snapshot %s", len(snapshot.entries), origin)
