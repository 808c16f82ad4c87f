"""The target dataset of a ranking: texts and encoded labels, sampled as hfselect samples.

Reading, dropping unusable rows and sampling belong to :mod:`registry.labelled`, which
training uses too, so a target and an intermediate task read from the same source with the
same seed hold the same texts (every kind of source it reads works here). This module
encodes the labels for LogME, deterministically: string labels by their sorted values (as
hfselect builds its ``ClassLabel``), integer and ``ClassLabel`` labels by their sorted
values too, so class ``k`` is the ``k``-th smallest label present; regression targets (one
or several columns) become float64.

Example:
    >>> target = load_target((["good", "bad", "fine"], ["pos", "neg", "pos"]), seed=0)
    >>> target.label_names, target.num_classes, len(target)
    (('neg', 'pos'), 2, 3)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embedding import texts_fingerprint
from ..errors import DatasetError, UsageError
from ..labelled import (
    DEFAULT_LABEL_COLUMN,
    DEFAULT_TEXT_COLUMN,
    LabelledSource,
    load_labelled,
)

__all__ = ["Target", "TargetSource", "load_target"]

logger = logging.getLogger(__name__)

#: Anything :func:`load_target` accepts (besides a loaded :class:`Target`).
TargetSource = LabelledSource

_SHOWN_ROWS = 5


@dataclass(frozen=True, eq=False)
class Target:
    """The sampled target: texts, encoded labels, and where they came from.

    Attributes:
        texts: One text per example (several columns already joined).
        labels: ``int64`` class codes ``0..K-1`` of shape ``(N,)`` (classification), or
            ``float64`` targets of shape ``(N,)`` or ``(N, C)`` (regression).
        regression: Whether the labels are regression targets.
        label_names: Classification: the original label of each code (as text).
        text_columns: The text columns joined into :attr:`texts`.
        label_columns: The label column(s).
        indices: Row of each example in the loaded data (before filtering).
        source: What was loaded (a dataset id, a file, ``DataFrame``, …).
        subset: Dataset subset (Hub datasets).
        split: Dataset split (Hub datasets and ``DatasetDict``).
        num_rows: Rows available for sampling (after dropping unusable rows).
        seed: Seed of the sample (``None``: not sampled, or sampled at random).
    """

    texts: list[str]
    labels: np.ndarray[Any, Any]
    regression: bool = False
    label_names: tuple[str, ...] | None = None
    text_columns: tuple[str, ...] = (DEFAULT_TEXT_COLUMN,)
    label_columns: tuple[str, ...] = (DEFAULT_LABEL_COLUMN,)
    indices: np.ndarray[Any, np.dtype[np.int64]] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )
    source: str = "in-memory"
    subset: str | None = None
    split: str | None = None
    num_rows: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise UsageError(f"{len(self.texts)} texts but {len(self.labels)} labels")
        if not self.texts:
            raise UsageError("the target has no examples")

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        kind = "regression" if self.regression else f"{self.num_classes} classes"
        return f"Target({self.source!r}, {len(self)} examples, {kind})"

    @property
    def num_classes(self) -> int | None:
        """Number of classes (classification), else ``None``."""
        return None if self.label_names is None else len(self.label_names)

    @property
    def fingerprint(self) -> str:
        """sha256 of the texts and labels: equal targets have equal fingerprints."""
        digest = hashlib.sha256(texts_fingerprint(self.texts).encode())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (for rankings and logs)."""
        return {
            "source": self.source,
            "subset": self.subset,
            "split": self.split,
            "text_columns": list(self.text_columns),
            "label_columns": list(self.label_columns),
            "num_examples": len(self),
            "num_rows": self.num_rows,
            "seed": self.seed,
            "regression": self.regression,
            "num_classes": self.num_classes,
        }


def _columns(value: str | Sequence[str] | None, default: str, what: str) -> tuple[str, ...]:
    if value is None:
        return (default,)
    columns = (value,) if isinstance(value, str) else tuple(value)
    if not columns or any(not isinstance(c, str) or not c for c in columns):
        raise UsageError(f"{what} must be a column name or a non-empty list of names")
    if len(set(columns)) != len(columns):
        raise UsageError(f"{what} names a column twice: {list(columns)}")
    return columns


def _rows_text(rows: np.ndarray[Any, Any], positions: list[int]) -> str:
    shown = ", ".join(str(int(rows[p])) for p in positions[:_SHOWN_ROWS])
    more = f" and {len(positions) - _SHOWN_ROWS} more" if len(positions) > _SHOWN_ROWS else ""
    return f"row(s) {shown}{more}"


def _encode_classes(
    values: list[Any], column: str, source: str, class_names: tuple[str, ...] | None
) -> tuple[np.ndarray[Any, Any], tuple[str, ...]]:
    kinds = {type(v) for v in values}
    if all(issubclass(k, str) for k in kinds):
        classes: list[Any] = sorted(set(values))
    elif all(issubclass(k, (bool, np.bool_)) for k in kinds):
        classes = sorted({bool(v) for v in values})
        values = [bool(v) for v in values]
    elif all(issubclass(k, (int, np.integer, float, np.floating)) for k in kinds):
        numbers = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
            raise DatasetError(
                f"label column {column!r} of {source} holds non-integer numbers; pass "
                "regression=True (--regression) for a regression target"
            )
        values = [int(v) for v in numbers]
        classes = sorted(set(values))
    else:
        found = ", ".join(sorted(k.__name__ for k in kinds))
        raise DatasetError(
            f"label column {column!r} of {source} mixes value types ({found}); use one type"
        )
    codes = {value: code for code, value in enumerate(classes)}
    encoded = np.fromiter((codes[v] for v in values), dtype=np.int64, count=len(values))
    if class_names is not None:
        names = tuple(class_names[v] if 0 <= v < len(class_names) else str(v) for v in classes)
    else:
        names = tuple(str(v) for v in classes)
    return encoded, names


