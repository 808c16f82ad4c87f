"""Load the target dataset of a ranking: texts and labels, sampled as hfselect samples them.

A target can be a Hub dataset id (or a local folder that ``datasets.load_dataset`` reads),
a local ``.csv``/``.tsv``/``.json``/``.jsonl``/``.parquet`` file, a ``datasets.Dataset`` (or a
``DatasetDict`` plus a split), a pandas ``DataFrame``, a mapping of column name to values, or
a ``(texts, labels)`` pair of lists.

The steps follow ``hfselect.Dataset.from_hugging_face`` (hfselect 0.2.1) so that the same
seed selects the same examples:

1. keep the text and label columns;
2. for classification, drop the rows whose label is ``-1`` (the Hub's "no label");
3. with ``num_examples`` set: ``dataset.shuffle(seed=seed).select(range(min(n, k)))``,
   which is ``numpy.random.default_rng(seed).permutation(n)[:k]`` on the remaining rows
   (:func:`sample_indices`; ``datasets`` shuffles with exactly that generator); without
   ``num_examples`` every row is kept, in order.

Several text columns are joined per row with ``" [SEP] "`` (see
:func:`registry.labelled.join_columns`). Labels are encoded deterministically: string
labels by their sorted values (as hfselect builds its ``ClassLabel``), integer and
``ClassLabel`` labels by their sorted values too, so class ``k`` is the ``k``-th smallest
label present; regression targets (one or several columns) become float64.

Texts and labels are checked on the sampled rows only (a large dataset with a bad row
elsewhere still works); a missing text or label raises :class:`~registry.errors.UsageError`
naming the rows.

Example:
    >>> target = load_target((["good", "bad", "fine"], ["pos", "neg", "pos"]), seed=0)
    >>> target.label_names, target.num_classes, len(target)
    (('neg', 'pos'), 2, 3)
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embedding import texts_fingerprint
from ..errors import UsageError
from ..labelled import join_columns, sample_indices

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FILE_FORMATS",
    "Target",
    "TargetSource",
    "load_target",
]

logger = logging.getLogger(__name__)

#: File suffixes read as local targets, and the format each is read as.
FILE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

#: Anything :func:`load_target` accepts (besides a loaded :class:`Target`).
TargetSource = Any

_DEFAULT_TEXT = "text"
_DEFAULT_LABEL = "label"
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
        num_rows: Rows available for sampling (after dropping ``-1`` labels).
        seed: Seed of the sample (``None``: not sampled, or sampled at random).
    """

    texts: list[str]
    labels: np.ndarray[Any, Any]
    regression: bool = False
    label_names: tuple[str, ...] | None = None
    text_columns: tuple[str, ...] = (_DEFAULT_TEXT,)
    label_columns: tuple[str, ...] = (_DEFAULT_LABEL,)
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


# --- tables: one interface over DataFrames and datasets ------------------------------------


class _Table:
    """Columns by name, read for all rows (labels) or for the sampled rows (texts)."""

    def __init__(self, frame: Any = None, dataset: Any = None) -> None:
        self._frame = frame
        self._dataset = dataset

    @property
    def columns(self) -> list[str]:
        if self._frame is not None:
            return [str(c) for c in self._frame.columns]
        return list(self._dataset.column_names)

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else len(self._dataset)

    def frame(self, columns: Sequence[str], rows: np.ndarray[Any, Any] | None = None) -> Any:
        if self._frame is not None:
            frame = self._frame[list(columns)]
            return frame if rows is None else frame.iloc[rows]
        dataset = self._dataset.select_columns(list(columns))
        if rows is not None:
            dataset = dataset.select(rows.tolist())
        return dataset.to_pandas()

    def class_names(self, column: str) -> list[str] | None:
        """The names of a ``ClassLabel`` column, else ``None``."""
        if self._dataset is None:
            return None
        from datasets import ClassLabel  # noqa: PLC0415

        feature = self._dataset.features.get(column)
        return list(feature.names) if isinstance(feature, ClassLabel) else None


def _read_file(path: Path) -> pandas.DataFrame:
    import pandas as pd  # noqa: PLC0415 - optional dependency of the ranker

    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FILE_FORMATS))
        raise UsageError(f"cannot read {path}: unknown file type; use one of {known}")
    try:
        if fmt in ("csv", "tsv"):
            # Only empty cells are missing: a text "NA" or "null" stays text.
            return pd.read_csv(
                path, sep="," if fmt == "csv" else "\t", keep_default_na=False, na_values=[""]
            )
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        try:
            return pd.read_json(path, dtype=False)
        except ValueError:  # a .json file holding JSON Lines
            return pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError, ImportError) as exc:
        raise UsageError(f"cannot read {path} as {fmt}: {exc}") from exc


def _looks_like_file(text: str) -> bool:
    return Path(text).suffix.lower() in FILE_FORMATS or text.startswith((".", "/", "~"))


