"""The SPEC files of ``rank-batch`` and ``train-batch``: Pydantic models over safe YAML.

A ranking spec lists ``targets``; every other top-level key is an option of ``rank``
(its Python keyword: ``registry``, ``catalog``, ``num_examples``, ``pooling``,
``architecture``, …) shared by all targets, and a target may set any of them again::

    registry: hub
    catalog: catalog.sqlite
    base_model: google-bert/bert-base-uncased
    num_examples: 1000
    targets:
      - name: reviews
        dataset: data/reviews.csv
        text_column: review
        label_column: stars
      - name: imdb
        dataset: stanfordnlp/imdb
        split: test
        num_examples: 500

A training spec lists ``tasks``, each with the options of ``esm-registry train`` (flag
names with ``_`` for ``-``: ``fine_tuned_model``, ``lm_epochs``, ``ridge``, …); top-level
keys are shared by all tasks::

    base_model: sentence-transformers/all-MiniLM-L6-v2
    fine_tune: true
    lm_max_steps: 200
    tasks:
      - task: wordnet/noun-supersense
      - task: wordnet/verb-supersense
        num_examples: 500

Relative paths in a spec are read from the spec's folder. Errors name the file, the line
and the key (``spec.yaml, line 7: targets[1].num_examples: …``) and raise
:class:`SpecError`, a :class:`~registry.errors.UsageError`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from .._yaml import YAMLError, compose_yaml, load_yaml
from ..embedding.options import EmbeddingOptions
from ..errors import UsageError
from ..metadata import Hyperparameters
from ..ranker.options import route_options
from ..train.config import DEFAULT_EMBEDDING_BATCH_SIZE, EsmTrainingConfig, LMTrainingConfig
from .results import inputs_key, train_inputs
from .tasks import StoreSpec, TargetJob, TrainJob

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "RankOptions",
    "RankSpec",
    "RankTargetSpec",
    "SpecError",
    "TrainOptions",
    "TrainSpec",
    "TrainTaskSpec",
    "load_rank_spec",
    "load_train_spec",
]

#: ESMs per shard unless the spec or ``--shard-size`` says otherwise.
DEFAULT_SHARD_SIZE = 64
_MAX_SPEC_BYTES = 10 * 1024 * 1024
_MAX_ITEMS = 100_000
_FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".gz", ".txt")


class SpecError(UsageError):
    """A spec file that cannot be used; the message names the file, line and key."""


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true/false")
    return value


_Text = Annotated[str, Field(min_length=1, max_length=4096)]
_Columns = _Text | Annotated[list[_Text], Field(min_length=1, max_length=100)]
_Count = Annotated[int, Field(ge=1, le=1 << 31)]
_Natural = Annotated[int, Field(ge=0, lt=1 << 63)]
# PyYAML reads ``5e-5`` as text (YAML 1.1 wants ``5.0e-5``): numbers may come as text.
_Positive = Annotated[
    float, Field(strict=False, gt=0, allow_inf_nan=False), BeforeValidator(_not_bool)
]
_NonNegative = Annotated[
    float, Field(strict=False, ge=0, allow_inf_nan=False), BeforeValidator(_not_bool)
]
_Fraction = Annotated[
    float, Field(strict=False, ge=0, lt=1, allow_inf_nan=False), BeforeValidator(_not_bool)
]
_Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


@dataclass(frozen=True)
class _Origin:
    """Where a spec came from, to point at lines in error messages."""

    file: str
    folder: Path
    node: yaml.Node | None

    @classmethod
    def unknown(cls) -> _Origin:
        return cls("spec", Path.cwd(), None)

    def line(self, loc: Sequence[str | int]) -> tuple[int | None, list[str | int]]:
        """The line of the deepest node on ``loc``, and the part of ``loc`` that was found."""
        node = self.node
        line = None if node is None else node.start_mark.line + 1
        found: list[str | int] = []
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = next((kv for kv in node.value if kv[0].value == part), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
            found.append(part)
        return line, found

    def where(self, loc: Sequence[str | int]) -> str:
        line, _ = self.line(loc)
        return self.file if line is None else f"{self.file}, line {line}"


class _Spec(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# --- ranking ---------------------------------------------------------------------------------


class RankOptions(_Spec):
    """The options of ``rank`` a spec may set, at the top (shared) or per target.

    The names are the keywords of :func:`registry.ranker.rank`: the fields of
    :class:`~registry.ranker.options.TargetOptions`,
    :class:`~registry.embedding.EmbeddingOptions`,
    :class:`~registry.ranker.options.ScoringOptions` and
    :class:`~registry.filters.SearchFilters`, plus ``base_model``, ``registry``,
    ``catalog``, ``esms`` and ``shard_size`` (ESMs per task).
    """

    base_model: _Text | None = None
    registry: _Text | None = None
    catalog: _Text | None = None
    esms: Annotated[list[_Text], Field(min_length=1, max_length=_MAX_ITEMS)] | None = None
    shard_size: _Count | None = None
    # TargetOptions
    text_column: _Columns | None = None
    label_column: _Columns | None = None
    regression: bool | None = None
    num_examples: _Count | None = None
    seed: _Natural | None = None
    subset: _Text | None = None
    split: _Text | None = None
    # EmbeddingOptions
    batch_size: _Count | None = None
    max_length: _Count | None = None
    pooling: _Text | None = None
    device: _Text | None = None
    model_path: _Text | None = None
    cache: bool | _Text | None = None
    # ScoringOptions
    jobs: _Count | None = None
    chunk_size: _Count | None = None
    backend: _Text | None = None
    dtype: _Text | None = None
    threads: _Count | None = None
    rank_correction: bool | None = None
    # SearchFilters (the base model is base_model)
    architecture: _Text | None = None
    embedding_dim: _Count | None = None
    task_id: _Text | None = None
    language: _Text | None = None
    min_examples: _Natural | None = None
    text: _Text | None = None
    has_problems: bool | None = None


class RankTargetSpec(RankOptions):
    """One target: its name (``<name>.json``), its data, and options of its own."""

    name: _Name
    dataset: _Text


class RankSpec(RankOptions):
    """A ``rank-batch`` spec: shared options and the targets."""

    targets: Annotated[list[RankTargetSpec], Field(min_length=1, max_length=_MAX_ITEMS)]
    _origin: _Origin | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_names(self) -> RankSpec:
        _check_unique([t.name for t in self.targets], "target")
        return self

    def to_jobs(
        self,
        *,
        registry: str | None = None,
        catalog: str | None = None,
        token: str | None = None,
        shard_size: int | None = None,
    ) -> list[TargetJob]:
        """One :class:`~registry.batch.tasks.TargetJob` per target, every option resolved.

        Args:
            registry: Replaces the spec's top-level ``registry`` (a target's own wins).
            catalog: Replaces the spec's top-level ``catalog`` (a target's own wins).
            token: Hub token for the workers (default: theirs).
            shard_size: Replaces every ``shard_size`` of the spec.

        Raises:
            SpecError: an option value that the ranker refuses, or no base model.
        """
        origin = self._origin or _Origin.unknown()
        folder = origin.folder
        shared = {
            key: _resolve_rank_value(folder, key, value)
            for key, value in self.model_dump(exclude_unset=True, exclude={"targets"}).items()
        }
        if registry is not None:  # given on the command line: relative to where it runs
            shared["registry"] = _registry_path(Path.cwd(), registry)
        if catalog is not None:
            shared["catalog"] = str(_path(Path.cwd(), catalog))
        jobs = []
        for index, target in enumerate(self.targets):
            own = target.model_dump(exclude_unset=True)
            values = {**shared, **{k: _resolve_rank_value(folder, k, v) for k, v in own.items()}}
            where = f"{origin.where(('targets', index))}: target {target.name!r}"
            name, dataset = values.pop("name"), values.pop("dataset")
            base_model = values.pop("base_model", None)
            if base_model is None:
                raise SpecError(f"{where}: no base_model (set it on the target or at the top)")
            store = StoreSpec(values.pop("registry", None), token=token)
            catalog_file = values.pop("catalog", None)
            esms = values.pop("esms", None)
            size = values.pop("shard_size", None)
            size = shard_size or size or DEFAULT_SHARD_SIZE
            try:
                groups = route_options(**values)
            except (UsageError, TypeError) as exc:
                raise SpecError(f"{where}: {exc}") from None
            jobs.append(
                TargetJob(
                    name=name,
                    dataset=dataset,
                    base_model=base_model,
                    groups=groups,
                    store=store,
                    catalog=catalog_file,
                    esms=None if esms is None else tuple(esms),
                    shard_size=size,
                )
            )
        return jobs


# --- training --------------------------------------------------------------------------------


class TrainOptions(_Spec):
    """The options of ``esm-registry train`` a spec may set, at the top or per task.

    Each is the flag without its dashes, ``-`` written ``_`` (``--lm-epochs`` is
    ``lm_epochs``, ``--no-cache`` is ``cache: false``); ``--output`` has no key: the ESMs
    go to ``--output-dir`` and/or the registry.
    """

    base_model: _Text | None = None
    base_model_id: _Text | None = None
    fine_tuned_model: _Text | None = None
    fine_tune: bool | None = None
    task: _Text | None = None
    file: _Text | None = None
    task_id: _Text | None = None
    subset: _Text | None = None
    split: _Text | None = None
    text_column: _Columns | None = None
    label_column: _Text | None = None
    num_examples: _Count | None = None
    seed: _Natural | None = None
    language: _Columns | None = None
    lm_epochs: _Count | None = None
    lm_batch_size: _Count | None = None
    lm_learning_rate: _Positive | None = None
    lm_weight_decay: _NonNegative | None = None
    lm_max_steps: _Count | None = None
    lm_optimizer: _Text | None = None
    method: Literal["lstsq", "adamw"] | None = None
    ridge: _NonNegative | None = None
    epochs: _Count | None = None
    batch_size: _Count | None = None
    learning_rate: _Positive | None = None
    weight_decay: _NonNegative | None = None
    validation_fraction: _Fraction | None = None
    embedding_batch_size: _Count | None = None
    max_length: _Count | None = None
    pooling: _Text | None = None
    device: _Text | None = None
    cache: bool | None = None
    developers: _Text | None = None
    license: _Text | None = None


class TrainTaskSpec(TrainOptions):
    """One intermediate task; ``name`` defaults to its task id (``/`` written ``__``)."""

    name: _Name | None = None
    repo_id: _Text | None = None
    save_fine_tuned: _Text | None = None


class TrainSpec(TrainOptions):
    """A ``train-batch`` spec: shared options and the tasks."""

    tasks: Annotated[list[TrainTaskSpec], Field(min_length=1, max_length=_MAX_ITEMS)]
    _origin: _Origin | None = PrivateAttr(default=None)

    def to_jobs(self) -> list[TrainJob]:
        """One :class:`~registry.batch.tasks.TrainJob` per task, with its inputs key.

        Raises:
            SpecError: a task whose options ``train`` would refuse.
        """
        origin = self._origin or _Origin.unknown()
        shared = self.model_dump(exclude_unset=True, exclude={"tasks"})
        jobs = []
        for index, task in enumerate(self.tasks):
            values = {**shared, **task.model_dump(exclude_unset=True)}
            where = origin.where(("tasks", index))
            try:
                job = _train_job(values, origin.folder)
            except SpecError as exc:
                raise SpecError(f"{where}: {exc}") from None
            except (UsageError, ValueError) as exc:
                raise SpecError(f"{where}: {' '.join(str(exc).split())}") from None
            jobs.append(job)
        _check_unique([job.name for job in jobs], "task")
        return jobs


def _columns(value: str | Sequence[str] | None) -> list[str] | None:
    """``a,b`` or ``[a, b]``, as the ``--text-column``/``--language`` flags take them."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    parts = [part.strip() for item in items for part in item.split(",") if part.strip()]
    return parts or None