def _encode_regression(
    labels: dict[str, list[Any]], columns: tuple[str, ...], rows: np.ndarray[Any, Any], source: str
) -> np.ndarray[Any, Any]:
    import pandas as pd  # noqa: PLC0415 - heavy, only when a target is read

    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        try:
            numbers = pd.to_numeric(pd.Series(labels[column], dtype=object), errors="raise")
            out[:, j] = numbers.to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DatasetError(
                f"regression target {column!r} of {source} is not numeric ({exc}); drop "
                "--regression for a classification target"
            ) from None
        bad = np.flatnonzero(~np.isfinite(out[:, j])).tolist()
        if bad:
            raise DatasetError(
                f"regression target {column!r} of {source} is infinite in "
                f"{_rows_text(rows, bad)}; fix or drop those rows"
            )
    return out[:, 0] if len(columns) == 1 else out


def load_target(
    source: TargetSource,
    *,
    text_column: str | Sequence[str] | None = None,
    label_column: str | Sequence[str] | None = None,
    regression: bool = False,
    num_examples: int | None = 1000,
    seed: int | None = 42,
    subset: str | None = None,
    split: str | None = None,
) -> Target:
    """Load, filter, sample and encode a target dataset.

    Rows without a label or a text, and for classification rows labelled ``-1``, are
    dropped before sampling (:func:`registry.labelled.load_labelled`).

    Args:
        source: Anything :mod:`registry.labelled` reads (a shipped task, a file, a folder,
            a Hub dataset id, a ``datasets.Dataset``/``DatasetDict``, a pandas
            ``DataFrame``, a mapping of columns, a ``(texts, labels)`` pair), or a
            :class:`Target` (returned unchanged).
        text_column: The text column, or several to join. Default ``"text"``.
        label_column: The label column; regression targets may name several. Default
            ``"label"``.
        regression: The labels are real-valued targets, not classes.
        num_examples: Examples to sample (at most the rows available); ``None``: all.
        seed: Seed of the sample; the same seed picks the same rows as hfselect.
        subset: Subset (configuration) of a Hub dataset.
        split: Split of a Hub dataset (default ``train``) or a ``DatasetDict``.

    Raises:
        UsageError: invalid arguments, or a file or folder that does not exist.
        DatasetError: a source that cannot be read, a missing column, no usable rows, or
            labels of the wrong kind.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"q": ["a", "b", "c"], "a": ["x", "y", "z"], "y": [1, -1, 0]})
        >>> target = load_target(frame, text_column=["q", "a"], label_column="y", seed=1)
        >>> sorted(target.texts), target.labels.tolist() == [1 if t == "a [SEP] x" else 0
        ...                                                   for t in target.texts]
        (['a [SEP] x', 'c [SEP] z'], True)
    """
    if isinstance(source, Target):
        return _rankable(source)
    texts_cols = _columns(text_column, DEFAULT_TEXT_COLUMN, "text_column")
    label_cols = _columns(label_column, DEFAULT_LABEL_COLUMN, "label_column")
    if not regression and len(label_cols) > 1:
        raise UsageError("several label columns need regression=True (one target per column)")
    if set(texts_cols) & set(label_cols):
        raise UsageError("a column cannot be both a text and a label column")
    rows = load_labelled(
        source,
        text_columns=texts_cols,
        label_columns=label_cols,
        classification=not regression,
        num_examples=num_examples,
        seed=seed,
        subset=subset,
        split=split,
    )
    label_names: tuple[str, ...] | None = None
    if regression:
        labels = _encode_regression(rows.labels, label_cols, rows.indices, rows.source)
    else:
        labels, label_names = _encode_classes(
            rows.labels[label_cols[0]],
            label_cols[0],
            rows.source,
            rows.class_names.get(label_cols[0]),
        )
    target = Target(
        texts=rows.texts,
        labels=labels,
        regression=regression,
        label_names=label_names,
        text_columns=texts_cols,
        label_columns=label_cols,
        indices=rows.indices,
        source=rows.source,
        subset=subset,
        split=split,
        num_rows=rows.num_rows,
        seed=seed if num_examples is not None else None,
    )
    logger.info("target: %r", target)
    return _rankable(target)


def _rankable(target: Target) -> Target:
    """``target`` if ESMs can be told apart on it: two examples and, for classes, two labels.

    With one example or one class every ESM explains the labels equally well, so a
    ranking would be an order of rounding errors presented as a result.

    Raises:
        DatasetError: too few examples or classes (the message says how many it has).
    """
    if len(target) < 2:
        raise DatasetError(
            f"the target {target.source} has {len(target)} usable example; ranking needs at "
            "least two (and more examples than the embedding dimension for reliable scores)"
        )
    if not target.regression and len(np.unique(target.labels)) < 2:
        only = target.label_names[0] if target.label_names else target.labels[0]
        raise DatasetError(
            f"every example of the target {target.source} has the same label ({only!s}) "
            f"in the {len(target)} rows sampled; ranking needs at least two classes (check "
            "--label-column, or sample more rows with --num-examples)"
        )
    return target