def _load_hub(name: str, subset: str | None, split: str | None) -> Any:
    import datasets  # noqa: PLC0415

    try:
        return datasets.load_dataset(name, subset, split=split or "train")
    except Exception as exc:  # datasets raises many kinds, none of them ours
        raise UsageError(
            f"cannot load the dataset {name!r}"
            f"{f' (subset {subset!r})' if subset else ''}, split {split or 'train'!r}"
            f": {exc}. Offline, pass a local file instead (--file)"
        ) from exc


def _table(source: Any, *, subset: str | None, split: str | None) -> tuple[_Table, str]:
    """The source as a table, and a short description of it."""
    import pandas as pd  # noqa: PLC0415

    if isinstance(source, pd.DataFrame):
        return _Table(frame=source.reset_index(drop=True)), "DataFrame"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_file():
            return _Table(frame=_read_file(path)), str(path)
        if path.is_dir():  # a folder of data files, as datasets.load_dataset reads it
            return _table(_load_hub(str(path), subset, split), subset=None, split=None)[0], str(
                path
            )
        if isinstance(source, os.PathLike) or _looks_like_file(str(source)):
            raise UsageError(f"no such file: {path}")
        return _table(_load_hub(str(source), subset, split), subset=None, split=None)[0], str(
            source
        )
    import datasets  # noqa: PLC0415

    if isinstance(source, datasets.DatasetDict):
        if split is None:
            splits = ", ".join(source)
            raise UsageError(f"the DatasetDict has the splits {splits}; pick one with split=")
        if split not in source:
            raise UsageError(f"no split {split!r}; the DatasetDict has {', '.join(source)}")
        return _Table(dataset=source[split]), f"DatasetDict[{split}]"
    if isinstance(source, datasets.Dataset):
        return _Table(dataset=source), "Dataset"
    if isinstance(source, (datasets.IterableDataset, datasets.IterableDatasetDict)):
        raise UsageError("streamed datasets are not supported; load the split, or a sample of it")
    if isinstance(source, tuple) and len(source) == 2:
        texts, labels = source
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise UsageError("a (texts, labels) target needs a list of texts")
        return _Table(
            frame=pd.DataFrame({_DEFAULT_TEXT: list(texts), _DEFAULT_LABEL: list(labels)})
        ), "lists"
    if isinstance(source, Mapping):
        try:
            return _Table(frame=pd.DataFrame({str(k): list(v) for k, v in source.items()})), "dict"
        except ValueError as exc:
            raise UsageError(f"cannot make a table of the columns given: {exc}") from exc
    raise UsageError(
        f"cannot use a {type(source).__name__} as a target; pass a Hub dataset id, a file, "
        "a datasets.Dataset, a pandas DataFrame, a dict of columns or (texts, labels)"
    )


def _columns(value: str | Sequence[str] | None, default: str, what: str) -> tuple[str, ...]:
    if value is None:
        return (default,)
    columns = (value,) if isinstance(value, str) else tuple(value)
    if not columns or any(not isinstance(c, str) or not c for c in columns):
        raise UsageError(f"{what} must be a column name or a non-empty list of names")
    if len(set(columns)) != len(columns):
        raise UsageError(f"{what} names a column twice: {list(columns)}")
    return columns


def _missing(values: Sequence[Any]) -> list[int]:
    """Positions of missing values (None, NaN, pandas NA)."""
    import pandas as pd  # noqa: PLC0415

    return [i for i, v in enumerate(values) if v is None or (not isinstance(v, str) and pd.isna(v))]


def _rows_text(rows: np.ndarray[Any, Any], positions: list[int]) -> str:
    shown = ", ".join(str(int(rows[p])) for p in positions[:_SHOWN_ROWS])
    more = f" and {len(positions) - _SHOWN_ROWS} more" if len(positions) > _SHOWN_ROWS else ""
    return f"row(s) {shown}{more}"


def _unlabelled(frame: Any, column: str, class_names: list[str] | None) -> np.ndarray[Any, Any]:
    """Mask of rows hfselect drops for classification: label ``== -1``."""
    import pandas as pd  # noqa: PLC0415

    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return np.asarray((values == -1).fillna(False), dtype=bool)
    if values.dtype == object:  # ints mixed with None
        return np.asarray(
            [v is not None and not isinstance(v, (str, bool)) and v == -1 for v in values]
        )
    return np.zeros(len(values), dtype=bool)


