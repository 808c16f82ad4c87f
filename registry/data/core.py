"""Deterministic selection and writing of task files, shared by every source.

A source turns an installed Debian package into candidate ``(text, label)`` pairs; this
module decides which candidates become a task and how its files look, so that a rebuild on
another machine gives the same bytes:

* candidates are ordered by a SHA-256 of the task name and the text, not by ``random``
  (whose algorithms may change between Python versions);
* a text with two labels is dropped (it would contradict itself), and a text already
  *claimed* by an earlier task is never used again;
* labels are balanced by a cap per label, and no task has more than
  :data:`MAX_TRAIN_EXAMPLES` training examples, so the package stays small;
* gzip members carry no file name and no timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

__all__ = [
    "MAX_TRAIN_EXAMPLES",
    "MIN_WORDS",
    "Candidate",
    "Source",
    "TaskSpec",
    "clean",
    "first_sentence",
    "gzip_jsonl",
    "read_jsonl_gz",
    "select",
    "task_file_name",
    "text_key",
]

#: The cap on the training examples of any task.
MAX_TRAIN_EXAMPLES = 2000
#: Shorter texts (single words, fragments) carry no sentence and are skipped.
MIN_WORDS = 3

Candidate = tuple[str, str]  # (text, label)
R = TypeVar("R")


@dataclass(frozen=True)
class TaskSpec(Generic[R]):
    """How one task is drawn from what a source reads (of type ``R``).

    ``per_label`` caps the examples of each label (so classes are roughly balanced);
    labels with fewer than ``min_per_label`` candidates are dropped, and only the
    ``max_labels`` largest are kept. ``test_per_label`` examples of each label go to a
    ``test`` split before the ``train`` split is filled. ``max_words`` drops long texts.
    """

    name: str
    role: str  # "intermediate" or "target"
    description: str
    candidates: Callable[[R], Iterable[Candidate]]
    per_label: int
    min_per_label: int
    test_per_label: int = 0
    max_labels: int | None = None
    label_order: str = "alphabetical"  # or "size": largest label first
    max_words: int | None = None

    def cap(self) -> dict[str, int | None]:
        """The size limits, as recorded in ``tasks.json``."""
        return {
            "train_per_label": self.per_label,
            "test_per_label": self.test_per_label,
            "max_labels": self.max_labels,
            "max_words": self.max_words,
            "max_train_examples": MAX_TRAIN_EXAMPLES,
        }


@dataclass(frozen=True)
class Source(Generic[R]):
    """One Debian package and the tasks made from it.

    Attributes:
        name: Short id (``wordnet``); task names start with it.
        title: What the texts are, for people (``WordNet 3.0 (Princeton University)``).
        package: The Debian package to install for a rebuild.
        input_dir: Where the package puts the files read.
        input_files: The files read, relative to ``input_dir``; their SHA-256 identify
            the input.
        read: Parses the files under a folder into what the task specs take.
        tasks: In claiming order: a text taken by an earlier task is never used again,
            so targets come first.
        license, license_name, license_file: Hub license id, its name, and the notice
            shipped in ``registry/data``.
        shipped: Whether the task files ship inside the package; otherwise they are
            built on demand from the installed Debian package into the esm-registry home.
    """

    name: str
    title: str
    package: str
    input_dir: Path
    input_files: tuple[str, ...]
    read: Callable[[Path], R]
    tasks: tuple[TaskSpec[R], ...]
    license: str
    license_name: str
    license_file: str
    shipped: bool
    language: tuple[str, ...] = ("en",)


def clean(text: str) -> str:
    """Collapse runs of whitespace (line breaks included) to single spaces."""
    return " ".join(text.split())


_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]\"'\u201d][.!?])\s+(?=[A-Z\"(\u201c])")


def first_sentence(text: str) -> str:
    """The first sentence of a cleaned paragraph (dictionary senses run on for lines).

    A sentence ends at ``.``, ``!`` or ``?`` after a lower-case letter, digit or closing
    bracket and before a capital, so initials and abbreviations (``U.S.``, ``e.g.``)
    rarely cut one short.
    """
    text = clean(text)
    match = _SENTENCE_END.search(text)
    return text[: match.start()] if match else text


def text_key(text: str) -> str:
    """The form under which texts count as the same across tasks."""
    return clean(text).casefold()


def _rank(task: str, text: str) -> str:
    return hashlib.sha256(f"{task}\n{text}".encode()).hexdigest()


def select(
    spec: TaskSpec[R], candidates: Iterable[Candidate], claimed: set[str]
) -> tuple[list[str], dict[str, list[Candidate]]]:
    """Pick the examples of one task; returns its labels and examples per split.

    The chosen texts are added to ``claimed``; texts not chosen stay free for later tasks.
    """
    labels_of: dict[str, set[str]] = defaultdict(set)
    text_of: dict[str, str] = {}
    for text, label in candidates:
        text = clean(text)
        words = len(text.split())
        if words < MIN_WORDS or (spec.max_words is not None and words > spec.max_words):
            continue
        key = text_key(text)
        if key in claimed:
            continue
        labels_of[key].add(label)
        text_of.setdefault(key, text)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, labels in labels_of.items():
        if len(labels) == 1:  # a text with two labels would contradict itself
            by_label[next(iter(labels))].append(text_of[key])
    eligible = {lab: texts for lab, texts in by_label.items() if len(texts) >= spec.min_per_label}
    names = sorted(eligible, key=lambda lab: (-len(eligible[lab]), lab))
    if spec.max_labels is not None:
        names = names[: spec.max_labels]
    if spec.label_order == "alphabetical":
        names.sort()
    splits: dict[str, list[Candidate]] = {"train": []}
    if spec.test_per_label:
        splits["test"] = []
    for label in names:
        texts = sorted(eligible[label], key=lambda t: _rank(spec.name, t))
        if spec.test_per_label:
            splits["test"].extend((t, label) for t in texts[: spec.test_per_label])
            texts = texts[spec.test_per_label :]
        splits["train"].extend((t, label) for t in texts[: spec.per_label])
    if len(splits["train"]) > MAX_TRAIN_EXAMPLES:
        raise ValueError(
            f"{spec.name} would have {len(splits['train'])} training examples; "
            f"the cap is {MAX_TRAIN_EXAMPLES}: lower per_label or max_labels"
        )
    for split, rows in splits.items():
        rows.sort(key=lambda row: _rank(f"{spec.name}:{split}", row[0]))
        claimed.update(text_key(text) for text, _ in rows)
    return names, splits


def gzip_jsonl(rows: Sequence[Candidate]) -> bytes:
    """One ``{"text", "label"}`` object a line, gzipped with no name and mtime 0."""
    payload = "".join(
        json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
        for text, label in rows
    ).encode("utf-8")
    buffer = io.BytesIO()
    # No file name and mtime 0: the bytes depend on the content only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    return buffer.getvalue()


def read_jsonl_gz(data: bytes) -> list[dict[str, str]]:
    """The rows of a task file written by :func:`gzip_jsonl`."""
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def task_file_name(name: str, split: str) -> str:
    """Path of a task split's file relative to the data folder."""
    return f"{name}/{split}.jsonl.gz"