def _task_name(task_id: str, subset: str | None) -> str:
    text = task_id.replace("/", "__") + (f"_{subset}" if subset else "")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return text[:100] or "task"


def _train_job(values: dict[str, Any], folder: Path) -> TrainJob:
    """A job from merged options, checked as ``esm-registry train`` checks its flags."""
    fine_tune = bool(values.get("fine_tune"))
    tuned = values.get("fine_tuned_model")
    if fine_tune == (tuned is not None):
        raise SpecError("give exactly one of fine_tuned_model and fine_tune: true")
    task, file = values.get("task"), values.get("file")
    if (task is None) == (file is None):
        raise SpecError("give exactly one of task (a shipped task or Hub dataset id) and file")
    if file is not None and values.get("task_id") is None:
        raise SpecError("a file has no Hub id: set task_id to say which dataset it is")
    if values.get("base_model") is None:
        raise SpecError("no base_model (set it on the task or at the top)")
    if fine_tune and values.get("lm_optimizer") is not None:
        raise SpecError("lm_optimizer records a given model's optimizer; fine_tune uses AdamW")
    if tuned is not None and values.get("lm_max_steps") is not None:
        raise SpecError("lm_max_steps limits fine_tune; it does not apply to a given model")
    method: Literal["lstsq", "adamw"] = values.get("method") or "lstsq"
    if method == "adamw" and values.get("ridge"):
        raise SpecError("ridge applies to method lstsq")
    esm_values = {
        "num_epochs": values.get("epochs"),
        "batch_size": values.get("batch_size"),
        "learning_rate": values.get("learning_rate"),
        "weight_decay": values.get("weight_decay"),
    }
    esm_given = {k: v for k, v in esm_values.items() if v is not None}
    if method == "lstsq" and esm_given:
        raise SpecError(
            "epochs, batch_size, learning_rate and weight_decay configure method adamw; "
            "lstsq is closed-form (use ridge to regularise)"
        )
    lm_values = {
        "num_epochs": values.get("lm_epochs"),
        "batch_size": values.get("lm_batch_size"),
        "learning_rate": values.get("lm_learning_rate"),
        "weight_decay": values.get("lm_weight_decay"),
    }
    lm_given = {k: v for k, v in lm_values.items() if v is not None}
    lm_config = lm_training = None
    if fine_tune:
        if values.get("lm_max_steps") is not None:
            lm_given["max_steps"] = values["lm_max_steps"]
        lm_config = LMTrainingConfig(**lm_given)
    elif lm_given or values.get("lm_optimizer"):
        lm_training = Hyperparameters(**lm_given, optimizer=values.get("lm_optimizer"))
    esm_config = EsmTrainingConfig(
        method=method,
        ridge=values.get("ridge") or 0.0,
        validation_fraction=values.get("validation_fraction", 0.1),
        **esm_given,
    )
    embedding_values = {
        "batch_size": values.get("embedding_batch_size", DEFAULT_EMBEDDING_BATCH_SIZE),
        "max_length": values.get("max_length"),
        "pooling": values.get("pooling"),
        "device": values.get("device"),
        "cache": values.get("cache"),
    }
    embedding = EmbeddingOptions(**{k: v for k, v in embedding_values.items() if v is not None})
    columns = _columns(values.get("text_column"))
    language = _columns(values.get("language"))
    source = str(_path(folder, file)) if file is not None else _local_or_id(folder, str(task))
    name = values.get("name") or _task_name(
        values.get("task_id") or task or "", values.get("subset")
    )
    save_fine_tuned = values.get("save_fine_tuned")
    job = TrainJob(
        name=name,
        source=source,
        base_model=_local_or_id(folder, values["base_model"]),
        fine_tune=fine_tune,
        fine_tuned_model=None if tuned is None else _local_or_id(folder, tuned),
        base_model_id=values.get("base_model_id"),
        task_id=values.get("task_id"),
        subset=values.get("subset"),
        split=values.get("split"),
        text_column=columns[0] if columns and len(columns) == 1 else _tuple(columns),
        label_column=values.get("label_column"),
        num_examples=values.get("num_examples"),
        seed=values.get("seed", 42),
        language=_tuple(language),
        lm_config=lm_config,
        lm_training=lm_training,
        esm_config=esm_config,
        embedding=embedding,
        save_fine_tuned=None if save_fine_tuned is None else str(_path(folder, save_fine_tuned)),
        developers=values.get("developers"),
        license=values.get("license") or "apache-2.0",
        repo_id=values.get("repo_id"),
    )
    return _keyed(job)


