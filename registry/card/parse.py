"""Parse ESM cards: the ones this project writes and the ones hfselect's template wrote.

Cards written here carry the complete metadata in the front matter (key ``esm_metadata``),
which makes parsing lossless. Older cards only have the field lines of the body; those are
read by label and section (see :mod:`registry.card._format`). Either way the body's field
lines and free-text sections are collected too, so the validator can compare them.

Nothing here raises for a bad card: every defect becomes a :class:`Problem` with a line.
"""

from __future__ import annotations

import ast
import functools
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from yaml import MappingNode, SequenceNode

from .._yaml import AliasError, YAMLError, compose_yaml, load_yaml
from ..metadata import EsmMetadata, describe_error
from ._format import (
    FIELD_LINE_INDEX,
    FREE_TEXT_SECTIONS,
    FieldLine,
    Section,
    classify_heading,
    is_placeholder,
    label_key,
)
from ._markdown import fence_marker, unescape_inline
from .render import CARD_METADATA_KEY

__all__ = [
    "MAX_CARD_BYTES",
    "BodyField",
    "ParsedCard",
    "Problem",
    "body_value",
    "parse_card",
    "read_card",
]

#: Cards larger than this are refused unread (a real card is a few kilobytes).
MAX_CARD_BYTES = 1_000_000

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One defect of a card.

    Args:
        message: What is wrong and, where possible, what to do.
        line: 1-based line in the card file, when the problem has a place.
        field: The metadata field (dotted path) or card-data key concerned.
        code: A stable identifier, e.g. ``missing-tag`` (see the README for the list).
        severity: ``error`` makes the card invalid; ``warning`` does not.
    """

    message: str
    line: int | None = None
    field: str | None = None
    code: str = "invalid"
    severity: Severity = "error"


@dataclass(frozen=True)
class BodyField:
    """A field line found in the body: the value as shown (unescaped) and where."""

    line_spec: FieldLine
    raw: str
    line: int

    @functools.cached_property
    def placeholder(self) -> bool:
        """Whether the line shows a placeholder (or nothing) instead of a value."""
        return not self.raw or is_placeholder(self.raw)


@dataclass
class ParsedCard:
    """What :func:`parse_card` found.

    Attributes:
        metadata: The ESM metadata, or ``None`` when the card does not yield valid metadata.
        front_matter: The YAML front matter when it parsed to a mapping.
        body_fields: Every recognised field line of the body, in order.
        texts: Free-text sections of the body: field -> (text, first line).
        problems: Everything that is wrong, with line numbers.
        source: ``front-matter`` when the metadata came from ``esm_metadata``, ``body``
            when it was read from the field lines (older cards), ``None`` when neither.
        field_lines: Metadata field -> the line that defines it (for error reports).
    """

    metadata: EsmMetadata | None = None
    front_matter: dict[str, Any] | None = None
    body_fields: list[BodyField] = field(default_factory=list)
    texts: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    source: Literal["front-matter", "body"] | None = None
    field_lines: dict[str, int] = field(default_factory=dict)
    front_matter_text: str = ""


# --- reading the file -----------------------------------------------------------------------


def read_card(path: str | Path) -> tuple[str | None, list[Problem]]:
    """Read a card file as text, refusing what is not a card.

    Only regular files are read (a device such as ``/dev/zero`` or a FIFO is refused
    without being opened, so nothing blocks), and at most :data:`MAX_CARD_BYTES` + 1 bytes
    are read whatever ``stat`` says; binary and non-UTF-8 files are problems too.
    """
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, [
                Problem(
                    "not a regular file (a folder, device, pipe or socket); cards are read "
                    "from regular files only",
                    code="not-a-file",
                )
            ]
        if info.st_size > MAX_CARD_BYTES:
            return None, [_too_large(info.st_size)]
        with path.open("rb") as handle:
            data = handle.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        return None, [Problem(f"cannot read file: {exc.strerror or exc}", code="unreadable")]
    return decode_card(data)


def _too_large(size: int | None) -> Problem:
    shown = f"{size:,} bytes" if size is not None else f"larger than {MAX_CARD_BYTES:,} bytes"
    return Problem(
        f"file is {shown}; cards larger than {MAX_CARD_BYTES:,} bytes are not read",
        code="too-large",
    )


def decode_card(data: bytes) -> tuple[str | None, list[Problem]]:
    """Decode card bytes as UTF-8 text; binary or undecodable data is a problem."""
    if len(data) > MAX_CARD_BYTES:
        return None, [_too_large(None)]
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return None, [Problem("file is binary (it contains NUL bytes)", line, code="binary")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                f"file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}); save it as UTF-8",
                line,
                code="not-utf8",
            )
        ]
    return text.removeprefix("\ufeff"), []


# --- value conversion -----------------------------------------------------------------------

_INT_FIELDS = {
    "embedding_dim",
    "task.num_examples",
    "task.seed",
    "lm_training.num_epochs",
    "lm_training.batch_size",
    "esm_training.num_epochs",
    "esm_training.batch_size",
}
_FLOAT_FIELDS = {
    "lm_training.learning_rate",
    "lm_training.weight_decay",
    "esm_training.learning_rate",
    "esm_training.weight_decay",
    "evaluation.esm_mse",
}


def body_value(field_name: str, raw: str) -> Any:
    """Convert a field line's displayed text to the metadata value it stands for.

    Raises:
        ValueError: the text cannot be that field's type (``"abc"`` as an epoch count).
    """
    if not raw or is_placeholder(raw):
        return [] if field_name == "language" else None
    if field_name in _INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            number = float(raw)  # "3.0" is still an integer count
            if not number.is_integer():
                raise ValueError(f"{raw!r} is not a whole number") from None
            return int(number)
    if field_name in _FLOAT_FIELDS:
        return float(raw)
    if field_name == "language":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if field_name == "license":
        return re.sub(r"\s+license$", "", raw.strip(), flags=re.IGNORECASE).lower()
    if field_name == "task.text_column":
        return _text_columns(raw)
    return raw


def _text_columns(raw: str) -> str | list[str]:
    """One column, or several: ``a, b`` (this project), ``a,b`` or ``('a', 'b')`` (hfselect)."""
    if raw[:1] in "([" and raw[-1:] in ")]":
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return list(value) if len(value) != 1 else value[0]
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    return parts[0] if len(parts) == 1 else parts


# --- the body -------------------------------------------------------------------------------

_HEADING = re.compile(r" {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FIELD = re.compile(r" {0,3}[-*+]\s+\*\*(?P<label>[^*]+?)(?P<c1>:?)\*\*(?P<c2>:?)\s*(?P<value>.*)$")
_MSE = re.compile(r" {0,3}MSE\s*:\s*(?P<value>.*)$")
_COMMENT_LINE = re.compile(r"\s*<!--.*-->\s*$")
# A line can only be structure if it starts with one of these (after indentation).
_MARKUP_STARTS = frozenset("#-*+`~<")


def _parse_body(lines: list[str], first_line: int, card: ParsedCard) -> None:
    section = Section.OTHER
    text_section: Section | None = None
    buffers: dict[Section, tuple[list[str], int]] = {}
    fence: str | None = None

    def add_text(line: str, number: int) -> None:
        if text_section is not None:
            buffers.setdefault(text_section, ([], number))[0].append(line)

    for offset, line in enumerate(lines):
        number = first_line + offset
        first = line.lstrip(" ")[:1]
        plain = first not in _MARKUP_STARTS and fence is None
        if plain and not (section is Section.EVALUATION_ESM and first == "M"):
            add_text(line, number)  # prose, most lines: no regex needed
            continue
        marker = fence_marker(line) if first in "`~" else None
        if fence is not None:
            if marker == fence:
                fence = None
            add_text(line, number)
            continue
        if marker is not None:
            fence = marker
            add_text(line, number)
            continue
        heading = _HEADING.match(line) if first == "#" else None
        if heading:
            section = classify_heading(len(heading.group(1)), heading.group(2))
            text_section = section if section in FREE_TEXT_SECTIONS else None
            continue
        field_match = _FIELD.match(line) if first in "-*+" else None
        if field_match and (field_match.group("c1") or field_match.group("c2")):
            spec = FIELD_LINE_INDEX.get((section, label_key(field_match.group("label"))))
            if spec is None and section is Section.DESCRIPTION:
                spec = FIELD_LINE_INDEX.get((Section.DETAILS, label_key(field_match["label"])))
            if spec is not None:
                raw = unescape_inline(field_match.group("value").strip())
                card.body_fields.append(BodyField(spec, raw, number))
                if section is Section.DESCRIPTION:
                    text_section = None  # the field list ends the description
                continue
        if first == "<" and _COMMENT_LINE.match(line):
            continue  # the template's guidance comments are not content
        if section is Section.EVALUATION_ESM:
            mse = _MSE.match(line)
            if mse:
                spec = FIELD_LINE_INDEX[(Section.EVALUATION_ESM, "mse")]
                raw = unescape_inline(mse.group("value").strip())
                card.body_fields.append(BodyField(spec, raw, number))
                continue
        add_text(line, number)

    for text_sec, (buffer, start) in buffers.items():
        text = "\n".join(buffer).strip("\n")
        if text.strip():
            card.texts[FREE_TEXT_SECTIONS[text_sec]] = (text, start)


def _metadata_from_body(card: ParsedCard) -> dict[str, Any]:
    """Assemble a nested metadata mapping from the body's field lines and the card data."""
    data: dict[str, Any] = {"task": {}}
    for body_field in card.body_fields:
        name = body_field.line_spec.field
        if name is None or name in card.field_lines:
            continue
        try:
            value = body_value(name, body_field.raw)
        except ValueError:
            card.problems.append(
                Problem(
                    f"{body_field.line_spec.label!r} shows {body_field.raw!r}, which is not a "
                    "valid value for this field",
                    body_field.line,
                    name,
                    code="schema",
                )
            )
            continue
        if value is None or value == []:
            continue
        card.field_lines[name] = body_field.line
        _set(data, name, value)
    for name, (text, line) in card.texts.items():
        card.field_lines.setdefault(name, line)
        _set(data, name, text)
    front = card.front_matter or {}
    # Machine-readable card data wins over the body for the fields the Hub indexes.
    if isinstance(front.get("base_model"), str):
        data["base_model"] = front["base_model"]
    if isinstance(front.get("license"), str):
        data["license"] = front["license"]
    language = front.get("language")
    if isinstance(language, str):
        data["language"] = [language]
    elif isinstance(language, list):
        data["language"] = language
    datasets = front.get("datasets")
    if "task_id" not in data["task"] and isinstance(datasets, list) and datasets:
        data["task"]["task_id"] = datasets[0]
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


