"""The SQL behind :meth:`Catalog.search`: filters in, one parameterised statement out.

User values only ever travel as parameters; the only text spliced into the SQL comes from
the fixed tables below (column names for ordering). Text search uses the FTS5 index when
SQLite has FTS5, else a function with the same meaning (every query word begins a word).

Example:
    >>> from registry.filters import SearchFilters
    >>> filters = SearchFilters(architecture="linear", min_examples=100)
    >>> sql, params = build_search(filters, fts=True)
    >>> params
    ['linear', 100]
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..filters import MAX_FILTER_INT, SearchFilters, words
from .db import TEXT_MATCH_FUNCTION

__all__ = [
    "ENTRY_COLUMNS",
    "ENTRY_TABLES",
    "ORDER_COLUMNS",
    "build_search",
    "fts_query",
]

#: Columns that make a :class:`CatalogEntry`, in row order (``esms e`` + ``esm_documents d``).
ENTRY_COLUMNS = (
    "e.repo_id, e.sha, e.last_modified, e.base_model_canonical, d.metadata, d.problems, "
    "e.source, e.private, e.gated"
)
#: FROM clause for :data:`ENTRY_COLUMNS`.
ENTRY_TABLES = "esms e JOIN esm_documents d ON d.repo_id = e.repo_id"

#: ``order_by`` value -> column; prefix the value with ``-`` for descending order.
ORDER_COLUMNS = {
    "repo_id": "e.repo_id",
    "base_model": "e.base_model_canonical",
    "task_id": "e.task_id",
    "architecture": "e.architecture",
    "embedding_dim": "e.embedding_dim",
    "num_examples": "e.num_examples",
    "last_modified": "e.last_modified",
    "problems": "e.problem_count",
}


def fts_query(text: str) -> str | None:
    """An FTS5 query matching every word of ``text`` as a word or word prefix.

    The words are those of :func:`registry.filters.words`, each quoted, so FTS5 operators
    in user input (``OR``, ``*``, ``:``) are text. ``None`` when ``text`` has no words.
    """
    found = words(text)
    if not found:
        return None
    return " ".join('"' + word.replace('"', '""') + '"*' for word in found)


def _order(order_by: str) -> str:
    descending = order_by.startswith("-")
    key = order_by.lstrip("-")
    column = ORDER_COLUMNS.get(key)
    if column is None:
        known = ", ".join(sorted(ORDER_COLUMNS))
        raise UsageError(
            f"cannot order by {order_by!r}; use one of {known} (prefix '-' for descending)"
        )
    direction = "DESC" if descending else "ASC"
    return f"{column} {direction}, e.repo_id ASC" if key != "repo_id" else f"{column} {direction}"


def build_search(
    filters: SearchFilters,
    *,
    limit: int | None = None,
    order_by: str = "repo_id",
    fts: bool,
) -> tuple[str, list[Any]]:
    """The SELECT of the repo ids that pass ``filters``, and its parameters.

    ``filters.base_model`` must already be canonical (the catalog resolves aliases before
    it calls this). Only ids are selected: the common searches are answered from an index
    alone, and entries are read when they are used.

    Raises:
        UsageError: an unknown ``order_by``, or a ``limit`` that is not a positive number.
    """
    where: list[str] = []
    params: list[Any] = []
    if filters.base_model is not None:
        where.append("e.base_model_canonical = ?")
        params.append(filters.base_model)
    if filters.architecture is not None:
        where.append("e.architecture = ?")
        params.append(filters.architecture)
    if filters.embedding_dim is not None:
        where.append("e.embedding_dim = ?")
        params.append(filters.embedding_dim)
    if filters.task_id is not None:
        where.append("e.task_id = ? COLLATE NOCASE")
        params.append(filters.task_id)
    if filters.language is not None:
        where.append("e.repo_id IN (SELECT l.repo_id FROM esm_languages l WHERE l.language = ?)")
        params.append(filters.language)
    if filters.min_examples is not None:
        where.append("e.num_examples >= ?")
        params.append(filters.min_examples)
    if filters.has_problems is not None:
        where.append("e.problem_count > 0" if filters.has_problems else "e.problem_count = 0")
    if filters.text is not None:
        if fts:
            where.append("e.rowid IN (SELECT rowid FROM esm_text WHERE esm_text MATCH ?)")
            params.append(fts_query(filters.text))
        else:  # the same meaning, one row at a time (see registry.catalog.db.connect)
            where.append(f"{TEXT_MATCH_FUNCTION}(?, e.task_id, e.task_subset, e.description)")
            params.append(filters.text)
    sql = "SELECT e.repo_id FROM esms e"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + _order(order_by)
    if limit is not None:
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_FILTER_INT
        ):
            raise UsageError(f"limit must be a whole number between 1 and {MAX_FILTER_INT}")
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params
