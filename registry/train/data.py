"""The intermediate task an ESM is trained on: read, sampled as hfselect samples, recorded.

Training needs the texts to embed, the labels to fine-tune a classifier on (with their
class names), and the task fields of the ESM's metadata.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import is_packaged_task, load_task, task_info
from ..errors import DatasetError, UsageError
from ..labelled import join_columns
from ..metadata import IntermediateTask
from .config import DEFAULT_SEED

if TYPE_CHECKING:
    import datasets

__all__ = ["IntermediateData", "load_intermediate"]

logger = logging.getLogger(__name__)

_FILE_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class IntermediateData:
    """The sampled examples of an intermediate task and how they were drawn.

    Attributes:
        texts: The input texts (several text columns already joined as hfselect does).
        labels: The labels, as read (strings, class indices or numbers).
        label_names: Class names in index order; ``None`` for non-categorical labels.
        task: The task fields of the ESM metadata (id, subset, columns, split, sample).
        language: Language codes of the texts, when known.
    """

    texts: tuple[str, ...]
    labels: tuple[Any, ...]
    label_names: tuple[str, ...] | None
    task: IntermediateTask
    language: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)

    def label_ids(self) -> list[int]:
        """Class index of every example (for fine-tuning a classifier).

        Raises:
            DatasetError: the labels are not categorical.
        """
        if self.label_names is None:
            raise DatasetError(
                f"the labels of {self.task.task_id} are not categorical; the built-in "
                "fine-tuning trains classifiers only: fine-tune elsewhere and pass the "
                "fine-tuned model"
            )
        index = {name: i for i, name in enumerate(self.label_names)}
        ids = []
        for label in self.labels:
            if isinstance(label, int) and not isinstance(label, bool):
                ids.append(label)
            else:
                ids.append(index[str(label)])
        return ids


def _read_file(path: Path) -> datasets.Dataset:
    """A local csv/tsv/json/jsonl/parquet file (optionally .gz) as a ``datasets.Dataset``."""
    import datasets  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = _FILE_READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise DatasetError(
            f"cannot read {path}: use a .csv, .tsv, .json, .jsonl or .parquet file "
            "(optionally gzipped)"
        )
    try:
        if kind in ("csv", "tsv"):
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=kind == "jsonl")
    except ValueError as exc:
        if kind == "json":  # a .json file may still hold one object per line
            try:
                frame = pd.read_json(path, lines=True)
            except ValueError:
                raise DatasetError(f"cannot read {path}: {exc}") from None
        else:
            raise DatasetError(f"cannot read {path}: {exc}") from None
    except (OSError, ImportError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def _load_source(
    source: str | os.PathLike[str] | datasets.Dataset, *, subset: str | None, split: str
) -> datasets.Dataset:
    if not isinstance(source, str | os.PathLike):
        return source
    import datasets  # noqa: PLC0415

    text = os.fspath(source)
    if is_packaged_task(text):
        if subset is not None:
            raise DatasetError(f"the shipped task {text} has no subsets; drop --subset")
        return load_task(text, split)
    path = Path(text).expanduser()
    if path.is_file():
        return _read_file(path)
    if not path.exists() and (
        isinstance(source, os.PathLike)
        or text.startswith(("/", ".", "~"))
        or path.suffix.lower() in (*_FILE_READERS, ".gz")
    ):
        raise DatasetError(f"no such file: {path}")
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DatasetError(f"{path} has no split {split!r}; it has {list(loaded)}")
            return loaded[split]
        return loaded
    try:
        return datasets.load_dataset(text, subset, split=split)
    except Exception as exc:  # datasets raises many types: offline, missing, bad config
        raise DatasetError(
            f"cannot load the dataset {text!r} (subset {subset!r}, split {split!r}): {exc}. "
            "Use a shipped task (registry.data.list_tasks()), a local file, or go online"
        ) from exc


def _label_names(
    dataset: datasets.Dataset, column: str, values: Sequence[Any]
) -> tuple[str, ...] | None:
    feature = dataset.features.get(column)
    names = getattr(feature, "names", None)
    if names:
        return tuple(str(n) for n in names)
    if all(isinstance(v, str) for v in values):
        return tuple(sorted(set(values)))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return tuple(str(i) for i in range(max(values) + 1)) if values else ()
    return None


def load_intermediate(
    source: str | os.PathLike[str] | datasets.Dataset,
    *,
    task_id: str | None = None,
    subset: str | None = None,
    split: str | None = None,
    text_column: str | Sequence[str] | None = None,
    label_column: str | None = None,
    num_examples: int | None = None,
    seed: int = DEFAULT_SEED,
    language: Sequence[str] | None = None,
) -> IntermediateData:
    """Load and sample the intermediate task an ESM is trained on.

    Sampling is hfselect's (``dataset.shuffle(seed=seed).select(range(num_examples))``
    after dropping rows labelled ``-1``), so the same arguments draw the same examples;
    rows without a label or with an empty text are dropped too (hfselect would fail on
    them). The recorded ``num_examples`` is the number of examples actually used.

    Args:
        source: A shipped task name (``wordnet/noun-supersense``), a local .csv, .tsv,
            .json, .jsonl or .parquet file, a folder written by ``save_to_disk``, a
            ``datasets.Dataset``, or a Hub dataset id (needs network or a local cache).
        task_id: The Hub dataset id to record; needed for files and in-memory datasets
            (their path is no id). Default: the shipped task's or Hub dataset's name.
        subset: Dataset configuration (Hub datasets only).
        split: Split to read (default ``train``).
        text_column: Text column, or several to join with ``" [SEP] "`` (default for shipped
            tasks: ``text``).
        label_column: Label column (default for shipped tasks: ``label``).
        num_examples: Sample this many examples (default: all).
        seed: Seed of the sample (also recorded on the card).
        language: Language codes of the texts (default for shipped tasks: theirs).

    Raises:
        DatasetError: the source cannot be read, a column is missing, or nothing is left.
        UsageError: an argument is invalid or missing.
    """
    if num_examples is not None and num_examples < 1:
        raise UsageError(f"num_examples must be at least 1, got {num_examples}")
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    split = split or "train"
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    shipped = name is not None and is_packaged_task(name)
    info = task_info(name) if shipped and name is not None else None
    if info is not None:
        text_column = text_column or info.text_column
        label_column = label_column or info.label_column
        language = info.language if language is None else language
        task_id = task_id or info.name
    elif name is not None and not Path(name).expanduser().exists():
        task_id = task_id or name  # a Hub dataset id
    if task_id is None:
        raise UsageError(
            "a local file or in-memory dataset has no Hub id: pass task_id (--task-id) to "
            "say which dataset it is"
        )
    if text_column is None or label_column is None:
        raise UsageError("name the text column and the label column of the dataset")
    columns = [text_column] if isinstance(text_column, str) else list(text_column)
    if not columns:
        raise UsageError("name at least one text column")

    dataset = _load_source(source, subset=subset, split=split)
    missing = [c for c in [*columns, label_column] if c not in dataset.column_names]
    if missing:
        raise DatasetError(
            f"{task_id} ({split}) has no column {', '.join(repr(c) for c in missing)}; "
            f"its columns: {', '.join(dataset.column_names)}"
        )
    dataset = dataset.select_columns([*dict.fromkeys([*columns, label_column])])
    labels_all = dataset[label_column]
    texts_all = [dataset[c] for c in columns]
    keep = [
        i
        for i, label in enumerate(labels_all)
        if label is not None
        and not (isinstance(label, int) and label == -1)
        and all(isinstance(col[i], str) and col[i].strip() for col in texts_all)
    ]
    if len(keep) < len(labels_all):
        logger.info(
            "dropped %d of %d rows without a label or text",
            len(labels_all) - len(keep),
            len(labels_all),
        )
        dataset = dataset.select(keep)
    if len(dataset) == 0:
        raise DatasetError(f"{task_id} ({split}) has no usable examples")
    if num_examples is not None:
        if num_examples > len(dataset):
            logger.warning(
                "%s (%s) has %d examples; using all of them instead of %d",
                task_id,
                split,
                len(dataset),
                num_examples,
            )
        dataset = dataset.shuffle(seed=seed).select(range(min(num_examples, len(dataset))))
    texts = join_columns([dataset[c] for c in columns])
    labels = list(dataset[label_column])
    # A shipped task knows all its classes, also those a small sample misses.
    if info is not None and label_column == info.label_column:
        label_names: tuple[str, ...] | None = info.labels
    else:
        label_names = _label_names(dataset, label_column, labels)
    try:
        task = IntermediateTask(
            task_id=task_id,
            subset=subset,
            text_column=columns[0] if len(columns) == 1 else columns,
            label_column=label_column,
            split=split,
            num_examples=len(texts),
            seed=seed,
        )
    except ValueError as exc:
        raise UsageError(f"the task cannot be recorded in ESM metadata: {exc}") from None
    return IntermediateData(
        texts=tuple(texts),
        labels=tuple(labels),
        label_names=label_names,
        task=task,
        language=tuple(language or ()),
    )
