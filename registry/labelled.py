"""One loader of labelled text data, for training and ranking.

Training samples an intermediate task and ranking samples a target dataset; both must
turn columns into texts and draw rows exactly as hfselect does, or an ESM would be
trained and used on different inputs.

Example:
    >>> join_columns([["a premise"], ["a hypothesis"]])
    ['a premise [SEP] a hypothesis']
    >>> sample_indices(5, 3, seed=42).tolist()
    [4, 2, 3]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from .errors import UsageError

__all__ = ["TEXT_SEPARATOR", "join_columns", "sample_indices"]

logger = logging.getLogger(__name__)

#: How hfselect joins the texts of several columns (``hfselect.dataset.TEXT_SEPARATOR``).
TEXT_SEPARATOR: Final = " [SEP] "


def join_columns(columns: Sequence[Sequence[Any]]) -> list[str]:
    """Join several text columns row by row the way hfselect does (``" [SEP] "``).

    The separator is plain text: BERT-style tokenizers turn it into their ``[SEP]`` token,
    others tokenize the characters, exactly as hfselect's inputs were.

    Args:
        columns: One sequence of strings per column, all of the same length.

    Example:
        >>> join_columns([["a premise", "b"], ["a hypothesis", "c"]])
        ['a premise [SEP] a hypothesis', 'b [SEP] c']
    """
    if not columns:
        raise UsageError("join_columns needs at least one column")
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise UsageError(f"text columns differ in length: {sorted(lengths)}")
    if len(columns) == 1:
        return [str(text) for text in columns[0]]
    return [TEXT_SEPARATOR.join(str(part) for part in row) for row in zip(*columns, strict=True)]


def sample_indices(
    num_rows: int, num_examples: int | None, seed: int | None
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Positions of the rows hfselect samples: ``shuffle(seed).select(range(k))``.

    Args:
        num_rows: Rows to sample from.
        num_examples: How many to keep (at most ``num_rows``); ``None`` keeps all, in order.
        seed: Seed of ``numpy.random.default_rng`` (what ``datasets.Dataset.shuffle`` uses).

    Example:
        >>> sample_indices(5, 3, seed=42).tolist()
        [4, 2, 3]
        >>> sample_indices(3, None, seed=42).tolist()
        [0, 1, 2]
    """
    if num_examples is None:
        return np.arange(num_rows, dtype=np.int64)
    count = min(num_rows, num_examples)
    permutation = np.random.default_rng(seed).permutation(num_rows)
    return permutation[:count].astype(np.int64)
