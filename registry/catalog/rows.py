"""How entries map to catalog rows and back, and the statements that write them.

Everything that changes the catalog goes through :func:`transaction` (``BEGIN IMMEDIATE``:
one writer at a time, readers unaffected thanks to WAL) and the functions here, which
keep an entry's row, its languages, its text index and its sha in step: they are written
by the same transaction, so a reader or a crash never sees one without the other.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ..aliases import builtin_canonical
from ..errors import CatalogError
from ..metadata import EsmMetadata
from .entries import CatalogEntry, EntryProblem, UnusableRepo

__all__ = [
    "UNUSABLE_COLUMNS",
    "delete_repos",
    "entry_from_row",
    "format_time",
    "get_meta",
    "known_shas",
    "learn_aliases",
    "meta_items",
    "now",
    "observed_aliases",
    "parse_time",
    "recanonicalize",
    "resolve_base_model",
    "set_meta",
    "transaction",
    "unusable_from_row",
    "upsert_entry",
    "upsert_unusable",
]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: committed on success, rolled back on any exception.

    Raises:
        CatalogError: another writer held the catalog for longer than the busy timeout.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise CatalogError(
            f"the catalog is busy ({exc}): another process is writing to it; try again"
        ) from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def format_time(value: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds, so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(value: str | None) -> datetime | None:
    """Inverse of :func:`format_time`."""
    return None if value is None else datetime.fromisoformat(value)


def now() -> str:
    """The current time as stored."""
    return format_time(datetime.now(timezone.utc)) or ""


# --- meta -----------------------------------------------------------------------------------


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


# --- aliases --------------------------------------------------------------------------------


def observed_aliases(conn: sqlite3.Connection) -> dict[str, str]:
    """Alias -> canonical id, as the catalog has seen them (built-in table not included)."""
    return {
        str(alias): str(canonical)
        for alias, canonical in conn.execute("SELECT alias, canonical FROM aliases ORDER BY 1")
    }


def resolve_base_model(conn: sqlite3.Connection, model_id: str) -> str:
    """The canonical id of a base model: built-in renames, then observed aliases, else itself."""
    model_id = model_id.strip()
    builtin = builtin_canonical(model_id)
    if builtin is not None:
        return builtin
    row = conn.execute("SELECT canonical FROM aliases WHERE alias = ?", (model_id,)).fetchone()
    return model_id if row is None else str(row[0])


def learn_aliases(
    conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]], origin: str
) -> list[tuple[str, str]]:
    """Record new (alias, canonical) pairs and re-point entries that used the alias.

    Pairs the built-in table already decides, and aliases already known, are ignored
    (the first observation wins). Call inside a transaction. Returns the pairs added.
    """
    added = []
    for alias, canonical in pairs:
        if builtin_canonical(alias) is not None or alias.lower() == canonical.lower():
            continue
        canonical = resolve_base_model(conn, canonical)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO aliases (alias, canonical, origin) VALUES (?, ?, ?)",
            (alias, canonical, origin),
        )
        if cursor.rowcount:
            conn.execute(
                "UPDATE esms SET base_model_canonical = ? WHERE base_model_canonical = ?",
                (canonical, alias),
            )
            added.append((alias, canonical))
    return added


def recanonicalize(conn: sqlite3.Connection) -> int:
    """Re-resolve every stored base model (after the built-in table changed); rows updated."""
    changed = 0
    pairs = conn.execute("SELECT DISTINCT base_model, base_model_canonical FROM esms").fetchall()
    for base_model, stored in pairs:
        canonical = resolve_base_model(conn, str(base_model))
        if canonical != stored:
            cursor = conn.execute(
                "UPDATE esms SET base_model_canonical = ? "
                "WHERE base_model = ? AND base_model_canonical = ?",
                (canonical, base_model, stored),
            )
            changed += cursor.rowcount
    return changed


# --- entries --------------------------------------------------------------------------------


def _description(metadata: EsmMetadata) -> str | None:
    parts = [text for text in (metadata.summary, metadata.description) if text]
    return "\n\n".join(parts) or None


def upsert_entry(conn: sqlite3.Connection, entry: CatalogEntry) -> None:
    """Write (or replace) an entry's row and languages; drops it from ``unusable``."""
    meta = entry.metadata
    problems = json.dumps([problem.model_dump() for problem in entry.problems])
    conn.execute(
        """
        INSERT INTO esms (
            repo_id, sha, last_modified, private, gated, source, base_model,
            base_model_canonical, task_id, task_subset, architecture, embedding_dim,
            num_examples, description, problem_count, indexed_at
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (repo_id) DO UPDATE SET
            sha = excluded.sha, last_modified = excluded.last_modified,
            private = excluded.private, gated = excluded.gated, source = excluded.source,
            base_model = excluded.base_model,
            base_model_canonical = excluded.base_model_canonical,
            task_id = excluded.task_id, task_subset = excluded.task_subset,
            architecture = excluded.architecture, embedding_dim = excluded.embedding_dim,
            num_examples = excluded.num_examples, description = excluded.description,
            problem_count = excluded.problem_count, indexed_at = excluded.indexed_at
        """,
        (
            entry.repo_id,
            entry.sha,
            format_time(entry.last_modified),
            int(entry.private),
            int(entry.gated),
            entry.source,
            meta.base_model,
            entry.base_model_canonical,
            meta.task.task_id,
            meta.task.subset,
            meta.architecture,
            meta.embedding_dim,
            meta.task.num_examples,
            _description(meta),
            len(entry.problems),
            now(),
        ),
    )
    conn.execute(
        "INSERT INTO esm_documents (repo_id, metadata, problems) VALUES (?, ?, ?) "
        "ON CONFLICT (repo_id) DO UPDATE SET "
        "metadata = excluded.metadata, problems = excluded.problems",
        (entry.repo_id, meta.model_dump_json(), problems),
    )
    conn.execute("DELETE FROM esm_languages WHERE repo_id = ?", (entry.repo_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO esm_languages (language, repo_id) VALUES (?, ?)",
        [(language, entry.repo_id) for language in meta.language],
    )
    conn.execute("DELETE FROM unusable WHERE repo_id = ?", (entry.repo_id,))


def upsert_unusable(conn: sqlite3.Connection, repo: UnusableRepo) -> None:
    """Record an unusable repo (with its sha); drops any entry it had."""
    _delete_entries(conn, [repo.repo_id])
    conn.execute(
        """
        INSERT INTO unusable (repo_id, sha, last_modified, reason, checked_at, private, gated)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (repo_id) DO UPDATE SET sha = excluded.sha,
            last_modified = excluded.last_modified, reason = excluded.reason,
            checked_at = excluded.checked_at, private = excluded.private,
            gated = excluded.gated
        """,
        (
            repo.repo_id,
            repo.sha,
            format_time(repo.last_modified),
            repo.reason,
            now(),
            int(repo.private),
            int(repo.gated),
        ),
    )


def _delete_entries(conn: sqlite3.Connection, repo_ids: list[str]) -> None:
    params = [(repo_id,) for repo_id in repo_ids]
    conn.executemany("DELETE FROM esm_languages WHERE repo_id = ?", params)
    conn.executemany("DELETE FROM esm_documents WHERE repo_id = ?", params)
    conn.executemany("DELETE FROM esms WHERE repo_id = ?", params)


def delete_repos(conn: sqlite3.Connection, repo_ids: Iterable[str]) -> None:
    """Forget repos entirely (entries and unusable records)."""
    ids = list(repo_ids)
    _delete_entries(conn, ids)
    conn.executemany("DELETE FROM unusable WHERE repo_id = ?", [(r,) for r in ids])


def entry_from_row(row: tuple[Any, ...]) -> CatalogEntry:
    """A :class:`CatalogEntry` from a row of :data:`~registry.catalog.query.ENTRY_COLUMNS`."""
    repo_id, sha, last_modified, canonical, metadata, problems, source, private, gated = row
    return CatalogEntry(
        repo_id=repo_id,
        sha=sha,
        last_modified=parse_time(last_modified),
        base_model_canonical=canonical,
        metadata=EsmMetadata.model_validate_json(metadata),
        problems=tuple(EntryProblem(**problem) for problem in json.loads(problems)),
        source=source,
        private=bool(private),
        gated=bool(gated),
    )


#: Columns that make an :class:`UnusableRepo`, in row order.
UNUSABLE_COLUMNS = "repo_id, reason, sha, last_modified, private, gated"


def unusable_from_row(row: tuple[Any, ...]) -> UnusableRepo:
    """An :class:`UnusableRepo` from a row of :data:`UNUSABLE_COLUMNS`."""
    repo_id, reason, sha, last_modified, private, gated = row
    return UnusableRepo(
        repo_id=repo_id,
        reason=reason,
        sha=sha,
        last_modified=parse_time(last_modified),
        private=bool(private),
        gated=bool(gated),
    )


def known_shas(conn: sqlite3.Connection) -> dict[str, str | None]:
    """repo id -> sha of every repo the catalog has read (indexed or unusable)."""
    shas: dict[str, str | None] = dict(conn.execute("SELECT repo_id, sha FROM unusable"))
    shas.update(conn.execute("SELECT repo_id, sha FROM esms"))
    return shas


def meta_items(conn: sqlite3.Connection) -> Mapping[str, str]:
    """Every ``meta`` key and value."""
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
