"""What the catalog returns: typed entries, search results, and their flat table form.

A :class:`CatalogEntry` embeds the complete, validated :class:`~registry.metadata.EsmMetadata`
of one ESM plus what the registry says about the repo (commit, date, visibility) and the
problems found while indexing it. Search results are a lazy sequence: a search collects
repo ids, and entries are read when they are accessed, so a search that matches
thousands of ESMs stays fast when only their ids or the first few entries are needed.

The flat form (:func:`flat_row`) has one column per ``config.json`` key (the names hfselect
uses) plus the repo columns; CSV, parquet, pandas and ``datasets`` exports all use it.

Example:
    >>> from registry.metadata import EsmMetadata
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> entry = CatalogEntry(repo_id="alice/esm", base_model_canonical="google-bert/"
    ...                      "bert-base-uncased", metadata=meta)
    >>> entry.task_id, flat_row(entry)["base_model_name"]
    ('stanfordnlp/imdb', 'bert-base-uncased')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, ConfigDict

from ..errors import NotInCatalogError
from ..metadata import CONFIG_FIELDS, EsmMetadata, MetadataShortcuts

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FLAT_COLUMNS",
    "FLAT_KINDS",
    "CatalogEntry",
    "EntryProblem",
    "SearchResults",
    "UnusableRepo",
    "entries_to_pandas",
    "flat_row",
]

Kind = Literal["str", "int", "float", "bool", "list", "datetime", "problems"]

_INT_KEYS = {
    "num_examples",
    "seed",
    "esm_embedding_dim",
    "lm_num_epochs",
    "lm_batch_size",
    "esm_num_epochs",
    "esm_batch_size",
}
_FLOAT_KEYS = {
    "lm_learning_rate",
    "lm_weight_decay",
    "esm_learning_rate",
    "esm_weight_decay",
    "esm_mse",
}
_LIST_KEYS = {"language", "text_column"}


def _kind(key: str) -> Kind:
    if key in _INT_KEYS:
        return "int"
    if key in _FLOAT_KEYS:
        return "float"
    if key in _LIST_KEYS:
        return "list"
    return "str"


#: Column -> value kind of the flat table, in column order.
FLAT_KINDS: dict[str, Kind] = {
    "repo_id": "str",
    "sha": "str",
    "last_modified": "datetime",
    "base_model_canonical": "str",
    **{key: _kind(key) for key in CONFIG_FIELDS},
    "problems": "problems",
    "source": "str",
    "private": "bool",
    "gated": "bool",
}
FLAT_COLUMNS: tuple[str, ...] = tuple(FLAT_KINDS)


class EntryProblem(BaseModel):
    """Something wrong with an indexed ESM; the ESM is still searchable.

    Attributes:
        code: ``legacy-format``, ``missing-field``, ``invalid-field``, ``no-config`` or
            ``card`` (an error of the card used instead of a missing config.json).
        message: What is wrong, with the offending value where there is one.
        field: The ``config.json`` key concerned, when there is one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    field: str | None = None


class CatalogEntry(MetadataShortcuts, BaseModel):
    """One indexed ESM: its metadata plus what the registry says about the repo.

    Attributes:
        repo_id: ``namespace/name`` of the ESM repo.
        sha: The commit the entry was read at.
        last_modified: When that commit was made.
        base_model_canonical: The base model after alias resolution (what searches match).
        metadata: Everything the config (or, without one, the card) says, validated;
            fields whose values were invalid are left at their defaults and listed in
            ``problems``.
        problems: Defects found while indexing (legacy format, missing or invalid fields).
        source: ``config.json``, or ``card`` when the repo had no config.json.
        private: Whether the repo is private.
        gated: Whether the repo is gated.

    The shortcuts of :class:`~registry.metadata.MetadataShortcuts` (``base_model`` as the
    ESM names it, ``task_id``, ``embedding_dim``, ...) read from ``metadata``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo_id: str
    sha: str | None = None
    last_modified: datetime | None = None
    base_model_canonical: str
    metadata: EsmMetadata
    problems: tuple[EntryProblem, ...] = ()
    source: Literal["config.json", "card"] = "config.json"
    private: bool = False
    gated: bool = False

    @property
    def restricted(self) -> bool:
        """Private or gated: not for a public snapshot unless asked for."""
        return self.private or self.gated


class UnusableRepo(BaseModel):
    """A repo tagged as an ESM that cannot be indexed, and why.

    Unusable repos are left out of searches; their sha is kept so that an unchanged one
    is not downloaded again by the next sync.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo_id: str
    reason: str
    sha: str | None = None
    last_modified: datetime | None = None
    private: bool = False
    gated: bool = False

    @property
    def restricted(self) -> bool:
        """Private or gated: not for a public snapshot unless asked for."""
        return self.private or self.gated


