"""Exceptions raised by esm-registry.

The tree, so that callers can catch exactly what they can handle::

    EsmRegistryError
    ├── MetadataError (ValueError)       metadata that does not satisfy the schema
    ├── CardError (ValueError)           a card that cannot be read at all
    ├── EsmArtifactError (ValueError)    ESM weights that are unreadable or do not fit the metadata
    ├── TemplateError (ValueError)       a card template that fails to render
    └── UsageError (ValueError)          bad command-line or API arguments

Every error also subclasses the built-in exception that fits, so ``except ValueError``
keeps working for callers who do not know this package.
"""

from __future__ import annotations

__all__ = [
    "CardError",
    "EsmArtifactError",
    "EsmRegistryError",
    "MetadataError",
    "TemplateError",
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