# --- the front matter ----------------------------------------------------------------------


def _split_front_matter(lines: list[str]) -> tuple[int, int] | None:
    """Index of the opening and closing ``---`` lines, or ``None`` without front matter."""
    if not lines or lines[0].rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return 0, index
    return None


def _yaml_line(front_matter_text: str, loc: tuple[Any, ...], first_line: int) -> int | None:
    """The card line of the YAML node at ``loc`` (or of its closest existing parent)."""
    try:
        node: Any = compose_yaml(front_matter_text)
    except YAMLError:
        return None
    line = first_line
    for key in loc:
        if isinstance(node, MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
        else:
            break
        line = first_line + node.start_mark.line
    return line


def parse_card(text: str | bytes) -> ParsedCard:
    """Parse a card's text (or raw bytes) into metadata plus a list of problems.

    Example:
        >>> card = parse_card(open("metadata/examples/amz20-dumbbell.card.md").read())
        >>> card.metadata.task.subset if card.metadata else None
        'Dumbbell'
    """
    card = ParsedCard()
    if isinstance(text, bytes):
        decoded, problems = decode_card(text)
        if decoded is None:
            card.problems.extend(problems)
            return card
        text = decoded
    if not text.strip():
        card.problems.append(Problem("file is empty", 1, code="empty"))
        return card
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    bounds = _split_front_matter(lines)
    body_start = 0
    if bounds is None:
        card.problems.append(
            Problem(
                "card has no YAML front matter; it must start with a line '---', the card "
                "data, and another line '---'",
                1,
                code="no-front-matter",
            )
        )
    else:
        _, close = bounds
        body_start = close + 1
        card.front_matter_text = "\n".join(lines[1:close]) + "\n"
        _read_front_matter(card)
    _parse_body(lines[body_start:], body_start + 1, card)
    _build_metadata(card)
    return card


def _read_front_matter(card: ParsedCard) -> None:
    try:
        data = load_yaml(card.front_matter_text)
    except AliasError as exc:
        card.problems.append(Problem(f"front matter: {exc}", 2, code="yaml-alias"))
        return
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 2
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        card.problems.append(
            Problem(f"front matter is not valid YAML: {reason}", line, code="yaml-syntax")
        )
        return
    if data is None:
        data = {}
    if not isinstance(data, dict):
        card.problems.append(
            Problem(
                f"front matter must be a mapping of keys to values, not a {type(data).__name__}",
                2,
                code="front-matter-not-mapping",
            )
        )
        return
    card.front_matter = data


def _build_metadata(card: ParsedCard) -> None:
    front = card.front_matter or {}
    embedded = front.get(CARD_METADATA_KEY)
    if embedded is not None and not isinstance(embedded, Mapping):
        card.problems.append(
            Problem(
                f"'{CARD_METADATA_KEY}' must be a mapping of metadata fields",
                _yaml_line(card.front_matter_text, (CARD_METADATA_KEY,), 2),
                CARD_METADATA_KEY,
                code="schema",
            )
        )
        return
    if embedded is not None:
        card.source = "front-matter"
        data: Mapping[str, Any] = embedded
    else:
        card.source = "body"
        data = _metadata_from_body(card)
    try:
        card.metadata = EsmMetadata.model_validate(data, strict=False)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            name = ".".join(str(p) for p in loc if not isinstance(p, int)) or None
            if card.source == "front-matter":
                line = _yaml_line(card.front_matter_text, (CARD_METADATA_KEY, *loc), 2)
                where = f"{CARD_METADATA_KEY}.{name}" if name else CARD_METADATA_KEY
            else:
                line = card.field_lines.get(name or "")
                where = name or "metadata"
            card.problems.append(
                Problem(f"{where}: {describe_error(error)}", line, name, code="schema")
            )
        card.source = None if card.metadata is None else card.source
