"""The catalog's SQLite file: where it lives, its schema, and what happens to old files.

The file is a cache of a registry, so it is never worth misreading: every catalog carries
an application id (``PRAGMA application_id``) and a schema version (``PRAGMA user_version``).
On opening,

* a catalog of the current version is used as it is;
* an older one is migrated when a migration exists (:data:`MIGRATIONS`), otherwise its
  tables are dropped and recreated (the next sync fills them again);
* one written by a newer esm-registry is refused (:class:`~registry.errors.CatalogError`);
* a file that is not a catalog at all (another program's database, or not SQLite) is
  moved aside to ``<name>.foreign-<time>`` and a fresh catalog is created in its place.

The file runs in WAL mode: readers never block the single writer nor each other, and a
second writer waits up to the busy timeout instead of failing at once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .. import paths
from ..errors import CatalogError
from ..filters import text_matches

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TEXT_MATCH_FUNCTION",
    "connect",
    "default_catalog_path",
    "enable_wal",
    "ensure_schema",
    "fts5_available",
]

logger = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of every catalog: "ESMC".
APPLICATION_ID = 0x45534D43
#: ``PRAGMA user_version`` of catalogs written by this version.
SCHEMA_VERSION = 2
#: SQL function behind text search when SQLite lacks FTS5: ``f(query, text, ...)``.
TEXT_MATCH_FUNCTION = "esm_text_matches"
#: Page cache per connection, in KiB (a 100,000-entry catalog is about 100 MB).
CACHE_KIB = 65536


def _add_visibility(conn: sqlite3.Connection) -> None:
    """1 -> 2: whether each repo is gated, and the visibility of unusable repos too, so
    that a public snapshot can leave out every private and gated repo."""
    conn.execute("ALTER TABLE esms ADD COLUMN gated INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE unusable ADD COLUMN private INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE unusable ADD COLUMN gated INTEGER NOT NULL DEFAULT 0")


#: Migrations in place: ``MIGRATIONS[n]`` upgrades a version-``n`` catalog to ``n + 1``.
#: A version without one is rebuilt (dropped and recreated) instead.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _add_visibility}


def default_catalog_path() -> Path:
    """``$ESM_REGISTRY_CATALOG``, else ``catalog.sqlite`` in the esm-registry home.

    The home is ``$ESM_REGISTRY_HOME``, else ``$HF_HOME/esm-registry``
    (``~/.cache/huggingface/esm-registry`` when neither is set), as for the local store.

    Example:
        >>> import os
        >>> os.environ["ESM_REGISTRY_CATALOG"] = "/tmp/esms.sqlite"
        >>> str(default_catalog_path())
        '/tmp/esms.sqlite'
        >>> del os.environ["ESM_REGISTRY_CATALOG"]
    """
    return paths.default_catalog_path()


@cache
def fts5_available() -> bool:
    """Whether this Python's SQLite has FTS5 (full-text search); LIKE is the fallback."""
    try:
        conn = sqlite3.connect(":memory:")
        try:
            conn.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return True


def _text_matches(query: str, *texts: str | None) -> bool:
    return text_matches(query, (text for text in texts if text))


def connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open the file in autocommit mode (transactions are explicit) with a busy timeout.

    WAL mode is a property of the file, switched on by :func:`enable_wal` once the file
    is known to be a catalog (a foreign database is never changed).

    Raises:
        sqlite3.DatabaseError: the file is not an SQLite database.
    """
    conn = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.create_function(TEXT_MATCH_FUNCTION, 4, _text_matches, deterministic=True)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        # Durable up to the last checkpoint and never corrupt: right for a rebuildable cache.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # allocated as pages are read
    except BaseException:
        conn.close()
        raise
    return conn


def enable_wal(conn: sqlite3.Connection) -> None:
    """Put the catalog file in WAL mode: readers and the one writer never block each other."""
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")


# --- the schema ---------------------------------------------------------------------------

_TABLES = [
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # One row per usable ESM. `sha` is the commit the row was read at, written in the same
    # statement as the row: a row and its sha are never out of step.
    """
    CREATE TABLE esms (
        repo_id TEXT PRIMARY KEY,
        sha TEXT,
        last_modified TEXT,
        private INTEGER NOT NULL DEFAULT 0,
        gated INTEGER NOT NULL DEFAULT 0,
        source TEXT NOT NULL,
        base_model TEXT NOT NULL,
        base_model_canonical TEXT NOT NULL COLLATE NOCASE,
        task_id TEXT NOT NULL COLLATE NOCASE,
        task_subset TEXT,
        architecture TEXT NOT NULL COLLATE NOCASE,
        embedding_dim INTEGER,
        num_examples INTEGER,
        description TEXT,
        problem_count INTEGER NOT NULL DEFAULT 0,
        indexed_at TEXT NOT NULL
    )
    """,
    # The full metadata and problems (JSON) of each entry, apart from the filter columns,
    # so that filtering reads small rows and only the entries asked for are decoded.
    """
    CREATE TABLE esm_documents (
        repo_id TEXT PRIMARY KEY,
        metadata TEXT NOT NULL,
        problems TEXT NOT NULL DEFAULT '[]'
    )
    """,
    # Covering and ordered for the common search: base model + architecture -> repo ids.
    "CREATE INDEX esms_base_model ON esms (base_model_canonical, architecture, repo_id)",
    "CREATE INDEX esms_task ON esms (task_id)",
    "CREATE INDEX esms_architecture ON esms (architecture, embedding_dim)",
    "CREATE INDEX esms_embedding_dim ON esms (embedding_dim)",
    "CREATE INDEX esms_num_examples ON esms (num_examples)",
    "CREATE INDEX esms_last_modified ON esms (last_modified)",
    """
    CREATE TABLE esm_languages (
        language TEXT NOT NULL COLLATE NOCASE,
        repo_id TEXT NOT NULL,
        PRIMARY KEY (language, repo_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX esm_languages_repo ON esm_languages (repo_id)",
    # Repos that cannot be indexed (no base model, no task id, unreadable config): kept
    # with their sha so that an unchanged one is not downloaded again at every sync.
    """
    CREATE TABLE unusable (
        repo_id TEXT PRIMARY KEY,
        sha TEXT,
        last_modified TEXT,
        reason TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        gated INTEGER NOT NULL DEFAULT 0
    )
    """,
    # Base-model aliases the catalog has seen (the built-in table lives in aliases.py).
    """
    CREATE TABLE aliases (
        alias TEXT PRIMARY KEY COLLATE NOCASE,
        canonical TEXT NOT NULL,
        origin TEXT NOT NULL
    )
    """,
]

# Full-text index over task id, subset and description, kept in step by triggers.
_FTS = [
    """
    CREATE VIRTUAL TABLE esm_text USING fts5(
        task_id, task_subset, description, content='esms', content_rowid='rowid'
    )
    """,
    """
    CREATE TRIGGER esms_text_insert AFTER INSERT ON esms BEGIN
        INSERT INTO esm_text (rowid, task_id, task_subset, description)
        VALUES (new.rowid, new.task_id, new.task_subset, new.description);
    END
    """,
    """
    CREATE TRIGGER esms_text_delete AFTER DELETE ON esms BEGIN
        INSERT INTO esm_text (esm_text, rowid, task_id, task_subset, description)
        VALUES ('delete', old.rowid, old.task_id, old.task_subset, old.description);
    END
    """,
    """
    CREATE TRIGGER esms_text_update AFTER UPDATE ON esms BEGIN
        INSERT INTO esm_text (esm_text, rowid, task_id, task_subset, description)
        VALUES ('delete', old.rowid, old.task_id, old.task_subset, old.description);
        INSERT INTO esm_text (rowid, task_id, task_subset, description)
        VALUES (new.rowid, new.task_id, new.task_subset, new.description);
    END
    """,
]


class ForeignFileError(CatalogError):
    """The file is not an esm-registry catalog (raised to the opener, which moves it aside)."""


def _user_objects(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [(str(kind), str(name)) for kind, name in rows]


def _state(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return app_id, version


def _create(conn: sqlite3.Connection) -> None:
    for statement in _TABLES:
        conn.execute(statement)
    if fts5_available():
        for statement in _FTS:
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _drop_all(conn: sqlite3.Connection) -> None:
    rows = conn.execute(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()

    def order(row: tuple[str, str, str]) -> int:
        kind, _, sql = row
        return 0 if kind == "trigger" else 1 if sql.upper().startswith("CREATE VIRTUAL") else 2

    # Triggers, then virtual tables (which take their shadow tables along), then the rest.
    for kind, name, _ in sorted(rows, key=order):
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        if exists is None or kind not in ("table", "view", "trigger"):
            continue  # indexes go with their tables
        quoted = '"' + name.replace('"', '""') + '"'
        conn.execute(f"DROP {kind.upper()} IF EXISTS {quoted}")


def ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Make the file a catalog of :data:`SCHEMA_VERSION`; see the module docstring.

    Raises:
        ForeignFileError: the file belongs to something else (the caller moves it aside).
        CatalogError: the catalog was written by a newer esm-registry.
    """
    app_id, version = _state(conn)
    if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
        return  # the common case: no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, version = _state(conn)  # another process may have upgraded it meanwhile
        if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
            conn.execute("COMMIT")
            return
        if app_id == 0 and not _user_objects(conn):
            _create(conn)
            logger.info("created catalog %s", path)
        elif app_id != APPLICATION_ID:
            raise ForeignFileError(f"{path} is not an esm-registry catalog")
        elif version > SCHEMA_VERSION:
            raise CatalogError(
                f"{path} was written by a newer esm-registry (catalog schema {version}, this "
                f"version reads {SCHEMA_VERSION}); upgrade esm-registry, or use another "
                "catalog file (--catalog PATH or ESM_REGISTRY_CATALOG)"
            )
        else:
            _upgrade(conn, path, version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade(conn: sqlite3.Connection, path: Path, version: int) -> None:
    while version < SCHEMA_VERSION and version in MIGRATIONS:
        MIGRATIONS[version](conn)
        version += 1
        conn.execute(f"PRAGMA user_version = {version}")
        logger.info("migrated catalog %s to schema %d", path, version)
    if version < SCHEMA_VERSION:
        logger.warning(
            "catalog %s uses the old schema %d, which cannot be migrated: it was rebuilt "
            "empty; the next sync fills it again",
            path,
            version,
        )
        _drop_all(conn)
        _create(conn)


def move_aside(path: Path) -> Path:
    """Rename a foreign file (and its WAL companions) out of the way; return the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.foreign-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.foreign-{stamp}-{counter}")
        counter += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target
