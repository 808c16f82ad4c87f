"""The intermediate task an ESM is trained on: read, sampled as hfselect samples, recorded.

Training needs the texts to embed, the labels with their class names (to fine-tune a
classifier), and the task fields of the ESM's metadata. Reading, dropping unusable rows and
sampling belong to :mod:`registry.labelled`, which ranking uses too, so an intermediate
task and a target read from the same source with the same seed hold the same texts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import is_packaged_task, task_info
from ..errors import DatasetError, UsageError
from ..labelled import DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN, LabelledSource, load_labelled
from ..metadata import IntermediateTask
from .config import DEFAULT_SEED

__all__ = ["IntermediateData", "load_intermediate"]

logger = logging.getLogger(__name__)


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


def _label_names(
    class_names: tuple[str, ...] | None, values: Sequence[Any]
) -> tuple[str, ...] | None:
    """Class names in index order: a ``ClassLabel``'s, sorted strings, or ``0..max`` for ints."""
    if class_names:
        return class_names
    if all(isinstance(v, str) for v in values):
        return tuple(sorted(set(values)))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return tuple(str(i) for i in range(max(values) + 1)) if values else ()
    return None


def load_intermediate(
    source: LabelledSource,
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

    Sampling is hfselect's (``dataset.shuffle(seed=seed).select(range(num_examples))``)
    over the usable rows: rows labelled ``-1``, without a label, or whose text is missing
    are dropped first (:func:`registry.labelled.load_labelled`). The recorded
    ``num_examples`` is the number of examples actually used.

    Args:
        source: A shipped task name (``wordnet/noun-supersense``), a local .csv, .tsv,
            .json, .jsonl, .ndjson or .parquet file (optionally .gz), a folder (written by
            ``save_to_disk``, or of data files), a Hub dataset id (needs network or a local
            cache), a ``datasets.Dataset``/``DatasetDict``, a pandas ``DataFrame``, a
            mapping of columns, or a ``(texts, labels)`` pair.
        task_id: The Hub dataset id to record; needed for files and in-memory data (their
            path is no id). Default: the shipped task's or Hub dataset's name.
        subset: Dataset configuration (Hub datasets only).
        split: Split to read (default ``train``).
        text_column: Text column, or several to join with ``" [SEP] "`` (default for shipped
            tasks and ``(texts, labels)`` pairs: ``text``).
        label_column: Label column (default for shipped tasks and pairs: ``label``).
        num_examples: Sample this many examples (default: all).
        seed: Seed of the sample (also recorded on the card).
        language: Language codes of the texts (default for shipped tasks: theirs).

    Raises:
        UsageError: an argument is invalid or missing, or a file or folder does not exist.
        DatasetError: the source cannot be read, a column is missing, or nothing is left.
    """
    if seed < 0:
        raise UsageError(f"seed must be >= 0, got {seed}")
    split = split or "train"
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    info = task_info(name) if name is not None and is_packaged_task(name) else None
    if info is not None:
        text_column = text_column or info.text_column
        label_column = label_column or info.label_column
        language = info.language if language is None else language
        task_id = task_id or info.name
    elif name is not None and not Path(name).expanduser().exists():
        task_id = task_id or name  # a Hub dataset id
    elif isinstance(source, tuple):
        text_column = text_column or DEFAULT_TEXT_COLUMN
        label_column = label_column or DEFAULT_LABEL_COLUMN
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

    rows = load_labelled(
        source,
        text_columns=columns,
        label_columns=[label_column],
        num_examples=num_examples,
        seed=seed,
        subset=subset,
        split=split,
    )
    if num_examples is not None and num_examples > rows.num_rows:
        logger.warning(
            "%s (%s) has %d usable examples; using all of them instead of %d",
            task_id,
            split,
            rows.num_rows,
            num_examples,
        )
    labels = rows.labels[label_column]
    # A shipped task knows all its classes, also those a small sample misses.
    if info is not None and label_column == info.label_column:
        label_names: tuple[str, ...] | None = info.labels
    else:
        label_names = _label_names(rows.class_names.get(label_column), labels)
    try:
        task = IntermediateTask(
            task_id=task_id,
            subset=subset,
            text_column=columns[0] if len(columns) == 1 else columns,
            label_column=label_column,
            split=split,
            num_examples=len(rows),
            seed=seed,
        )
    except ValueError as exc:
        raise UsageError(f"the task cannot be recorded in ESM metadata: {exc}") from None
    return IntermediateData(
        texts=tuple(rows.texts),
        labels=tuple(labels),
        label_names=label_names,
        task=task,
        language=tuple(language or ()),
    )
