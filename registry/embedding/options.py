"""How texts are embedded: one option group for training and ranking alike.

An ESM only fits the embeddings it was fitted on, so the options that change embeddings
(``max_length``, ``pooling``) must mean the same in ``train`` and ``rank``; they are
defined once here, with the ones that only change speed (``batch_size``, ``device``,
``cache``).

Example:
    >>> EmbeddingOptions(max_length=64).cache_dir
    >>> EmbeddingOptions(cache=False).cache_dir
    False
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError
from .pooling import POOLINGS, Pooling

__all__ = ["DEFAULT_MAX_LENGTH", "EmbeddingOptions"]

#: hfselect truncates every text to 128 tokens; ESMs and targets must agree.
DEFAULT_MAX_LENGTH = 128


@dataclass(frozen=True)
class EmbeddingOptions:
    """How a base model embeds texts.

    Attributes:
        batch_size: Texts per forward pass.
        max_length: Tokens per text at most (longer texts are truncated), as in hfselect.
        pooling: ``auto`` (hfselect's rule for the model) or one of
            :data:`~registry.embedding.POOLINGS`; must match how the ESMs were trained.
        device: ``cpu``, ``cuda``, ``cuda:1``, …; ``None``: a GPU when there is one.
        model_path: Load the base model from this folder (a local copy of the Hub id).
        cache: Cache embeddings on disk: ``True`` in the default folder, a folder, or
            ``False`` for no cache.

    Raises:
        UsageError: a value out of range or an unknown pooling.
    """

    batch_size: int = 32
    max_length: int = DEFAULT_MAX_LENGTH
    pooling: Pooling | Literal["auto"] = "auto"
    device: str | None = None
    model_path: str | os.PathLike[str] | None = None
    cache: bool | str | os.PathLike[str] = True

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise UsageError(f"batch_size must be a whole number, got {self.batch_size!r}")
        if not 1 <= self.batch_size <= 1 << 20:
            raise UsageError(f"batch_size must be between 1 and {1 << 20}, got {self.batch_size}")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int):
            raise UsageError(f"max_length must be a whole number, got {self.max_length!r}")
        if not 2 <= self.max_length <= 1 << 20:
            raise UsageError(f"max_length must be between 2 and {1 << 20}, got {self.max_length}")
        if self.pooling != "auto" and self.pooling not in POOLINGS:
            raise UsageError(f"unknown pooling {self.pooling!r}; use 'auto' or one of {POOLINGS}")

    @property
    def cache_dir(self) -> str | os.PathLike[str] | Literal[False] | None:
        """The ``cache_dir`` an :class:`~registry.embedding.Embedder` takes."""
        if self.cache is True:
            return None
        if self.cache is False:
            return False
        return self.cache
