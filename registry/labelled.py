"""One loader of labelled text data, for training and ranking.

Training samples an intermediate task and ranking samples a target dataset. Both must read
the same source the same way, turn columns into texts and draw rows exactly as hfselect
does, or an ESM would be trained on one thing and used on another. So there is one loader
with one behaviour, and callers only encode the labels (ranking by sorted value, training
by class name):

- **sources**: a task shipped in :mod:`registry.data`; a local ``.csv``, ``.tsv``,
  ``.json``, ``.jsonl``, ``.ndjson`` or ``.parquet`` file, each optionally gzipped
  (``reviews.csv.gz``); a folder written by ``save_to_disk`` or holding data files (read by
  ``datasets.load_dataset``); a Hub dataset id with an optional subset and split; a
  ``datasets.Dataset``, or a ``DatasetDict`` with a split; a pandas ``DataFrame``; a mapping
  of column name to values; a ``(texts, labels)`` pair (columns ``text`` and ``label``).
- **missing values**: in csv and tsv only empty cells are missing, so a text ``NA`` or
  ``null`` stays text, and text columns are read as text (``007`` stays ``007``). A row is
  used when its labels are present (and, for classification, not ``-1``: hfselect's "no
  label") and every text column holds a string. Other rows are dropped *before* sampling,
  with one log line counting them.
- **sampling**: hfselect's ``dataset.shuffle(seed=seed).select(range(k))`` over the rows
  kept, which is ``numpy.random.default_rng(seed).permutation(n)[:k]``
  (:func:`sample_indices`); without ``num_examples`` every row is kept, in order.
- **texts**: several text columns are joined per row with :data:`TEXT_SEPARATOR`
  (:func:`join_columns`), as hfselect does.
- **errors**: a path that does not exist is a :class:`~registry.errors.UsageError`; a
  source that exists but cannot be read, a missing split or column, or no usable rows is a
  :class:`~registry.errors.DatasetError` naming the source and what it does have.

pandas and datasets are imported only when a source is read.

Example:
    >>> rows = load_labelled(
    ...     {"q": ["a", "b", None], "y": ["pos", "neg", "pos"]},
    ...     text_columns=["q"], label_columns=["y"], num_examples=None,
    ... )
    >>> rows.texts, rows.labels["y"], rows.num_dropped
    (['a', 'b'], ['pos', 'neg'], 1)
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .data import is_packaged_task, load_task
from .errors import DatasetError, UsageError

if TYPE_CHECKING:
    import pandas

__all__ = [
    "DEFAULT_LABEL_COLUMN",
    "DEFAULT_TEXT_COLUMN",
    "FILE_FORMATS",
    "TEXT_SEPARATOR",
    "LabelledRows",
    "LabelledSource",
    "join_columns",
    "load_labelled",
    "sample_indices",
]

logger = logging.getLogger(__name__)

#: How hfselect joins the texts of several columns (``hfselect.dataset.TEXT_SEPARATOR``).
TEXT_SEPARATOR: Final = " [SEP] "

#: File suffixes read as data files (each also gzipped, ``.csv.gz``), and their format.
FILE_FORMATS: Final[Mapping[str, str]] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}

#: The columns of a ``(texts, labels)`` pair.
DEFAULT_TEXT_COLUMN: Final = "text"
DEFAULT_LABEL_COLUMN: Final = "label"

#: Anything :func:`load_labelled` reads (see the module docstring).
LabelledSource = Any

#: Files of a folder that ``datasets.load_dataset`` reads with its csv builder.
_CSV_FORMATS = frozenset({"csv", "tsv"})
#: Files that mark a folder written by ``save_to_disk``.
_SAVED_MARKERS = ("dataset_dict.json", "state.json")
#: Errors of reading a file that mean "this file cannot be read" (pandas' and pyarrow's
#: parse errors are ValueErrors; gzip raises OSError, EOFError or zlib.error).
_READ_ERRORS = (OSError, ValueError, ImportError, EOFError, zlib.error)
_ARROW_STRINGS = frozenset({"string", "large_string", "string_view"})
_UNLABELLED = "labelled -1 (no label; hfselect drops them)"


@dataclass(frozen=True, eq=False)
class LabelledRows:
    """The sampled rows of a labelled source: joined texts and labels as read.

    Attributes:
        texts: One text per example, the text columns joined with :data:`TEXT_SEPARATOR`.
        labels: Label column -> its value for each example, as read (not encoded).
        indices: Row of each example in the source, counted before any row was dropped.
        source: What was read: a path, a dataset id, ``DataFrame``, ``Dataset``, …
        num_rows: Usable rows the sample was drawn from.
        num_dropped: Rows dropped before sampling (missing label or text, label ``-1``).
        class_names: Label column -> its class names, for ``datasets.ClassLabel`` columns.
    """

    texts: list[str]
    labels: dict[str, list[Any]]
    indices: np.ndarray[Any, np.dtype[np.int64]]
    source: str
    num_rows: int
    num_dropped: int = 0
    class_names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


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


def load_labelled(
    source: LabelledSource,
    *,
    text_columns: Sequence[str],
    label_columns: Sequence[str],
    classification: bool = True,
    num_examples: int | None = None,
    seed: int | None = None,
    subset: str | None = None,
    split: str | None = None,
) -> LabelledRows:
    """Read a labelled source, drop the unusable rows and sample as hfselect does.

    Args:
        source: Anything the module docstring lists.
        text_columns: The text column(s); several are joined per row.
        label_columns: The label column(s).
        classification: Labels are classes, so ``-1`` means "no label" (hfselect's rule).
        num_examples: Examples to sample (at most the rows kept); ``None``: every row.
        seed: Seed of the sample; the same seed draws the same rows as hfselect.
        subset: Subset (configuration) of a Hub dataset or of a folder of data files.
        split: Split of a Hub dataset, a folder or a shipped task (default ``train``), or
            of a ``DatasetDict`` (required there).

    Raises:
        UsageError: invalid arguments, or a path that does not exist.
        DatasetError: a source that cannot be read, a missing split or column, no usable
            rows.
    """
    texts_cols = tuple(text_columns)
    label_cols = tuple(label_columns)
    if not texts_cols or not label_cols:
        raise UsageError("name at least one text column and one label column")
    if num_examples is not None and (isinstance(num_examples, bool) or num_examples < 1):
        raise UsageError(f"num_examples must be at least 1, got {num_examples}")
    if seed is not None and (isinstance(seed, bool) or seed < 0):
        raise UsageError(f"seed must be >= 0, got {seed}")
    table = _open(source, subset=subset, split=split, text_columns=texts_cols)
    needed = list(dict.fromkeys((*texts_cols, *label_cols)))
    absent = [c for c in needed if c not in table.columns]
    if absent:
        raise DatasetError(
            f"{table.where} has no column {', '.join(repr(c) for c in absent)}; "
            f"its columns are {', '.join(table.columns) or 'none'}"
        )
    if len(table) == 0:
        raise DatasetError(f"{table.where} has no rows")
    kept = _usable_rows(table, texts_cols, label_cols, classification)
    rows = kept[sample_indices(kept.size, num_examples, seed)]
    values = table.values(needed, rows)
    class_names = {}
    for column in label_cols:
        names = table.class_names(column)
        if names is not None:
            class_names[column] = names
    return LabelledRows(
        texts=join_columns([values[c] for c in texts_cols]),
        labels={c: values[c] for c in label_cols},
        indices=rows,
        source=table.description,
        num_rows=int(kept.size),
        num_dropped=len(table) - int(kept.size),
        class_names=class_names,
    )


# --- which rows count --------------------------------------------------------------------


def _usable_rows(
    table: _Table,
    text_columns: tuple[str, ...],
    label_columns: tuple[str, ...],
    classification: bool,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Positions of the rows with labels and texts; logs (or, when none is left, raises)."""
    no_label = np.zeros(len(table), dtype=bool)
    unlabelled = np.zeros(len(table), dtype=bool)
    for column in label_columns:
        labels = table.series(column)
        no_label |= labels.isna().to_numpy(dtype=bool)
        if classification:
            unlabelled |= _minus_one(labels)
    no_text = np.zeros(len(table), dtype=bool)
    for column in text_columns:
        no_text |= ~table.holds_text(column)
    unlabelled &= ~no_label
    no_text &= ~(no_label | unlabelled)
    counts = {
        "without a label": int(no_label.sum()),
        _UNLABELLED: int(unlabelled.sum()),
        "whose text is missing or not a string": int(no_text.sum()),
    }
    dropped = sum(counts.values())
    kept = np.flatnonzero(~(no_label | unlabelled | no_text)).astype(np.int64)
    reasons = ", ".join(f"{n} {why}" for why, n in counts.items() if n)
    if kept.size == 0:
        raise DatasetError(f"{table.where} has no usable rows: {reasons}")
    if dropped:
        # A -1 label is how the Hub marks unlabelled rows; anything else is a data problem.
        level = logging.INFO if dropped == counts[_UNLABELLED] else logging.WARNING
        logger.log(
            level,
            "dropped %d of %d rows of %s before sampling: %s",
            dropped,
            len(table),
            table.where,
            reasons,
        )
    return kept


def _minus_one(labels: pandas.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Mask of labels equal to ``-1`` (numbers only: a text ``"-1"`` or a bool is a label)."""
    import pandas as pd  # noqa: PLC0415 - heavy, only when data is read

    if pd.api.types.is_bool_dtype(labels):
        return np.zeros(len(labels), dtype=bool)
    if pd.api.types.is_numeric_dtype(labels):
        return np.asarray((labels == -1).fillna(False), dtype=bool)
    return np.fromiter(
        (
            isinstance(v, int | float | np.integer | np.floating)
            and not isinstance(v, bool | np.bool_)
            and v == -1
            for v in labels
        ),
        dtype=bool,
        count=len(labels),
    )


# --- tables: one interface over DataFrames and datasets ------------------------------------


class _Table:
    """Columns by name over a DataFrame or a ``datasets.Dataset``, read whole or by rows."""

    def __init__(
        self, description: str, *, where: str | None = None, frame: Any = None, dataset: Any = None
    ) -> None:
        self.description = description
        self.where = where or description
        self._frame: Any = frame
        self._dataset: Any = dataset.with_format(None) if dataset is not None else None

    @property
    def columns(self) -> list[str]:
        if self._frame is not None:
            return [str(c) for c in self._frame.columns]
        return list(self._dataset.column_names)

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else len(self._dataset)

    def series(self, column: str) -> pandas.Series:
        """One column, every row, as a pandas Series (missing values as NaN/None)."""
        if self._frame is not None:
            return self._frame[column]
        return self._dataset.select_columns([column]).to_pandas()[column]

    def holds_text(self, column: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Mask of the rows whose value in ``column`` is a string."""
        if self._frame is not None:
            values = self._frame[column]
            return np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        # Arrow columns are typed: a string column holds a string wherever it is not null.
        array = self._dataset.with_format("arrow").select_columns([column])[:].column(column)
        if str(array.type) not in _ARROW_STRINGS:
            return np.zeros(len(self), dtype=bool)
        return np.asarray(array.is_valid(), dtype=bool)

    def values(
        self, columns: Sequence[str], rows: np.ndarray[Any, np.dtype[np.int64]]
    ) -> dict[str, list[Any]]:
        """The values of ``columns`` in ``rows``, as Python objects."""
        if self._frame is not None:
            part = self._frame.iloc[rows]
            return {c: part[c].tolist() for c in columns}
        selected: dict[str, list[Any]] = self._dataset.select_columns(list(columns)).select(
            rows.tolist()
        )[:]
        return {c: list(selected[c]) for c in columns}

    def class_names(self, column: str) -> tuple[str, ...] | None:
        """The names of a ``ClassLabel`` column, else ``None``."""
        if self._dataset is None:
            return None
        from datasets import ClassLabel  # noqa: PLC0415 - heavy, only when data is read

        feature = self._dataset.features.get(column)
        return tuple(str(n) for n in feature.names) if isinstance(feature, ClassLabel) else None


# --- sources -----------------------------------------------------------------------------


def _open(
    source: LabelledSource,
    *,
    subset: str | None,
    split: str | None,
    text_columns: tuple[str, ...],
) -> _Table:
    import pandas as pd  # noqa: PLC0415 - heavy, only when data is read

    if isinstance(source, pd.DataFrame):
        return _Table("DataFrame", frame=_string_columns(source.reset_index(drop=True)))
    if isinstance(source, str | os.PathLike):
        return _open_name(source, subset=subset, split=split, text_columns=text_columns)
    import datasets  # noqa: PLC0415 - heavy, only when data is read

    if isinstance(source, datasets.DatasetDict):
        if split is None:
            raise UsageError(
                f"the DatasetDict has the splits {', '.join(source)}; pick one with split="
            )
        if split not in source:
            raise DatasetError(f"no split {split!r}; the DatasetDict has {', '.join(source)}")
        return _Table(f"DatasetDict[{split}]", dataset=source[split])
    if isinstance(source, datasets.Dataset):
        return _Table("Dataset", dataset=source)
    if isinstance(source, datasets.IterableDataset | datasets.IterableDatasetDict):
        raise UsageError("streamed datasets are not supported; load the split, or a sample of it")
    if isinstance(source, tuple) and len(source) == 2:
        texts, labels = source
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise UsageError("a (texts, labels) pair needs a list of texts")
        frame = pd.DataFrame({DEFAULT_TEXT_COLUMN: list(texts), DEFAULT_LABEL_COLUMN: list(labels)})
        return _Table("lists", frame=frame)
    if isinstance(source, Mapping):
        try:
            frame = pd.DataFrame({str(k): list(v) for k, v in source.items()})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot make a table of the columns given: {exc}") from exc
        return _Table("dict", frame=frame)
    raise UsageError(
        f"cannot use a {type(source).__name__} as labelled data; pass a shipped task, a file, "
        "a folder, a Hub dataset id, a datasets.Dataset, a pandas DataFrame, a dict of "
        "columns or (texts, labels)"
    )


def _string_columns(frame: pandas.DataFrame) -> pandas.DataFrame:
    """``frame`` with its column names as strings (a DataFrame may use any hashable)."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis([str(c) for c in frame.columns], axis=1)


def _open_name(
    source: str | os.PathLike[str],
    *,
    subset: str | None,
    split: str | None,
    text_columns: tuple[str, ...],
) -> _Table:
    """A shipped task, a file, a folder or a Hub dataset id, in that order."""
    text = os.fspath(source)
    if is_packaged_task(text):
        if subset is not None:
            raise DatasetError(f"the shipped task {text} has no subsets; drop --subset")
        split = split or "train"
        return _Table(text, where=f"{text} ({split})", dataset=load_task(text, split))
    path = Path(text).expanduser()
    if path.is_file():
        return _Table(str(path), frame=_read_file(path, text_columns))
    if path.is_dir():
        dataset = _read_folder(path, subset=subset, split=split, text_columns=text_columns)
        return _Table(str(path), dataset=dataset)
    if isinstance(source, os.PathLike) or _looks_like_path(text):
        raise UsageError(f"no such file or folder: {path}")
    split = split or "train"
    where = f"{text} ({f'subset {subset}, ' if subset else ''}{split})"
    return _Table(text, where=where, dataset=_load_dataset(text, subset, split, where=where))


def _file_format(path: Path) -> tuple[str | None, bool]:
    """The format of a data file by its suffix, and whether it is gzipped."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    return (FILE_FORMATS.get(suffixes[-1]) if suffixes else None), gzipped


def _looks_like_path(text: str) -> bool:
    fmt, gzipped = _file_format(Path(text))
    return fmt is not None or gzipped or text.startswith((".", "/", "~"))


def _read_file(path: Path, text_columns: tuple[str, ...]) -> pandas.DataFrame:
    """A data file as a DataFrame; in csv/tsv only empty cells are missing, texts stay text."""
    import pandas as pd  # noqa: PLC0415 - heavy, only when data is read

    fmt, gzipped = _file_format(path)
    if fmt is None:
        known = ", ".join(FILE_FORMATS)
        raise DatasetError(
            f"cannot read {path}: unknown file type; use one of {known} (optionally .gz)"
        )
    try:
        with gzip.open(path, "rb") if gzipped else path.open("rb") as handle:
            if fmt in _CSV_FORMATS:
                sep = "," if fmt == "csv" else "\t"
                return pd.read_csv(handle, sep=sep, **_csv_options(text_columns))
            if fmt == "parquet":
                return pd.read_parquet(handle)
            if fmt == "jsonl":
                return pd.read_json(handle, lines=True, dtype=False)
            try:
                return pd.read_json(handle, dtype=False)
            except ValueError:  # a .json file holding JSON Lines
                handle.seek(0)
                return pd.read_json(handle, lines=True, dtype=False)
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"cannot read {path} as {fmt}{' (gzipped)' if gzipped else ''}: {exc}"
        ) from exc


def _read_folder(
    path: Path, *, subset: str | None, split: str | None, text_columns: tuple[str, ...]
) -> Any:
    """A ``save_to_disk`` folder, or a folder of data files as ``datasets`` reads it."""
    import datasets  # noqa: PLC0415 - heavy, only when data is read

    split = split or "train"
    if not any((path / marker).is_file() for marker in _SAVED_MARKERS):
        options = _csv_options(text_columns) if _holds_csv(path) else {}
        return _load_dataset(str(path), subset, split, where=f"{path} ({split})", **options)
    try:
        loaded = datasets.load_from_disk(str(path))
    except _READ_ERRORS as exc:
        raise DatasetError(f"cannot read the saved dataset {path}: {exc}") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise DatasetError(f"{path} has no split {split!r}; it has {', '.join(loaded)}")
        return loaded[split]
    return loaded


def _csv_options(text_columns: tuple[str, ...]) -> dict[str, Any]:
    """``pandas.read_csv`` options: only empty cells are missing, text columns stay text."""
    return {
        "keep_default_na": False,
        "na_values": [""],
        "converters": dict.fromkeys(text_columns, str),
    }


def _holds_csv(folder: Path) -> bool:
    """Whether the data files of a folder are csv/tsv (``datasets`` reads them with pandas)."""
    formats = {
        _file_format(p)[0]
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }
    formats.discard(None)
    return bool(formats) and formats <= _CSV_FORMATS


def _load_dataset(name: str, subset: str | None, split: str, *, where: str, **options: Any) -> Any:
    import datasets  # noqa: PLC0415 - heavy, only when data is read

    try:
        return datasets.load_dataset(name, subset, split=split, **options)
    except Exception as exc:  # datasets raises many kinds: offline, missing, bad config
        raise DatasetError(
            f"cannot load the dataset {where}: {exc}. Offline, use a shipped task "
            "(registry.data.list_tasks()) or a local file"
        ) from exc
