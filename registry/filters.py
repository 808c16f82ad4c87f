"""Which ESMs to consider: one set of search filters with one meaning everywhere.

The catalog turns :class:`SearchFilters` into SQL (:mod:`registry.catalog.query`), a store
listing into tags (:meth:`SearchFilters.for_listing`), and what neither can express is
checked on the ESM's metadata by :meth:`SearchFilters.matches` — the one place each filter
is written out in Python. Every filter is optional; all that are given must hold.

Meanings:

* ``base_model``: the ESM's base model, any alias of it (``bert-base-uncased`` is
  ``google-bert/bert-base-uncased``; see :mod:`registry.aliases`);
* ``architecture``: the ESM architecture (``linear``), ignoring case;
* ``embedding_dim``: the embedding dimension, exactly;
* ``task_id``: the intermediate task's Hub dataset id, ignoring case;
* ``language``: one of the task's language codes (``en``, ``pt-BR``), ignoring case;
* ``min_examples``: at least this many task examples;
* ``text``: every word of it begins a word of the task id, subset or description;
* ``has_problems``: only ESMs the catalog indexed with (``True``) or without (``False``)
  problems — known to the catalog only.

Example:
    >>> from registry.metadata import EsmMetadata
    >>> meta = EsmMetadata.model_validate({"base_model": "bert-base-uncased",
    ...     "task": {"task_id": "stanfordnlp/imdb"}, "language": ["en"]})
    >>> SearchFilters(base_model="google-bert/bert-base-uncased", text="imd").matches(meta)
    True
    >>> SearchFilters(language="de").matches(meta)
    False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .aliases import base_model_ids
from .errors import UsageError
from .metadata import BASE_MODEL_TAG_PREFIX, EsmMetadata

__all__ = [
    "MAX_FILTER_INT",
    "SearchFilters",
    "filter_names",
    "text_matches",
    "words",
]

#: Upper bound of the whole-number filters (SQLite integers are 64-bit).
MAX_FILTER_INT = 2**63 - 1

# Letters and digits, as SQLite's unicode61 tokenizer splits words (``_`` separates).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _check_text(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise UsageError(f"the {name} filter must be a non-empty string, got {value!r}")


def _check_int(name: str, value: object, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"the {name} filter must be a whole number, got {value!r}")
    if not minimum <= value <= MAX_FILTER_INT:
        raise UsageError(f"the {name} filter must be between {minimum} and {MAX_FILTER_INT}")


def words(text: str) -> list[str]:
    """The words of ``text`` (runs of letters and digits), lower-cased and without accents,
    as SQLite's ``unicode61`` tokenizer (the catalog's full-text index) splits them."""
    plain = "".join(
        char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)
    )
    return [word.casefold() for word in _WORD.findall(plain)]


@dataclass(frozen=True)
class SearchFilters:
    """Filters on ESMs; see the module docstring for what each one means.

    Raises:
        UsageError: a value of the wrong type, an empty string, or a number out of range.
    """

    base_model: str | None = None
    architecture: str | None = None
    embedding_dim: int | None = None
    task_id: str | None = None
    language: str | None = None
    min_examples: int | None = None
    text: str | None = None
    has_problems: bool | None = None

    def __post_init__(self) -> None:
        for name in ("base_model", "architecture", "task_id", "language", "text"):
            _check_text(name, getattr(self, name))
        _check_int("embedding_dim", self.embedding_dim, 1)
        _check_int("min_examples", self.min_examples, 0)
        if self.has_problems is not None and not isinstance(self.has_problems, bool):
            raise UsageError(
                f"the has_problems filter must be True or False, not {self.has_problems!r}"
            )
        if self.text is not None and not words(self.text):
            raise UsageError(f"the text filter {self.text!r} has no words to search for")

    @classmethod
    def of(cls, filters: SearchFilters | None = None, **criteria: Any) -> SearchFilters:
        """``filters`` with ``criteria`` (filter names as keywords) set on top.

        Raises:
            UsageError: a keyword that is not a filter name.
        """
        unknown = sorted(set(criteria) - set(filter_names()))
        if unknown:
            raise UsageError(
                f"unknown filter(s) {', '.join(unknown)}; the filters are "
                f"{', '.join(filter_names())}"
            )
        base = filters if filters is not None else cls()
        given = {name: value for name, value in criteria.items() if value is not None}
        return replace(base, **given) if given else base

    def given(self) -> dict[str, Any]:
        """The filters that are set, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def describe(self) -> str:
        """``architecture=linear, language=en`` (empty when no filter is set)."""
        return ", ".join(f"{name}={value}" for name, value in self.given().items())

    def for_listing(self) -> tuple[list[tuple[str, ...]], SearchFilters]:
        """What a store listing can filter by tags, and the filters left for :meth:`matches`.

        Only the base model is pushed into tags: ``BaseLM:<id>`` is a card tag with exactly
        this meaning (one listing per alias). The other filters ignore case or compare
        numbers and words, which tag filters cannot, so they are left for :meth:`matches`
        on each ESM's config before its weights are read.

        Returns:
            The tag sets to list (repos carrying every tag of a set; one empty set without
            a base model), and the filters still to check.

        Raises:
            UsageError: ``has_problems`` is set (only the catalog knows problems).
        """
        if self.has_problems is not None:
            raise UsageError("the has_problems filter needs a catalog (--catalog)")
        if self.base_model is None:
            everything: list[tuple[str, ...]] = [()]
            return everything, self
        tag_sets: list[tuple[str, ...]] = [
            (f"{BASE_MODEL_TAG_PREFIX}{model_id}",) for model_id in base_model_ids(self.base_model)
        ]
        return tag_sets, replace(self, base_model=None)

    def matches(self, metadata: EsmMetadata) -> bool:
        """Whether an ESM's metadata passes every filter that is set.

        Raises:
            UsageError: ``has_problems`` is set (problems are known to the catalog only).
        """
        if self.has_problems is not None:
            raise UsageError("the has_problems filter needs a catalog (--catalog)")
        if self.base_model is not None:
            wanted = {model_id.lower() for model_id in base_model_ids(self.base_model)}
            if not wanted & {m.lower() for m in base_model_ids(metadata.base_model)}:
                return False
        if self.architecture is not None and not _same(metadata.architecture, self.architecture):
            return False
        if self.embedding_dim is not None and metadata.embedding_dim != self.embedding_dim:
            return False
        if self.task_id is not None and not _same(metadata.task.task_id, self.task_id):
            return False
        if self.language is not None and not any(
            _same(code, self.language) for code in metadata.language
        ):
            return False
        if self.min_examples is not None and (metadata.task.num_examples or 0) < self.min_examples:
            return False
        return self.text is None or text_matches(self.text, _searchable(metadata))


def _same(left: str, right: str) -> bool:
    return left.casefold() == right.casefold()


def _searchable(metadata: EsmMetadata) -> Iterable[str]:
    task = metadata.task
    texts = (task.task_id, task.subset, metadata.summary, metadata.description)
    return (text for text in texts if text)


def text_matches(query: str, texts: Iterable[str]) -> bool:
    """Every word of ``query`` begins some word of ``texts`` (as the catalog's FTS5 index)."""
    haystack = [word for text in texts for word in words(text)]
    return all(any(word.startswith(part) for word in haystack) for part in words(query))


def filter_names() -> tuple[str, ...]:
    """The names of the filters, in declaration order."""
    return tuple(f.name for f in fields(SearchFilters))