def _keyed(job: TrainJob) -> TrainJob:
    return replace(job, key=inputs_key(train_inputs(job)))


def _tuple(items: list[str] | None) -> tuple[str, ...] | None:
    return None if items is None else tuple(items)


# --- paths -------------------------------------------------------------------------------------


def _path(folder: Path, value: str) -> Path:
    """A path named in the spec: relative ones are read from the spec's folder."""
    return folder / Path(value).expanduser()


def _explicitly_local(value: str) -> bool:
    return value.startswith((".", "~", "/")) or (os.sep != "/" and os.sep in value)


def _local_or_id(folder: Path, value: str) -> str:
    """A local file or folder when it is one (or clearly means one), else a Hub id or name."""
    if _explicitly_local(value) or (folder / value).exists():
        return str(_path(folder, value))
    return value


def _registry_path(folder: Path, value: str) -> str:
    if value == "hub" or "://" in value:
        return value
    return str(_path(folder, value))


def _resolve_rank_value(folder: Path, key: str, value: Any) -> Any:
    if not isinstance(value, str | list):
        return value
    if key == "dataset" and isinstance(value, str):
        if value.lower().endswith(_FILE_SUFFIXES):
            return str(_path(folder, value))
        return _local_or_id(folder, value)
    if key == "registry" and isinstance(value, str):
        return _registry_path(folder, value)
    if key in ("catalog", "model_path", "cache") and isinstance(value, str):
        return str(_path(folder, value))
    if key == "esms" and isinstance(value, list):
        return [_local_or_id(folder, item) for item in value]
    return value


