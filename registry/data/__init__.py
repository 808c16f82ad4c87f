"""Small text classification tasks shipped inside the package, for offline use.

The tasks are made from WordNet 3.0 glosses (see :mod:`registry.data.build_wordnet` and
``LICENSE-WordNet.txt``) so that training an ESM, ranking and the quickstart work on real
English text without downloading anything. Four are intermediate tasks; one,
``wordnet/noun-example-category``, is a target task whose sentences appear in none of them.

Every task has a ``text`` column, a string ``label`` column and a ``train`` split (the
target also has ``test``).

Example:
    >>> from registry import data
    >>> "wordnet/noun-supersense" in data.list_tasks()
    True
    >>> info = data.task_info("wordnet/noun-supersense")
    >>> info.text_column, info.label_column, info.language
    ('text', 'label', ('en',))
    >>> rows = data.load_records("wordnet/noun-supersense")
    >>> sorted(rows[0])
    ['label', 'text']
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import DatasetError

if TYPE_CHECKING:
    import datasets

__all__ = [
    "TaskInfo",
    "is_packaged_task",
    "list_tasks",
    "load_records",
    "load_task",
    "task_info",
]

logger = logging.getLogger(__name__)

_INDEX = "tasks.json"


@dataclass(frozen=True)
class TaskInfo:
    """What is known about one shipped task; recorded in the metadata of ESMs trained on it.

    Attributes:
        name: Task id, e.g. ``wordnet/noun-supersense`` (used as the ESM's ``task_id``).
        role: ``intermediate`` (ESMs are trained on it) or ``target`` (to rank for).
        description: What the texts and labels are.
        text_column: Name of the text column (``text``).
        label_column: Name of the label column (``label``; string labels).
        labels: The label names, in class-index order (as a ``ClassLabel`` would list them).
        splits: Split name -> number of examples.
        language: Language codes of the texts.
        license: Hub license id of the data (``other``: the WordNet 3.0 license).
        license_name: Name of that license.
        source: Where the texts come from.
    """

    name: str
    role: str
    description: str
    text_column: str
    label_column: str
    labels: tuple[str, ...]
    splits: Mapping[str, int]
    language: tuple[str, ...]
    license: str
    license_name: str
    source: str


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, tuple[TaskInfo, dict[str, Any]]]:
    text = resources.files(__name__).joinpath(_INDEX).read_text(encoding="utf-8")
    tasks: dict[str, tuple[TaskInfo, dict[str, Any]]] = {}
    for entry in json.loads(text)["tasks"]:
        info = TaskInfo(
            name=entry["name"],
            role=entry["role"],
            description=entry["description"],
            text_column=entry["text_column"],
            label_column=entry["label_column"],
            labels=tuple(entry["labels"]),
            splits={split: s["num_examples"] for split, s in entry["splits"].items()},
            language=tuple(entry["language"]),
            license=entry["license"],
            license_name=entry["license_name"],
            source=entry["source"],
        )
        tasks[info.name] = (info, entry["splits"])
    return tasks


def list_tasks(role: str | None = None) -> list[str]:
    """Names of the shipped tasks, optionally only those of one role.

    Args:
        role: ``"intermediate"`` or ``"target"``; ``None`` lists all.
    """
    return [name for name, (info, _) in _index().items() if role is None or info.role == role]


def is_packaged_task(name: str) -> bool:
    """Whether ``name`` is a task shipped in this package."""
    return name in _index()


def task_info(name: str) -> TaskInfo:
    """The description of one shipped task.

    Raises:
        DatasetError: no shipped task has this name.
    """
    try:
        return _index()[name][0]
    except KeyError:
        known = ", ".join(_index())
        raise DatasetError(f"no shipped task named {name!r}; shipped tasks: {known}") from None


def load_records(name: str, split: str = "train") -> list[dict[str, str]]:
    """The examples of one split as a list of ``{"text": ..., "label": ...}`` dicts.

    Needs nothing beyond the standard library; :func:`load_task` wraps it in a
    ``datasets.Dataset``. The file's SHA-256 is checked, so a damaged install is reported
    instead of silently training on broken data.

    Raises:
        DatasetError: unknown task or split, or a file that does not match its checksum.
    """
    info = task_info(name)
    splits = _index()[name][1]
    if split not in splits:
        raise DatasetError(
            f"task {name!r} has no split {split!r}; its splits: {', '.join(info.splits)}"
        )
    entry = splits[split]
    data = resources.files(__name__).joinpath(entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise DatasetError(
            f"{entry['file']} does not match its checksum in {_INDEX}; reinstall esm-registry"
        )
    rows = [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]
    logger.debug("loaded %d examples of %s (%s)", len(rows), name, split)
    return rows


def load_task(name: str, split: str = "train") -> datasets.Dataset:
    """One split of a shipped task as a ``datasets.Dataset`` with ``text`` and ``label``.

    The labels stay strings (as in many Hub datasets); their class order is
    :attr:`TaskInfo.labels`. The dataset's ``info`` carries the description and license.

    Raises:
        DatasetError: unknown task or split.
        ImportError: ``datasets`` is not installed (use :func:`load_records` instead).

    Example:
        >>> ds = load_task("wordnet/noun-example-category", split="test")
        >>> ds.column_names
        ['text', 'label']
    """
    try:
        import datasets  # noqa: PLC0415 - optional heavy dependency
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_task needs the 'datasets' package (pip install 'esm-registry[rank]'); "
            "load_records returns the same examples as plain dicts"
        ) from exc
    info = task_info(name)
    rows = load_records(name, split)
    features = datasets.Features(
        {info.text_column: datasets.Value("string"), info.label_column: datasets.Value("string")}
    )
    dataset_info = datasets.DatasetInfo(
        description=info.description, license=info.license_name, features=features
    )
    return datasets.Dataset.from_dict(
        {
            info.text_column: [row[info.text_column] for row in rows],
            info.label_column: [row[info.label_column] for row in rows],
        },
        features=features,
        info=dataset_info,
        split=datasets.NamedSplit(split),
    )
