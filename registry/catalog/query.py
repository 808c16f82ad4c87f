"""The SQL behind :meth:`Catalog.search`: filters in, one parameterised statement out.

User values only ever travel as parameters; the only text spliced into the SQL comes from
the fixed tables below (column names for ordering). Text search uses the FTS5 index when
the catalog has one (words and word prefixes), and ``LIKE`` otherwise (substrings).

Example:
    >>> sql, params = build_search(architecture="linear", min_examples=100, fts=True)
    >>> params
    ['linear', 100]
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError

__all__ = [
    "ENTRY_COLUMNS",
    "ENTRY_TABLES",
    "ORDER_COLUMNS",
    "build_search",
    "fts_query",
    "like_pattern",
]

#: Columns that make a :class:`CatalogEntry`, in row order (``esms e`` + ``esm_documents d``).
ENTRY_COLUMNS = (
    "e.repo_id, e.sha, e.last_modified, e.base_model_canonical, d.metadata, d.problems, "
    "e.source, e.private"
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

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """An FTS5 query matching every word of ``text`` as a word or word prefix.

    Each word is quoted, so FTS5 operators in user input (``OR``, ``*``, ``:``) are text.
    ``None`` when ``text`` has no word characters.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def like_pattern(text: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern matching ``text`` anywhere, wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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
    *,
    base_model: str | None = None,
    architecture: str | None = None,
    embedding_dim: int | None = None,
    task_id: str | None = None,
    language: str | None = None,
    min_examples: int | None = None,
    text: str | None = None,
    has_problems: bool | None = None,
    limit: int | None = None,
    order_by: str = "repo_id",
    fts: bool,
) -> tuple[str, list[Any]]:
    """The SELECT of the matching repo ids, and its parameters.

    ``base_model`` must already be canonical. Only ids are selected: the common searches
    are answered from an index alone, and entries are read when they are used.

    Raises:
        UsageError: an unknown ``order_by``, or a negative or non-integer number.
    """
    where: list[str] = []
    params: list[Any] = []
    if base_model is not None:
        where.append("e.base_model_canonical = ?")
        params.append(base_model)
    if architecture is not None:
        where.append("e.architecture = ?")
        params.append(architecture)
    if embedding_dim is not None:
        _check_int("embedding_dim", embedding_dim, minimum=1)
        where.append("e.embedding_dim = ?")
        params.append(embedding_dim)
    if task_id is not None:
        where.append("e.task_id = ?")
        params.append(task_id)
    if language is not None:
        where.append("e.repo_id IN (SELECT l.repo_id FROM esm_languages l WHERE l.language = ?)")
        params.append(language)
    if min_examples is not None:
        _check_int("min_examples", min_examples, minimum=0)
        where.append("e.num_examples >= ?")
        params.append(min_examples)
    if has_problems is not None:
        where.append("e.problem_count > 0" if has_problems else "e.problem_count = 0")
    if text is not None and text.strip():
        match = fts_query(text) if fts else None
        if match is not None:
            where.append("e.rowid IN (SELECT rowid FROM esm_text WHERE esm_text MATCH ?)")
            params.append(match)
        else:
            where.append(
                "(e.task_id LIKE ? ESCAPE '\\' OR e.task_subset LIKE ? ESCAPE '\\' "
                "OR e.description LIKE ? ESCAPE '\\')"
            )
            params += [like_pattern(text.strip())] * 3
    sql = "SELECT e.repo_id FROM esms e"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + _order(order_by)
    if limit is not None:
        _check_int("limit", limit, minimum=1)
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum}, got {value}")