def _metadata_value(metadata: EsmMetadata, path: tuple[str, ...]) -> Any:
    value: Any = metadata
    for part in path:
        value = getattr(value, part)
    return value


def flat_row(entry: CatalogEntry) -> dict[str, Any]:
    """The entry as one flat row (see :data:`FLAT_COLUMNS`); lists stay lists."""
    row: dict[str, Any] = {
        "repo_id": entry.repo_id,
        "sha": entry.sha,
        "last_modified": entry.last_modified,
        "base_model_canonical": entry.base_model_canonical,
    }
    for key, path in CONFIG_FIELDS.items():
        if key == "text_column":
            row[key] = entry.metadata.text_columns
        elif key == "language":
            row[key] = list(entry.metadata.language)
        else:
            row[key] = _metadata_value(entry.metadata, path)
    row["problems"] = [problem.model_dump() for problem in entry.problems]
    row["source"] = entry.source
    row["private"] = entry.private
    row["gated"] = entry.gated
    return row


def entries_to_pandas(entries: Iterable[CatalogEntry]) -> pandas.DataFrame:
    """A DataFrame with one row per entry and the columns of :data:`FLAT_COLUMNS`.

    Raises:
        ImportError: pandas is not installed (``pip install pandas``).
    """
    try:
        import pandas  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ImportError("to_pandas() needs pandas; install it with `pip install pandas`") from exc
    frame = pandas.DataFrame([flat_row(entry) for entry in entries], columns=list(FLAT_COLUMNS))
    frame["last_modified"] = pandas.to_datetime(frame["last_modified"], utc=True)
    return frame


class SearchResults(Sequence[CatalogEntry]):
    """The entries a search matched, in order.

    The search itself only collects repo ids (:attr:`repo_ids`, available at once); the
    entries are read from the catalog in chunks when they are first accessed, so a
    search matching thousands of ESMs costs milliseconds until its entries are used.
    Read them while the catalog is open (:meth:`to_list` reads all at once). An entry
    that a sync removed in the meantime raises :class:`~registry.errors.NotInCatalogError`.
    """

    def __init__(
        self,
        repo_ids: Sequence[str],
        load: Callable[[Sequence[str]], Mapping[str, CatalogEntry]],
        *,
        chunk: int = 256,
    ) -> None:
        self._ids = list(repo_ids)
        self._load = load
        self._chunk = chunk
        self._cache: dict[int, CatalogEntry] = {}

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> CatalogEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[CatalogEntry]: ...
    def __getitem__(self, index: int | slice) -> CatalogEntry | list[CatalogEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._ids)))]
        if index < 0:
            index += len(self._ids)
        if not 0 <= index < len(self._ids):
            raise IndexError("search result index out of range")
        entry = self._cache.get(index)
        if entry is None:
            self._fill(index)
            entry = self._cache[index]
        return entry

    def _fill(self, index: int) -> None:
        start = index - index % self._chunk
        wanted = self._ids[start : start + self._chunk]
        found = self._load(wanted)
        for offset, repo_id in enumerate(wanted):
            if repo_id in found:
                self._cache[start + offset] = found[repo_id]
        if index not in self._cache:
            raise NotInCatalogError(
                f"{self._ids[index]} left the catalog after the search (a sync removed it); "
                "search again"
            )

    def __iter__(self) -> Iterator[CatalogEntry]:
        for index in range(len(self._ids)):
            yield self[index]

    def __repr__(self) -> str:
        shown = ", ".join(self._ids[:3])
        more = ", …" if len(self) > 3 else ""
        return f"SearchResults({len(self)} entries: {shown}{more})"

    @property
    def repo_ids(self) -> list[str]:
        """The repo ids of the matches, in order (no entry is read for them)."""
        return list(self._ids)

    def to_list(self) -> list[CatalogEntry]:
        """All entries as a plain list."""
        return list(self)

    def to_pandas(self) -> pandas.DataFrame:
        """A DataFrame of the flat rows (see :func:`entries_to_pandas`)."""
        return entries_to_pandas(self)

    def to_json(self) -> str:
        """The entries as a JSON array (``model_dump`` of each, JSON mode)."""
        return json.dumps([entry.model_dump(mode="json") for entry in self], ensure_ascii=False)
