"""The card format: sections, field lines and how each value is displayed.

The field labels and section headings are those of the cards already on the Hub (written
by hfselect's template), so that old and new cards parse with the same table. The template
in ``templates/`` writes these labels; :func:`display_values` computes what each field line
shows, and the validator compares a card's body with it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from ..metadata import EsmMetadata

__all__ = [
    "FIELD_LINES",
    "IDENTIFYING_FIELDS",
    "PLACEHOLDER",
    "FieldLine",
    "Section",
    "classify_heading",
    "display_values",
    "format_number",
    "is_placeholder",
]

PLACEHOLDER = "[More Information Needed]"
_PLACEHOLDER_RE = re.compile(r"\s*\[(?:More Information Needed|Unknown)\]", re.IGNORECASE)


class Section(str, Enum):
    """Where a line of the card body sits; decides which field a label belongs to."""

    TITLE = "title"
    DETAILS = "details"
    DESCRIPTION = "description"
    TASK = "task"
    LM_TRAINING = "lm_training"
    ESM_TRAINING = "esm_training"
    TRAINING_DETAILS = "training_details"
    EVALUATION_LM = "evaluation.lm"
    EVALUATION_ESM = "evaluation.esm"
    EVALUATION_DETAILS = "evaluation.details"
    ADDITIONAL_INFO = "additional_info"
    OTHER = "other"


#: Free-text sections and the metadata field each one holds.
FREE_TEXT_SECTIONS: dict[Section, str] = {
    Section.TITLE: "summary",
    Section.DESCRIPTION: "description",
    Section.TRAINING_DETAILS: "training_details",
    Section.EVALUATION_LM: "evaluation.lm",
    Section.EVALUATION_DETAILS: "evaluation.details",
    Section.ADDITIONAL_INFO: "additional_info",
}


@dataclass(frozen=True)
class FieldLine:
    """One ``- **Label:** value`` line: its section, label and metadata field."""

    section: Section
    label: str
    field: str | None  # None for lines that show a constant (Model type)


def _lines(section: Section, pairs: list[tuple[str, str | None]]) -> list[FieldLine]:
    return [FieldLine(section, label, field) for label, field in pairs]


_HYPERPARAMETERS = [
    ("Epochs", "num_epochs"),
    ("Batch size", "batch_size"),
    ("Learning rate", "learning_rate"),
    ("Weight Decay", "weight_decay"),
    ("Optimizer", "optimizer"),
]

FIELD_LINES: list[FieldLine] = [
    *_lines(
        Section.DETAILS,
        [
            ("Developed by", "developers"),
            ("Model type", None),
            ("Base Model", "base_model"),
            ("Intermediate Task", "task.task_id"),
            ("ESM architecture", "architecture"),
            ("ESM embedding dimension", "embedding_dim"),
            ("Language(s) (NLP)", "language"),
            ("License", "license"),
            ("ESM version", "version"),
        ],
    ),
    *_lines(
        Section.TASK,
        [
            ("Task ID", "task.task_id"),
            ("Subset [optional]", "task.subset"),
            ("Text Column", "task.text_column"),
            ("Label Column", "task.label_column"),
            ("Dataset Split", "task.split"),
            ("Sample size [optional]", "task.num_examples"),
            ("Sample seed [optional]", "task.seed"),
        ],
    ),
    *_lines(Section.LM_TRAINING, [(lbl, f"lm_training.{f}") for lbl, f in _HYPERPARAMETERS]),
    *_lines(Section.ESM_TRAINING, [(lbl, f"esm_training.{f}") for lbl, f in _HYPERPARAMETERS]),
    FieldLine(Section.EVALUATION_ESM, "MSE", "evaluation.esm_mse"),
]

#: Fields that say which ESM this is; ``--strict`` refuses placeholders on them.
IDENTIFYING_FIELDS = frozenset(
    {
        "base_model",
        "task.task_id",
        "architecture",
        "embedding_dim",
        "task.text_column",
        "task.label_column",
        "task.split",
    }
)


@functools.lru_cache(maxsize=1024)
def label_key(label: str) -> str:
    """Normalise a label for lookup: case, ``[optional]`` and stray colons do not matter."""
    label = label.replace("[optional]", "").strip().rstrip(":").strip()
    return re.sub(r"\s+", " ", label).lower()


FIELD_LINE_INDEX: dict[tuple[Section, str], FieldLine] = {
    (line.section, label_key(line.label)): line for line in FIELD_LINES
}

_HEADINGS: list[tuple[str, Section]] = [
    ("model description", Section.DESCRIPTION),
    ("model details", Section.OTHER),
    ("intermediate task", Section.TASK),
    ("language model training hyperparameters", Section.LM_TRAINING),
    ("esm training hyperparameters", Section.ESM_TRAINING),
    ("additional training details", Section.TRAINING_DETAILS),
    ("additional trainiung details", Section.TRAINING_DETAILS),  # the legacy template's typo
    ("evaluation of fine-tuned language model", Section.EVALUATION_LM),
    ("evaluation of esm", Section.EVALUATION_ESM),
    ("additional evaluation details", Section.EVALUATION_DETAILS),
    ("additional information", Section.ADDITIONAL_INFO),
]


@functools.lru_cache(maxsize=1024)
def classify_heading(level: int, text: str) -> Section:
    """The section that a heading opens."""
    key = label_key(text)
    if level == 1:
        return Section.TITLE
    for prefix, section in _HEADINGS:
        if key == prefix:
            return section
    return Section.OTHER


def is_placeholder(value: str) -> bool:
    """Whether a displayed value is a placeholder such as ``[More Information Needed]``."""
    return bool(_PLACEHOLDER_RE.match(value))


def format_number(value: float | int) -> str:
    """Shortest text that reads back as the same number (``2e-05``, ``0.001``, ``32``)."""
    return repr(value)


def _display(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else None
    if isinstance(value, bool):  # pragma: no cover - no boolean fields today
        return str(value).lower()
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def field_value(metadata: EsmMetadata, field: str) -> object:
    """The metadata value at a dotted field path such as ``task.subset``."""
    value: object = metadata
    for part in field.split("."):
        value = getattr(value, part)
    return value


def display_values(metadata: EsmMetadata) -> dict[str, str | None]:
    """What each field shows on the card, unescaped; ``None`` where the value is unknown."""
    return {
        line.field: _display(field_value(metadata, line.field))
        for line in FIELD_LINES
        if line.field is not None
    }