def _check_unique(names: Sequence[str], what: str) -> None:
    """Names differ, ignoring case: results are files named after them."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.get(name.casefold())
        if other is not None:
            both = repr(name) if other == name else f"{other!r} and {name!r}"
            raise SpecError(f"two {what}s are named {both}; give each its own name")
        seen[name.casefold()] = name


# --- loading and error reports ------------------------------------------------------------------


def _dotted(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _report(exc: ValidationError, origin: _Origin, fields: Sequence[str]) -> SpecError:
    lines: list[str] = []
    seen: set[str] = set()
    for error in exc.errors():
        loc = [p for p in error["loc"] if isinstance(p, str | int)]
        line, found = origin.line(loc)
        key = _dotted(found) or "(top)"
        if key in seen:
            continue  # a union reports every member; the first says enough
        seen.add(key)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            unknown = str(loc[-1]) if loc else "?"
            close = difflib.get_close_matches(unknown.replace("-", "_"), fields, n=1)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
        where = origin.file if line is None else f"{origin.file}, line {line}"
        lines.append(f"{where}: {key}: {message}")
    shown = lines[:5] + ([f"… and {len(lines) - 5} more"] if len(lines) > 5 else [])
    return SpecError("\n".join(shown))


def _read(path: str | os.PathLike[str]) -> tuple[Mapping[str, Any], _Origin]:
    file = Path(path)
    try:
        if file.stat().st_size > _MAX_SPEC_BYTES:
            raise SpecError(f"{file}: larger than {_MAX_SPEC_BYTES // (1024 * 1024)} MB")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {file}: {exc}") from None
    try:
        data = load_yaml(text)
        node = compose_yaml(text)
    except (YAMLError, ValueError) as exc:
        raise SpecError(f"{file}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError(f"{file}: a spec is a mapping of keys, not {kind}")
    return data, _Origin(str(file), file.resolve().parent, node)


_SpecT = TypeVar("_SpecT", RankSpec, TrainSpec)


def load_rank_spec(path: str | os.PathLike[str]) -> RankSpec:
    """Read and validate a ``rank-batch`` spec.

    Raises:
        SpecError: unreadable, not YAML, or not a valid spec (the message says where).
    """
    return _load(path, RankSpec, RankTargetSpec)


def load_train_spec(path: str | os.PathLike[str]) -> TrainSpec:
    """Read and validate a ``train-batch`` spec.

    Raises:
        SpecError: unreadable, not YAML, or not a valid spec (the message says where).
    """
    return _load(path, TrainSpec, TrainTaskSpec)


def _load(path: str | os.PathLike[str], kind: type[_SpecT], item: type[BaseModel]) -> _SpecT:
    """A spec of ``kind``, validated; ``item``'s keys are the ones an error may suggest."""
    data, origin = _read(path)
    try:
        spec = kind.model_validate(data)
    except ValidationError as exc:
        raise _report(exc, origin, sorted(item.model_fields)) from None
    spec._origin = origin
    return spec