def _encode_classes(
    values: list[Any], rows: np.ndarray[Any, Any], column: str, class_names: list[str] | None
) -> tuple[np.ndarray[Any, Any], tuple[str, ...]]:
    missing = _missing(values)
    if missing:
        raise UsageError(
            f"label column {column!r} has no value in {_rows_text(rows, missing)}; fill or "
            "drop those rows"
        )
    kinds = {type(v) for v in values}
    if all(issubclass(k, str) for k in kinds):
        classes: list[Any] = sorted(set(values))
    elif all(issubclass(k, (bool, np.bool_)) for k in kinds):
        classes = sorted({bool(v) for v in values})
        values = [bool(v) for v in values]
    elif all(issubclass(k, (int, np.integer, float, np.floating)) for k in kinds):
        numbers = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
            raise UsageError(
                f"label column {column!r} holds non-integer numbers; pass regression=True "
                "(--regression) for a regression target"
            )
        values = [int(v) for v in numbers]
        classes = sorted(set(values))
    else:
        found = ", ".join(sorted(k.__name__ for k in kinds))
        raise UsageError(f"label column {column!r} mixes value types ({found}); use one type")
    codes = {value: code for code, value in enumerate(classes)}
    encoded = np.fromiter((codes[v] for v in values), dtype=np.int64, count=len(values))
    if class_names is not None:
        names = tuple(class_names[v] if 0 <= v < len(class_names) else str(v) for v in classes)
    else:
        names = tuple(str(v) for v in classes)
    return encoded, names


def _encode_regression(
    frame: Any, columns: tuple[str, ...], rows: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    import pandas as pd  # noqa: PLC0415

    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        try:
            out[:, j] = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise UsageError(
                f"regression target {column!r} is not numeric ({exc}); drop --regression for "
                "a classification target"
            ) from None
        bad = np.flatnonzero(~np.isfinite(out[:, j])).tolist()
        if bad:
            raise UsageError(
                f"regression target {column!r} is missing, NaN or infinite in "
                f"{_rows_text(rows, bad)}; fill or drop those rows"
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
    """Load, filter, sample and encode a target dataset (see the module docstring).

    Args:
        source: A Hub dataset id, a local file, a ``datasets.Dataset``/``DatasetDict``, a
            pandas ``DataFrame``, a mapping of columns, a ``(texts, labels)`` pair, or a
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
        UsageError: a missing file or column, no rows, missing texts or labels, labels of
            the wrong kind, or a Hub dataset that cannot be loaded.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"q": ["a", "b", "c"], "a": ["x", "y", "z"], "y": [1, -1, 0]})
        >>> target = load_target(frame, text_column=["q", "a"], label_column="y", seed=1)
        >>> sorted(target.texts), target.labels.tolist() == [1 if t == "a [SEP] x" else 0
        ...                                                   for t in target.texts]
        (['a [SEP] x', 'c [SEP] z'], True)
    """
    if isinstance(source, Target):
        return source
    if num_examples is not None and (isinstance(num_examples, bool) or num_examples < 1):
        raise UsageError(f"num_examples must be at least 1, got {num_examples}")
    texts_cols = _columns(text_column, _DEFAULT_TEXT, "text_column")
    label_cols = _columns(label_column, _DEFAULT_LABEL, "label_column")
    if not regression and len(label_cols) > 1:
        raise UsageError("several label columns need regression=True (one target per column)")
    if set(texts_cols) & set(label_cols):
        raise UsageError("a column cannot be both a text and a label column")
    table, description = _table(source, subset=subset, split=split)
    missing = [c for c in (*texts_cols, *label_cols) if c not in table.columns]
    if missing:
        raise UsageError(
            f"{description} has no column {', '.join(repr(c) for c in missing)}; its columns "
            f"are {', '.join(table.columns) or 'none'}"
        )
    if len(table) == 0:
        raise UsageError(f"{description} has no rows")

    class_names = None if regression else table.class_names(label_cols[0])
    available = np.arange(len(table), dtype=np.int64)
    if not regression:
        dropped = _unlabelled(table.frame(label_cols), label_cols[0], class_names)
        if dropped.any():
            logger.info("dropping %d rows labelled -1 (no label), as hfselect does", dropped.sum())
            available = available[~dropped]
        if available.size == 0:
            raise UsageError(f"{description} has no labelled rows (every label is -1)")
    rows = available[sample_indices(available.size, num_examples, seed)]
    frame = table.frame([*texts_cols, *label_cols], rows)

    text_values = []
    for column in texts_cols:
        values = frame[column].tolist()
        empty = _missing(values)
        if empty:
            raise UsageError(
                f"text column {column!r} has no value in {_rows_text(rows, empty)}; fill or "
                "drop those rows"
            )
        text_values.append(values)
    texts = join_columns(text_values)

    label_names: tuple[str, ...] | None = None
    if regression:
        labels = _encode_regression(frame, label_cols, rows)
    else:
        labels, label_names = _encode_classes(
            frame[label_cols[0]].tolist(), rows, label_cols[0], class_names
        )
        if len(label_names) < 2:
            logger.warning(
                "the sampled target has a single class (%s): every ESM will score alike",
                label_names[0],
            )
    target = Target(
        texts=texts,
        labels=labels,
        regression=regression,
        label_names=label_names,
        text_columns=texts_cols,
        label_columns=label_cols,
        indices=rows,
        source=description,
        subset=subset,
        split=split,
        num_rows=int(available.size),
        seed=seed if num_examples is not None else None,
    )
    logger.info("target: %r", target)
    return target
