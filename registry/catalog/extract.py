"""Turn one registry repo into catalog metadata, or say why it cannot be indexed.

ESMs on the Hub come from many writers and hfselect versions, so reading is lenient:

* ``config.json`` is the source (it is what hfselect loads). Values that fail validation
  are dropped, the rest is kept, and every drop becomes an :class:`EntryProblem`; so do a
  legacy format (hfselect 0.1.0) and missing identifying fields.
* Without ``config.json`` the card is read instead (``README.md``: front matter and the
  field lines of hfselect's template), and the entry records ``no-config``.
* A repo is *unusable* (reported, not indexed) when it names no valid base model or
  task id, or when its ``config.json`` is not a JSON object.

Store failures are not unusability: a repo that could not be read is *failed* and is
read again by the next sync. An unreachable store or refused credentials abort the sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from .._json import load_json_file
from ..aliases import tag_base_models
from ..card import parse_card
from ..card.parse import MAX_CARD_BYTES
from ..card.render import CARD_METADATA_KEY
from ..errors import RepoNotFoundError, StoreAuthError, StoreUnavailableError
from ..metadata import MAX_METADATA_BYTES, EsmMetadata, config_to_nested, metadata_errors
from ..paths import CONFIG_NAME, README_NAME
from ..stores.base import RegistryStore, RepoInfo
from .entries import EntryProblem

__all__ = [
    "Draft",
    "Failed",
    "Outcome",
    "Unusable",
    "metadata_from_card",
    "metadata_from_config",
    "read_repo",
]

LEGACY_VERSION = "0.1.0"

#: Identifying config keys whose absence is worth a problem, and what it means.
_WATCHED = {
    "esm_embedding_dim": "the embedding dimension is unknown until the weights are read",
    "esm_architecture": "'linear' is assumed",
    "text_column": "the task's text column is unknown",
    "label_column": "the task's label column is unknown",
    "task_split": "the task's split is unknown",
}
_MAX_SHOWN = 80
_MAX_REASON = 300


@dataclass(frozen=True)
class Draft:
    """A repo that can be indexed; the writer adds the canonical base model."""

    repo: RepoInfo
    metadata: EsmMetadata
    problems: tuple[EntryProblem, ...]
    source: Literal["config.json", "card"]
    base_model_ids: tuple[str, ...]


@dataclass(frozen=True)
class Unusable:
    """A repo that cannot be indexed, and why."""

    repo: RepoInfo
    reason: str


@dataclass(frozen=True)
class Failed:
    """A repo the store failed to deliver (read again by the next sync)."""

    repo: RepoInfo
    error: str


Outcome = Draft | Unusable | Failed


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _pop(nested: dict[str, Any], loc: tuple[Any, ...]) -> tuple[tuple[str, ...], Any] | None:
    """Remove the deepest mapping key on ``loc`` from ``nested``; (path, value) or None."""
    target: Any = nested
    path: list[str] = []
    for part in loc:
        if not isinstance(target, dict) or not isinstance(part, str) or part not in target:
            break
        path.append(part)
        if not isinstance(target[part], dict):
            break
        target = target[part]
    if not path:
        return None
    parent: Any = nested
    for part in path[:-1]:
        parent = parent[part]
    return tuple(path), parent.pop(path[-1])


def _identifying(path: tuple[str, ...]) -> bool:
    return path[:1] == ("base_model",) or path[:2] == ("task", "task_id") or path == ("task",)


def lenient_metadata(
    nested: dict[str, Any], *, flat: bool
) -> tuple[EsmMetadata | None, list[EntryProblem], str | None]:
    """Validate nested metadata, dropping invalid fields until the rest validates.

    Returns:
        (metadata, problems, None), or (None, problems, reason) when the base model or
        task id is missing or invalid.
    """
    problems: list[EntryProblem] = []
    for _ in range(64):  # each round drops at least one field; metadata has fewer
        try:
            return EsmMetadata.model_validate(nested, strict=False), problems, None
        except ValidationError as exc:
            messages = metadata_errors(exc, flat=flat)
            errors = exc.errors(include_url=False)
            for error, message in zip(errors, messages, strict=True):
                loc = tuple(error["loc"])
                field = message.split(":", 1)[0]
                if _identifying(tuple(str(p) for p in loc if isinstance(p, str))):
                    return None, problems, message
                popped = _pop(nested, loc)
                if popped is None:
                    if error.get("type") == "missing":
                        continue  # reported by the error of the field that is present
                    return None, problems, message
                path, value = popped
                if _identifying(path):
                    return None, problems, message
                problems.append(
                    EntryProblem(
                        code="invalid-field",
                        field=field,
                        message=f"{message}; the value {_shown(value)} was ignored",
                    )
                )
                break  # validate again: other errors may have been about this field
            else:
                return None, problems, "; ".join(messages)
    return None, problems, "metadata could not be repaired"  # pragma: no cover


def metadata_from_config(
    config: Mapping[str, Any],
) -> tuple[EsmMetadata, list[EntryProblem]] | str:
    """Metadata from a ``config.json`` mapping, with problems; or why it is unusable."""
    cleaned = {key: value for key, value in config.items() if not _blank(value)}
    if "base_model_name" not in cleaned:
        return "config.json names no base model (base_model_name)"
    if "task_id" not in cleaned:
        return "config.json names no intermediate task (task_id)"
    metadata, problems, reason = lenient_metadata(config_to_nested(cleaned), flat=True)
    if metadata is None:
        return f"config.json: {reason}"
    reported = {problem.field for problem in problems}
    for key, meaning in _WATCHED.items():
        if key not in cleaned and key not in reported:
            message = f"{key} is missing: {meaning}"
            problems.append(EntryProblem(code="missing-field", field=key, message=message))
    if metadata.version == LEGACY_VERSION:
        problems.insert(
            0,
            EntryProblem(
                code="legacy-format",
                field="version",
                message="hfselect 0.1.0 format (weights named sequential.0.*); hfselect "
                "converts it when loading, `esm-registry publish` rewrites it",
            ),
        )
    return metadata, problems


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _card_candidate(front: Mapping[str, Any]) -> dict[str, Any]:
    """Nested metadata from a card's front matter: the embedded copy, else the Hub fields."""
    embedded = front.get(CARD_METADATA_KEY)
    if isinstance(embedded, dict):
        return dict(embedded)
    nested: dict[str, Any] = {"task": {}}
    base_model = _first(front.get("base_model"))
    if isinstance(base_model, str):
        nested["base_model"] = base_model
    task_id = _first(front.get("datasets"))
    if isinstance(task_id, str):
        nested["task"]["task_id"] = task_id
    language = front.get("language")
    if isinstance(language, str):
        nested["language"] = [language]
    elif isinstance(language, list):
        nested["language"] = language
    if isinstance(front.get("license"), str):
        nested["license"] = front["license"]
    return nested


