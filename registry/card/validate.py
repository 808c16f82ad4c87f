"""Validate ESM cards: schema, card data and tags, body against front matter, config.json.

:func:`validate_card` never raises for a bad card; it returns a :class:`CardReport` whose
problems carry line numbers, so CI can annotate the exact line of a pull request.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._json import load_json_file
from ..errors import MetadataError
from ..metadata import (
    BASE_MODEL_TAG_PREFIX,
    CONFIG_FIELDS,
    ESM_TAG,
    EsmMetadata,
    from_config,
    to_config,
)
from ..paths import CONFIG_NAME, README_NAME
from ._format import FIELD_LINES, IDENTIFYING_FIELDS, field_value
from ._markdown import neutralize_block
from .parse import ParsedCard, Problem, body_value, parse_card, read_card
from .render import CARD_METADATA_KEY, tidy_markdown

__all__ = [
    "ROOT_CAUSES",
    "CardReport",
    "esm_card_evidence",
    "find_cards",
    "validate_card",
    "validate_cards",
    "validate_text",
]

logger = logging.getLogger(__name__)

CARD_FILENAME = README_NAME
CARD_SUFFIX = ".card.md"  # cards kept outside an ESM folder, e.g. examples
# Below this many cards, starting worker processes costs more than it saves.
_PARALLEL_THRESHOLD = 500
#: Problems that leave nothing else to check; reported alone.
ROOT_CAUSES = frozenset(
    {
        "empty",
        "binary",
        "not-utf8",
        "too-large",
        "no-front-matter",
        "yaml-syntax",
        "yaml-alias",
        "front-matter-not-mapping",
    }
)
#: Keys of hfselect's config.json that mark an ESM's config.
_ESM_CONFIG_KEYS = frozenset(
    {"base_model_name", "task_id", "esm_architecture", "esm_embedding_dim"}
)
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


@dataclass
class CardReport:
    """The outcome of validating one card.

    Attributes:
        path: The card file (``None`` when text was validated directly).
        problems: Errors and warnings, the root cause first, then by line.
        metadata: The parsed metadata, when the card yields valid metadata.
        skipped: Why the file was not validated (a README.md found by a directory scan
            that is not an ESM card), else ``None``.
    """

    path: Path | None
    problems: list[Problem] = field(default_factory=list)
    metadata: EsmMetadata | None = None
    skipped: str | None = None

    @property
    def valid(self) -> bool:
        """True when no problem is an error (warnings do not invalidate a card)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, as printed by ``esm-registry card validate --format json``."""
        return {
            "path": None if self.path is None else str(self.path),
            "valid": self.valid,
            "skipped": self.skipped,
            "problems": [
                {
                    "severity": p.severity,
                    "code": p.code,
                    "line": p.line,
                    "field": p.field,
                    "message": p.message,
                }
                for p in self.problems
            ],
        }


def find_cards(path: Path, *, exclude: Sequence[str] = ()) -> Iterator[Path]:
    """The card files under ``path``: itself if it is not a folder, else every ``README.md``
    and ``*.card.md`` below.

    Version-control and virtualenv folders are skipped, and so is every path (relative to
    ``path``, with ``/`` separators) that matches one of the ``exclude`` globs (``fnmatch``:
    ``*`` also matches ``/``). Symbolic links are not followed out of the tree: linked
    folders are never entered, and a linked file counts only when it lies inside ``path``.
    """
    if not path.is_dir():
        yield path
        return
    root = path.resolve()
    yield from _walk(path, root, "", tuple(exclude))


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


def _walk(folder: Path, root: Path, prefix: str, exclude: tuple[str, ...]) -> Iterator[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        logger.warning("cannot list %s: %s", folder, exc.strerror or exc)
        return
    for child in children:
        relative = f"{prefix}{child.name}"
        if _excluded(relative, exclude):
            continue
        if child.is_symlink():
            if child.name == CARD_FILENAME or child.name.endswith(CARD_SUFFIX):
                target = child.resolve()
                if target.is_relative_to(root) and target.is_file():
                    yield child
                else:
                    logger.info("not following %s: it links out of %s", child, root)
            continue
        if child.is_dir():
            if child.name not in _SKIP_DIRS:
                yield from _walk(child, root, f"{relative}/", exclude)
        elif child.name == CARD_FILENAME or child.name.endswith(CARD_SUFFIX):
            yield child


def esm_card_evidence(card: ParsedCard, config_path: Path | None) -> str | None:
    """What makes a file an ESM card, or ``None`` when nothing does.

    Evidence is the ``embedding_space_map`` tag, the ``esm_metadata`` key, field lines of
    the ESM card format in the body, or an ESM ``config.json`` beside the card.
    """
    front = card.front_matter or {}
    tags = front.get("tags")
    if isinstance(tags, list) and ESM_TAG in tags:
        return f"tag {ESM_TAG}"
    if CARD_METADATA_KEY in front:
        return CARD_METADATA_KEY
    named = {b.line_spec.field for b in card.body_fields if b.line_spec.field}
    if {"base_model", "task.task_id"} <= named:
        return "ESM field lines"
    if config_path is not None and _is_esm_config(config_path):
        return f"an ESM {CONFIG_NAME}"
    return None


def _is_esm_config(path: Path) -> bool:
    try:
        config = load_json_file(path)
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(_ESM_CONFIG_KEYS & set(config))


def validate_card(
    path: str | Path,
    *,
    strict: bool = False,
    check_config: bool = True,
    only_esm_cards: bool = False,
) -> CardReport:
    """Validate one card file, and the ``config.json`` beside it when there is one.

    Args:
        path: The card (usually ``README.md`` in an ESM folder).
        strict: Placeholders on fields that identify the ESM are errors, not warnings.
        check_config: Compare the card with a sibling ``config.json`` when present.
        only_esm_cards: Skip (report as skipped, valid) a ``README.md`` that shows no sign
            of being an ESM card (see :func:`esm_card_evidence`); for directory scans,
            where a repository's own README is not an ESM card.

    Example:
        >>> report = validate_card("metadata/examples/amz20-dumbbell.card.md")
        >>> report.valid
        True
    """
    path = Path(path)
    text, problems = read_card(path)
    if text is None:
        return CardReport(path, problems)
    beside = path.parent / CONFIG_NAME
    beside_exists = beside.is_file()
    if only_esm_cards and path.name == CARD_FILENAME:
        card = parse_card(text)
        if esm_card_evidence(card, beside if beside_exists else None) is None:
            return CardReport(
                path,
                skipped=f"not an ESM card (no {ESM_TAG} tag, no {CARD_METADATA_KEY}, no ESM "
                f"field lines, no ESM {CONFIG_NAME} beside it)",
            )
    config_path = beside if check_config and beside_exists else None
    report = validate_text(text, strict=strict, config_path=config_path)
    report.path = path
    return report


def validate_cards(
    paths: Sequence[Path],
    *,
    strict: bool = False,
    check_config: bool = True,
    only_esm_cards: bool = False,
    jobs: int | None = None,
) -> list[CardReport]:
    """Validate many cards, in parallel processes when there are enough to pay for them.

    Args:
        paths: Card files.
        strict: As for :func:`validate_card`.
        check_config: As for :func:`validate_card`.
        only_esm_cards: As for :func:`validate_card`.
        jobs: Worker processes; ``None`` uses every CPU, ``1`` stays in this process.

    Returns:
        One report per path, in the order of ``paths``.
    """
    work = functools.partial(
        validate_card, strict=strict, check_config=check_config, only_esm_cards=only_esm_cards
    )
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(paths) < _PARALLEL_THRESHOLD:
        return [work(path) for path in paths]
    chunk = max(1, min(256, len(paths) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(work, paths, chunksize=chunk))


def validate_text(
    text: str | bytes, *, strict: bool = False, config_path: Path | None = None
) -> CardReport:
    """Validate card text; see :func:`validate_card`."""
    card = parse_card(text)
    root = [p for p in card.problems if p.code in ROOT_CAUSES]
    if root:  # no card data to check: follow-on errors would only hide the cause
        return CardReport(None, root[:1], None)
    problems = list(card.problems)
    if card.front_matter is not None:
        problems.extend(_check_card_data(card, strict=strict))
    if card.metadata is not None:
        problems.extend(_check_body(card, strict=strict))
        if config_path is not None:
            problems.extend(_check_config(card, config_path, strict=strict))
    problems.sort(key=lambda p: (p.line or 0, p.severity != "error"))
    return CardReport(None, problems, card.metadata)


# --- individual checks ------------------------------------------------------------------------


def _key_line(card: ParsedCard, key: str) -> int | None:
    for offset, line in enumerate(card.front_matter_text.split("\n")):
        if line.startswith(f"{key}:"):
            return 2 + offset
    return 2


def _check_card_data(card: ParsedCard, *, strict: bool) -> Iterator[Problem]:
    front = card.front_matter or {}
    meta = card.metadata
    tags = front.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        yield Problem(
            "card data needs 'tags', a list that holds 'embedding_space_map' and "
            "'BaseLM:<base model>'",
            _key_line(card, "tags"),
            "tags",
            code="missing-tag",
        )
        tags = []
    if ESM_TAG not in tags:
        yield Problem(
            "tag 'embedding_space_map' is missing; ESMs are found on the Hub by this tag",
            _key_line(card, "tags"),
            "tags",
            code="missing-tag",
        )
    for key in ("base_model", "datasets", "license"):
        if key not in front:
            yield Problem(
                f"card data lacks '{key}'; the Hub indexes ESMs by it",
                2,
                key,
                code="missing-card-data",
            )
    if meta is None:
        return
    base_tag = f"{BASE_MODEL_TAG_PREFIX}{meta.base_model}"
    if base_tag not in tags:
        stale = [t for t in tags if t.startswith(BASE_MODEL_TAG_PREFIX)]
        hint = f" (found {', '.join(stale)})" if stale else ""
        yield Problem(
            f"tag '{base_tag}' is missing{hint}; hfselect finds ESMs by it",
            _key_line(card, "tags"),
            "tags",
            code="missing-tag",
        )
    if "base_model" in front and front["base_model"] != meta.base_model:
        yield _mismatch(card, "base_model", front["base_model"], meta.base_model)
    datasets = front.get("datasets")
    if "datasets" in front and (
        not isinstance(datasets, list) or meta.task.task_id not in datasets
    ):
        yield _mismatch(card, "datasets", datasets, [meta.task.task_id])
    if "license" in front and front["license"] != meta.license:
        yield _mismatch(card, "license", front["license"], meta.license)
    language = front.get("language")
    if language is None and meta.language and card.source == "body":
        # hfselect's template never writes it; the Hub then cannot filter by language.
        yield Problem(
            "card data lacks 'language'; the Hub cannot filter this ESM by language "
            "(`esm-registry refresh-cards` adds it)",
            _key_line(card, "language"),
            "language",
            code="missing-card-data",
            severity="error" if strict else "warning",
        )
    elif language is not None or meta.language:
        shown = [language] if isinstance(language, str) else language
        if shown != meta.language:
            yield _mismatch(card, "language", language, meta.language or None)


def _mismatch(card: ParsedCard, key: str, found: object, expected: object) -> Problem:
    origin = f"'{CARD_METADATA_KEY}'" if card.source == "front-matter" else "the card body"
    return Problem(
        f"card data '{key}' is {found!r} but {origin} says {expected!r}",
        _key_line(card, key),
        key,
        code="card-data-mismatch",
    )


def _same(found: Any, expected: Any) -> bool:
    if isinstance(found, float) or isinstance(expected, float):
        try:
            return math.isclose(float(found), float(expected), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return bool(found == expected)


def _check_body(card: ParsedCard, *, strict: bool) -> Iterator[Problem]:
    meta = card.metadata
    assert meta is not None
    seen: set[str] = set()
    for body_field in card.body_fields:
        name = body_field.line_spec.field
        if name is None:
            continue
        seen.add(name)
        expected = field_value(meta, name)
        if body_field.placeholder:
            if name in IDENTIFYING_FIELDS:
                yield Problem(
                    f"{body_field.line_spec.label!r} is not filled in "
                    f"({body_field.raw or 'empty'}); it identifies the ESM",
                    body_field.line,
                    name,
                    code="placeholder",
                    severity="error" if strict else "warning",
                )
            if expected not in (None, []):
                yield Problem(
                    f"{body_field.line_spec.label!r} is empty in the body but the metadata "
                    f"says {expected!r}",
                    body_field.line,
                    name,
                    code="body-mismatch",
                )
            continue
        try:
            found = body_value(name, body_field.raw)
        except ValueError:
            continue  # reported by the parser
        if not _same(found, expected):
            yield Problem(
                f"{body_field.line_spec.label!r} shows {body_field.raw!r} but the metadata "
                f"says {expected!r}",
                body_field.line,
                name,
                code="body-mismatch",
            )
    for spec in FIELD_LINES:
        if spec.field is None or spec.field in seen:
            continue
        seen.add(spec.field)
        yield Problem(
            f"the body has no '{spec.label}' line",
            None,
            spec.field,
            code="missing-field-line",
            severity="error" if spec.field in IDENTIFYING_FIELDS and strict else "warning",
        )
    if card.source == "front-matter":
        yield from _check_texts(card, meta)


def _normalise_text(text: str) -> str:
    return tidy_markdown(text).strip()


def _check_texts(card: ParsedCard, meta: EsmMetadata) -> Iterator[Problem]:
    for name in (
        "summary",
        "description",
        "training_details",
        "evaluation.lm",
        "evaluation.details",
        "additional_info",
    ):
        value = field_value(meta, name)
        expected = "" if value is None else _normalise_text(neutralize_block(str(value)))
        found, line = card.texts.get(name, ("", None))
        if _normalise_text(found) != expected:
            yield Problem(
                f"the body's {name.replace('.', ' ').replace('_', ' ')} text differs from "
                f"'{CARD_METADATA_KEY}.{name}'; edit both or re-render the card",
                line,
                name,
                code="body-mismatch",
                severity="warning",
            )


def _check_config(card: ParsedCard, config_path: Path, *, strict: bool) -> Iterator[Problem]:
    meta = card.metadata
    assert meta is not None
    try:
        config = load_json_file(config_path)
        if not isinstance(config, dict):
            raise ValueError("it is not a JSON object")
        from_config_meta = from_config(config)
    except (OSError, ValueError) as exc:
        detail = str(exc) if isinstance(exc, MetadataError) else f"cannot be read: {exc}"
        yield Problem(
            f"{CONFIG_NAME} next to the card {detail}", None, CONFIG_NAME, code="config-invalid"
        )
        return
    card_config = to_config(meta)
    config_values = to_config(from_config_meta)
    for key in config:
        path = CONFIG_FIELDS.get(key)
        if path is None:
            continue
        found, expected = config_values.get(key), card_config.get(key)
        if _same(expected, found):
            continue
        name = ".".join(path)
        line = next((b.line for b in card.body_fields if b.line_spec.field == name), None)
        if expected in (None, []) and card.source == "body":
            # An older card that does not show a value its config has: silent, not wrong.
            yield Problem(
                f"the card does not show {key} ({CONFIG_NAME} says {found!r}); "
                "`esm-registry refresh-cards` fills it in",
                line,
                name,
                code="config-mismatch",
                severity="error" if strict else "warning",
            )
            continue
        yield Problem(
            f"the card says {key} = {expected!r} but {CONFIG_NAME} says {found!r}",
            line,
            name,
            code="config-mismatch",
        )
