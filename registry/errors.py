"""Exceptions raised by esm-registry.

The tree, so that callers can catch exactly what they can handle::

    EsmRegistryError
    ├── MetadataError (ValueError)       metadata that does not satisfy the schema
    ├── CardError (ValueError)           a card that cannot be read at all
    ├── EsmArtifactError (ValueError)    ESM weights that are unreadable or do not fit the metadata
    ├── TemplateError (ValueError)       a card template that fails to render
    ├── UsageError (ValueError)          bad command-line or API arguments
    ├── PublishError (ValueError)        an ESM that cannot be published as it is
    ├── CatalogError (OSError)           the catalog file is missing, foreign, newer or unusable
    ├── NotInCatalogError (LookupError)  no catalog entry for the repo id asked for
    ├── NoEsmsFoundError (LookupError)   no ESM to rank with for this base model and filters
    ├── ModelLoadError (OSError)         the base language model or its tokenizer cannot be loaded
    ├── MissingExtraError (ImportError)  an optional extra (torch, pandas, ...) is not installed
    ├── DatasetError (ValueError)        a dataset — target or intermediate — that cannot be used
    ├── TrainingError (RuntimeError)     fine-tuning or fitting an ESM failed (e.g. diverged)
    └── StoreError (OSError)             a registry store (Hub or local folder) failed
        ├── StoreAuthError (PermissionError)      token missing, rejected or without write access
        ├── RepoNotFoundError (FileNotFoundError) no such repo, revision or file in the store
        ├── StoreConflictError                    the repo changed since it was read
        └── StoreUnavailableError (ConnectionError)  unreachable, offline, or still failing
                                                     after the retry budget

Ctrl-C during a bulk publish raises :class:`PublishInterrupted`, a ``KeyboardInterrupt``
that carries what was done and what was not reached.

Every error also subclasses the built-in exception that fits, so ``except ValueError``
keeps working for callers who do not know this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .publish import PublishSummary

__all__ = [
    "CardError",
    "CatalogError",
    "DatasetError",
    "EsmArtifactError",
    "EsmRegistryError",
    "MetadataError",
    "MissingExtraError",
    "ModelLoadError",
    "NoEsmsFoundError",
    "NotInCatalogError",
    "PublishError",
    "PublishInterrupted",
    "RepoNotFoundError",
    "StoreAuthError",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "TemplateError",
    "TrainingError",
    "UsageError",
]


class EsmRegistryError(Exception):
    """Base class of every error raised on purpose by esm-registry."""


class MetadataError(EsmRegistryError, ValueError):
    """ESM metadata is missing a required field or holds an invalid value.

    Args:
        message: What is wrong and what to do about it.
        problems: The individual problems, one line each, when there are several.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        details = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(message + details)


class CardError(EsmRegistryError, ValueError):
    """A model card cannot be read (not text, too large, no front matter, ...)."""


class EsmArtifactError(EsmRegistryError, ValueError):
    """ESM weights cannot be read, use a refused format, or do not match the metadata.

    The message names the file and tensor, what was expected and what was found.
    """


class TemplateError(EsmRegistryError, ValueError):
    """A card template is invalid or uses a variable that the metadata does not provide."""


class UsageError(EsmRegistryError, ValueError):
    """Arguments that cannot work together, a missing file, an unknown format."""


class PublishError(EsmRegistryError, ValueError):
    """An ESM cannot be published as it is, e.g. its rendered card does not validate.

    Args:
        message: What is wrong and what to do about it.
        problems: The individual problems, one line each, when there are several.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        details = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(message + details)


class StoreError(EsmRegistryError, OSError):
    """A registry store could not read or write a repo.

    Messages never contain a token; the underlying client error, when there is one, is
    chained as ``__cause__``.
    """


class StoreAuthError(StoreError, PermissionError):
    """The store refused the credentials: no token, a rejected token, or no write access."""


class RepoNotFoundError(StoreError, FileNotFoundError):
    """The repo (or the revision or file asked for) does not exist in the store."""


class StoreConflictError(StoreError):
    """The repo moved on since it was read (stale parent commit); re-read and try again."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The store cannot be reached: offline mode, network errors, or 429/5xx answers that
    outlasted the retry budget. Trying again later may work."""


class CatalogError(EsmRegistryError, OSError):
    """The catalog cannot be used: no file yet (sync first), a file that is not a catalog,
    one written by a newer esm-registry, or a snapshot in an unknown format."""


class NotInCatalogError(EsmRegistryError, LookupError):
    """The catalog holds no entry for this repo id; sync the catalog or check the id."""


class DatasetError(EsmRegistryError, ValueError):
    """A dataset — target or intermediate — that cannot be used: a file or dataset that
    cannot be read, an unknown shipped task or split, a missing column, no usable rows, or
    labels of the wrong kind. The message names the dataset and what it does have.

    A path that does not exist is a :class:`UsageError` instead (the argument is wrong).
    """


class TrainingError(EsmRegistryError, RuntimeError):
    """Fine-tuning the language model or fitting the ESM failed, e.g. the loss became
    non-finite; lower the learning rate or use the closed-form fit."""


class NoEsmsFoundError(EsmRegistryError, LookupError):
    """No ESM matches the base model and filters of a ranking; check the base model id,
    relax the filters, or sync the catalog."""


class ModelLoadError(EsmRegistryError, OSError):
    """The base language model or its tokenizer cannot be loaded: not on the Hub, not in
    the local cache while offline, or not a model the ranker can embed with."""


class MissingExtraError(EsmRegistryError, ImportError):
    """What was asked for needs an optional extra that is not installed; the message is
    one line with the ``pip install`` command that adds it.

    Attributes:
        extra: The extra to install (``rank``, ``catalog``).
        name: The module that is missing (as :class:`ImportError` names it).
    """

    def __init__(self, message: str, *, extra: str, name: str) -> None:
        super().__init__(message, name=name)
        self.extra = extra


class PublishInterrupted(KeyboardInterrupt):
    """Ctrl-C during a bulk publish or card refresh, after the ESMs in flight finished (each
    commit is atomic). Not an :class:`EsmRegistryError`: code that handles Ctrl-C as
    ``KeyboardInterrupt`` keeps doing so.

    Attributes:
        summary: What completed: published, updated, unchanged or failed.
        not_reached: ESMs that were never started; running the same command again does
            them (the completed ones are then unchanged and cost no commit).
    """

    def __init__(self, summary: PublishSummary, not_reached: int) -> None:
        super().__init__(f"interrupted: {summary.describe()}; {not_reached} not reached")
        self.summary = summary
        self.not_reached = not_reached