def metadata_from_card(
    readme: bytes | None, card_data: Mapping[str, Any]
) -> tuple[EsmMetadata, list[EntryProblem]] | str:
    """Metadata from the card when there is no ``config.json``; or why it is unusable.

    Args:
        readme: The card's bytes, ``None`` when the repo has no README.md.
        card_data: The front matter as the store's listing reported it (used without a card).
    """
    problems = [
        EntryProblem(
            code="no-config",
            field=CONFIG_NAME,
            message="the repo has no config.json (hfselect cannot load it); the metadata "
            "was read from its card",
        )
    ]
    front: Mapping[str, Any] = card_data
    if readme is not None:
        card = parse_card(readme)
        if card.metadata is not None:
            problems += [
                EntryProblem(code="card", field=p.field, message=f"card: {p.message}")
                for p in card.problems
                if p.severity == "error"
            ]
            return card.metadata, problems
        front = card.front_matter or card_data
    candidate = _card_candidate(front)
    if "base_model" not in candidate or not candidate.get("task", {}).get("task_id"):
        return "the repo has no config.json, and its card names no base model and task"
    metadata, more, reason = lenient_metadata(candidate, flat=False)
    if metadata is None:
        return f"the repo has no config.json, and its card is not usable: {reason}"
    return metadata, problems + more


def _read_bounded(path: Path) -> bytes:
    """A card's bytes, at most one more than a card may have (the parser refuses larger)."""
    with path.open("rb") as handle:
        return handle.read(MAX_CARD_BYTES + 1)


def _base_model_ids(repo: RepoInfo, metadata: EsmMetadata) -> tuple[str, ...]:
    ids = [metadata.base_model]
    card_base = repo.card_data.get("base_model")
    for value in card_base if isinstance(card_base, list) else [card_base]:
        if isinstance(value, str):
            ids.append(value)
    ids += tag_base_models(repo.tags)
    return tuple(dict.fromkeys(ids))


def read_repo(store: RegistryStore, repo: RepoInfo) -> Outcome:
    """Read one listed repo at its listed commit (``config.json``, else the card).

    Whatever the repo holds, the outcome is a draft, an unusable repo with the reason, or
    a failed read: one bad repo never stops the sync of the others.

    Raises:
        StoreUnavailableError, StoreAuthError: the store cannot be used at all; the
            sync stops rather than failing every remaining repo the same way.
    """
    try:
        return _read_repo(store, repo)
    except (StoreUnavailableError, StoreAuthError):
        raise
    except OSError as exc:
        return Failed(repo, _one_line(str(exc) or type(exc).__name__))
    except Exception as exc:  # a stranger's repo: record it, never abort the sync
        return Unusable(repo, _one_line(f"cannot be indexed: {type(exc).__name__}: {exc}"))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _read_repo(store: RegistryStore, repo: RepoInfo) -> Outcome:
    try:
        path = store.local_path(repo.repo_id, CONFIG_NAME, revision=repo.sha)
    except RepoNotFoundError:
        return _read_card(store, repo)
    try:
        config = load_json_file(path, max_bytes=MAX_METADATA_BYTES)
    except ValueError as exc:
        return Unusable(repo, _one_line(f"config.json is not usable: {exc}"))
    if not isinstance(config, dict):
        return Unusable(repo, f"config.json holds a JSON {type(config).__name__}, not an object")
    result = metadata_from_config(config)
    if isinstance(result, str):
        return Unusable(repo, result)
    metadata, problems = result
    return Draft(repo, metadata, tuple(problems), "config.json", _base_model_ids(repo, metadata))


def _read_card(store: RegistryStore, repo: RepoInfo) -> Outcome:
    try:
        readme: bytes | None = _read_bounded(
            store.local_path(repo.repo_id, README_NAME, revision=repo.sha)
        )
    except RepoNotFoundError:
        readme = None
    result = metadata_from_card(readme, repo.card_data)
    if isinstance(result, str):
        return Unusable(repo, result)
    metadata, problems = result
    return Draft(repo, metadata, tuple(problems), "card", _base_model_ids(repo, metadata))
