"""``Dataset``: a target dataset wrapped as hfselect wraps it.

The same arguments, the same sample (``shuffle(seed)`` then the first ``num_examples``
rows, after dropping rows labelled ``-1``), the same text joining (``" [SEP] "``) and the
same label encoding: string labels are numbered in sorted order, integer labels are kept
and, like hfselect's LogME, scored as ``range(max + 1)`` classes. The shipped tasks
(``wordnet/...``) load offline under their names too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from ...data import is_packaged_task, load_task
from ...errors import DatasetError
from ...labelled import TEXT_SEPARATOR, join_columns
from ._extras import import_extra

__all__ = ["Dataset", "EmptyDatasetError"]

logger = logging.getLogger(__name__)

#: Rows an ``IterableDataset`` shuffle keeps in its buffer (hfselect's value).
STREAMING_BUFFER_SIZE = 100_000


class EmptyDatasetError(DatasetError):
    """The dataset has no rows (possibly after filtering)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "The dataset is empty.")


def _rows(iterable: Any) -> Any:
    yield from iterable


class Dataset:
    """A labelled text dataset (a ``datasets.Dataset``) with its text and label columns.

    Args:
        dataset: The rows: a ``datasets.Dataset`` (an ``IterableDataset`` is read once).
        text_col: The text column, or several (a tuple or list) to join with ``" [SEP] "``.
        label_col: The label column.
        is_regression: The labels are real-valued targets.
        metadata: What an ESM trained on it would record (``task_id``, ``task_split``, ...).

    Raises:
        EmptyDatasetError: no rows.
    """

    def __init__(
        self,
        dataset: Any,
        text_col: str | Sequence[str],
        label_col: str,
        is_regression: bool,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        datasets = import_extra("datasets", "Dataset")
        if isinstance(dataset, datasets.IterableDataset):
            dataset = datasets.Dataset.from_generator(
                partial(_rows, dataset), features=dataset.features
            )
        self.dataset = dataset
        self.text_col = text_col
        self.label_col = label_col
        self.is_regression = is_regression
        self.metadata = metadata
        self.dataset_len = len(dataset)
        if self.dataset_len == 0:
            raise EmptyDatasetError
        feature = dataset.features[label_col]
        dtype = str(getattr(feature, "dtype", ""))
        self.has_string_labels = dtype == "string"
        self.label_names: tuple[str, ...] | None = None
        self.class_label: Any = None
        if self.has_string_labels:
            self.label_names = tuple(sorted(set(dataset[label_col])))
            self.label_dim = len(self.label_names)
            self.class_label = datasets.ClassLabel(names=list(self.label_names))
        elif "float" in dtype:
            self.label_dim = 1
        else:
            classes = getattr(feature, "num_classes", None)
            self.label_dim = (
                int(classes) if classes is not None else int(np.max(dataset[label_col])) + 1
            )

    @classmethod
    def from_hugging_face(
        cls,
        name: str,
        split: str,
        text_col: str | list[str],
        label_col: str,
        is_regression: bool,
        subset: str | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        streaming: bool = False,
        trust_remote_code: bool | None = None,
    ) -> Dataset:
        """Load a Hub dataset (or a shipped task), keep its columns, sample it as hfselect.

        Args:
            name: Hub dataset id, or a task shipped with esm-registry (``wordnet/...``).
            split: The split.
            text_col: The text column, or a list of columns to join.
            label_col: The label column.
            is_regression: The labels are real-valued targets.
            subset: The dataset's subset (configuration).
            num_examples: Rows to sample (``shuffle(seed)``, then the first ones); ``None``:
                every row.
            seed: Seed of the shuffle.
            streaming: Stream the dataset and sample from a shuffle buffer.
            trust_remote_code: Passed to ``datasets.load_dataset`` when given.
        """
        datasets = import_extra("datasets", "Dataset.from_hugging_face")
        if is_packaged_task(name) and subset is None:
            dataset: Any = load_task(name, split)
            if streaming:
                dataset = dataset.to_iterable_dataset()
        else:
            options: dict[str, Any] = {"split": split, "streaming": streaming}
            if trust_remote_code is not None:
                options["trust_remote_code"] = trust_remote_code
            args = (name,) if subset is None else (name, subset)
            dataset = datasets.load_dataset(*args, **options)
        columns = [*text_col, label_col] if isinstance(text_col, list) else [text_col, label_col]
        dataset = dataset.select_columns(columns)
        if not is_regression:
            dataset = dataset.filter(lambda example: example[label_col] != -1)
        if num_examples is not None:
            if streaming:
                dataset = dataset.shuffle(seed=seed, buffer_size=STREAMING_BUFFER_SIZE)
                dataset = dataset.take(num_examples)
            else:
                num_examples = min(len(dataset), num_examples)
                dataset = dataset.shuffle(seed=seed).select(range(num_examples))
        metadata = {
            "task_id": name,
            "task_subset": subset,
            "text_column": text_col,
            "label_column": label_col,
            "task_split": split,
            "num_examples": num_examples,
            "seed": seed,
            "streamed": streaming,
        }
        return cls(dataset, text_col, label_col, is_regression, metadata=metadata)

    def __getitem__(self, idx: Any) -> Any:
        return self.dataset[idx]

    def __len__(self) -> int:
        return self.dataset_len

    # --- what the scorer reads ------------------------------------------------------------------

    def texts(self) -> list[str]:
        """One text per row; several text columns joined with ``" [SEP] "``."""
        if isinstance(self.text_col, (list, tuple)):
            return join_columns([self.dataset[column] for column in self.text_col])
        return [str(text) for text in self.dataset[self.text_col]]

    def labels(self) -> np.ndarray[Any, Any]:
        """The labels as hfselect encodes them: class numbers, or floats for regression."""
        values = self.dataset[self.label_col]
        if self.is_regression:
            return np.asarray(values, dtype=np.float64)
        if self.label_names is not None:
            index = {name: i for i, name in enumerate(self.label_names)}
            return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
        return np.asarray(values).astype(np.int64)

    def collate_fn(
        self,
        rows: list[dict[str, Any]],
        tokenizer: Any,
        max_length: int = 128,
        return_token_type_ids: bool = False,
    ) -> tuple[Any, ...]:
        """Tokenise a batch of rows as hfselect does (padded to ``max_length``).

        Returns:
            ``(input_ids, attention_mask, labels)``, with ``token_type_ids`` before the
            labels when asked for.
        """
        torch = import_extra("torch", "Dataset.collate_fn")
        if isinstance(self.text_col, (list, tuple)):
            texts = [TEXT_SEPARATOR.join(str(row[c]) for c in self.text_col) for row in rows]
        else:
            texts = [row[str(self.text_col)] for row in rows]
        labels = [row[self.label_col] for row in rows]
        if self.class_label is not None:
            labels = [self.class_label.str2int(label) for label in labels]
        tokenized = tokenizer(
            texts,
            padding="max_length",
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
            return_token_type_ids=return_token_type_ids,
        )
        out = [tokenized.data["input_ids"], tokenized.data["attention_mask"]]
        if return_token_type_ids:
            out.append(tokenized.data["token_type_ids"])
        return (*out, torch.tensor(labels))
