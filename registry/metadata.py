"""ESM metadata: the one source of truth for every field of an ESM card and ``config.json``.

:class:`EsmMetadata` describes one Embedding Space Map: the base language model it maps,
the intermediate task it was trained on, the ESM architecture, the hyperparameters of both
training stages, evaluation figures and the free-text sections of its card.

Two serialisations exist and both are lossless:

* the nested model itself (``model_dump`` / ``model_validate``), used in metadata files
  (``metadata/examples/*.yaml``) and in the card's front matter;
* the flat ``config.json`` that ``hfselect`` writes and reads (:func:`from_config`,
  :func:`to_config`). Keys that are not metadata fields (``transformers_version`` and the
  like) are kept in :attr:`EsmMetadata.extra` and written back unchanged.

Example:
    >>> from registry.metadata import EsmMetadata
    >>> m = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> to_config(m)["task_id"]
    'stanfordnlp/imdb'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from huggingface_hub.utils import HFValidationError, validate_repo_id
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
)

from ._json import dump_json, load_json
from ._yaml import YAMLError, load_yaml
from .architectures import ARCHITECTURES
from .errors import MetadataError
from .paths import CONFIG_NAME

__all__ = [
    "BASE_MODEL_TAG_PREFIX",
    "CONFIG_FIELDS",
    "ESM_TAG",
    "EsmMetadata",
    "Evaluation",
    "Hyperparameters",
    "IntermediateTask",
    "MetadataShortcuts",
    "from_config",
    "load_metadata",
    "metadata_errors",
    "to_config",
]

DEFAULT_LICENSE = "apache-2.0"
#: The tag every ESM card carries; Hub listings find ESMs by it (a contract with hfselect).
ESM_TAG = "embedding_space_map"
#: Prefix of the card tag that names the base model: ``BaseLM:<base model id>``.
BASE_MODEL_TAG_PREFIX = "BaseLM:"

# Bounds: generous for any real ESM, small enough that no value can poison the catalog
# (SQLite holds 64-bit integers), blow up a card, or make a reader allocate gigabytes.
#: Largest embedding dimension (today's largest models have under 20,000).
MAX_EMBEDDING_DIM = 65_536
#: Most examples a task may claim (a trillion).
MAX_EXAMPLES = 10**12
#: Largest seed, epoch count and batch size.
MAX_SEED = 2**63 - 1
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 2**24
#: Largest learning rate, weight decay and MSE accepted.
MAX_RATE = 1e6
#: Longest single-line value and free-text section, in characters.
MAX_LINE_CHARS = 1_000
MAX_TEXT_CHARS = 50_000
#: Largest metadata or config.json file read.
MAX_METADATA_BYTES = 1_000_000
#: Largest ``extra`` mapping, as JSON text.
MAX_EXTRA_CHARS = 100_000

_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_LICENSE_RE = re.compile(r"[a-z0-9][a-z0-9.+\-]*")


# --- value types --------------------------------------------------------------------------


def _empty_to_none(value: Any) -> Any:
    """Blank strings mean "not given" (legacy cards render missing values as '')."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_encodable(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains characters that cannot be written as UTF-8") from None


def _not_bool(value: Any) -> Any:
    """``true`` is not a number, whatever Python's ``bool`` subclass of ``int`` says."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _single_line(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_LINE_CHARS:
        raise ValueError(f"is {len(value):,} characters long; at most {MAX_LINE_CHARS:,}")
    _check_encodable(value)
    printable = value.isprintable()  # fast path: no control or format characters at all
    if not printable and any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must be a single line of text without control characters")
    return value


def _free_text(value: str) -> str:
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"is {len(value):,} characters long; at most {MAX_TEXT_CHARS:,}")
    _check_encodable(value)
    bad = [ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in "\n\t"]
    if bad:
        raise ValueError(f"contains the control character {bad[0]!r}; remove it")
    return value


def _column_name(value: str) -> str:
    if "," in value:
        raise ValueError(
            f"column name {value!r} contains ','; cards list several text columns separated "
            "by commas, so a name with a comma cannot be written unambiguously"
        )
    return value


def _repo_id(value: str) -> str:
    try:
        validate_repo_id(value)
    except HFValidationError as exc:
        raise ValueError(
            f"{value!r} is not a Hub repo id; use 'name' or 'namespace/name' "
            "(letters, digits, '-', '_', '.'; at most 96 characters)"
        ) from exc
    return value


def _language(value: str) -> str:
    if value == "multilingual" or _LANGUAGE_RE.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a language code; use an ISO 639-1/639-3 code such as 'en' or "
        "'deu', optionally with a region ('pt-BR'), or 'multilingual'"
    )


def _license(value: str) -> str:
    if _LICENSE_RE.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a Hub license identifier; use a lowercase id such as "
        "'apache-2.0', 'mit', 'cc-by-4.0' or 'other'"
    )


def _architecture(value: str) -> str:
    if value in ARCHITECTURES:
        return value
    known = ", ".join(repr(a) for a in sorted(ARCHITECTURES))
    raise ValueError(f"unknown ESM architecture {value!r}; known architectures: {known}")


SingleLine = Annotated[str, AfterValidator(_single_line)]
OptionalLine = Annotated[SingleLine | None, BeforeValidator(_empty_to_none)]
FreeText = Annotated[
    str | None,
    BeforeValidator(_empty_to_none),
    AfterValidator(lambda v: None if v is None else _free_text(v)),
]
ColumnName = Annotated[SingleLine, AfterValidator(_column_name)]
RepoId = Annotated[str, AfterValidator(_single_line), AfterValidator(_repo_id)]
LanguageCode = Annotated[str, AfterValidator(_language)]
Dimension = Annotated[int, Field(gt=0, le=MAX_EMBEDDING_DIM), BeforeValidator(_not_bool)]
ExampleCount = Annotated[int, Field(gt=0, le=MAX_EXAMPLES), BeforeValidator(_not_bool)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_not_bool)]
EpochCount = Annotated[int, Field(gt=0, le=MAX_EPOCHS), BeforeValidator(_not_bool)]
BatchSize = Annotated[int, Field(gt=0, le=MAX_BATCH_SIZE), BeforeValidator(_not_bool)]
PositiveFloat = Annotated[
    float, Field(gt=0, le=MAX_RATE, allow_inf_nan=False), BeforeValidator(_not_bool)
]
NonNegativeFloat = Annotated[
    float, Field(ge=0, le=MAX_RATE, allow_inf_nan=False), BeforeValidator(_not_bool)
]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", validate_default=True)


# --- the models ---------------------------------------------------------------------------


class IntermediateTask(_Model):
    """The dataset the base model was fine-tuned on before the ESM was fitted."""

    task_id: RepoId = Field(description="Hub dataset id of the intermediate task.")
    subset: OptionalLine = Field(None, description="Dataset subset (configuration) name.")
    text_column: Annotated[
        ColumnName | Annotated[list[ColumnName], Field(min_length=1)] | None,
        BeforeValidator(_empty_to_none),
    ] = Field(
        None,
        description="Input text column, or several columns whose texts are joined.",
    )
    label_column: OptionalLine = Field(None, description="Label or target column.")
    split: OptionalLine = Field(None, description="Dataset split the examples come from.")
    num_examples: ExampleCount | None = Field(
        None, description="Number of examples sampled from the split."
    )
    seed: Seed | None = Field(None, description="Seed of the example sampling.")


class Hyperparameters(_Model):
    """Hyperparameters of one training stage (language model fine-tuning or ESM fitting)."""

    num_epochs: EpochCount | None = Field(None, description="Training epochs.")
    batch_size: BatchSize | None = Field(None, description="Training batch size.")
    learning_rate: PositiveFloat | None = Field(None, description="Peak learning rate (> 0).")
    weight_decay: NonNegativeFloat | None = Field(None, description="Weight decay (>= 0).")
    optimizer: OptionalLine = Field(None, description="Optimizer name, e.g. 'AdamW'.")


class Evaluation(_Model):
    """How well the fine-tuned language model and the ESM did."""

    esm_mse: NonNegativeFloat | None = Field(
        None, description="Mean squared error of the ESM on held-out embedding pairs."
    )
    lm: FreeText = Field(None, description="Evaluation of the fine-tuned language model.")
    details: FreeText = Field(None, description="Additional evaluation details.")


class EsmMetadata(_Model):
    """Everything that is known about one ESM; every card field maps to one attribute.

    Args:
        base_model: Hub id of the base language model whose embeddings the ESM maps.
        task: The intermediate task.
        language: Language codes of the intermediate task's texts.
        architecture: ESM architecture, a key of :data:`registry.architectures.ARCHITECTURES`.
        embedding_dim: Embedding dimension ``D`` of the base model (the ESM is ``D×D``).
        lm_training: Hyperparameters of fine-tuning the base model on the task.
        esm_training: Hyperparameters of fitting the ESM.
        developers: Who trained the ESM.
        version: ESM format version (``0.1.0`` is hfselect's legacy weight layout).
        license: Hub license identifier of the ESM.
        summary, description, training_details, additional_info: Free-text card sections.
        evaluation: Evaluation figures and texts.
        extra: Keys of ``config.json`` that are not metadata fields, kept verbatim.
    """

    base_model: RepoId = Field(description="Hub id of the base language model.")
    task: IntermediateTask
    language: list[LanguageCode] = Field(
        default_factory=list, description="Language codes of the task's texts."
    )
    architecture: Annotated[str, AfterValidator(_architecture)] = Field(
        "linear", description="ESM architecture."
    )
    embedding_dim: Dimension | None = Field(
        None, description="Embedding dimension D of the base model."
    )
    lm_training: Hyperparameters = Field(default_factory=Hyperparameters)
    esm_training: Hyperparameters = Field(default_factory=Hyperparameters)
    developers: OptionalLine = Field(None, description="Who trained the ESM.")
    version: OptionalLine = Field(None, description="ESM format version.")
    license: Annotated[str, AfterValidator(_license)] = Field(
        DEFAULT_LICENSE, description="Hub license identifier."
    )
    summary: FreeText = Field(None, description="One-paragraph summary of the ESM.")
    description: FreeText = Field(None, description="Longer description of the ESM.")
    training_details: FreeText = Field(None, description="Additional training details.")
    evaluation: Evaluation = Field(default_factory=Evaluation)
    additional_info: FreeText = Field(None, description="Additional information.")
    extra: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="config.json keys that are not metadata fields, kept verbatim.",
    )

    @field_validator("language")
    @classmethod
    def _unique_languages(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a language code twice")
        return value

    @field_validator("extra")
    @classmethod
    def _extra_is_not_a_field(cls, value: dict[str, Any]) -> dict[str, Any]:
        clashes = sorted(set(value) & set(CONFIG_FIELDS))
        if clashes:
            raise ValueError(
                f"holds {', '.join(clashes)}, which are metadata fields; set them directly"
            )
        try:  # standard JSON of a bounded size: what config.json can carry
            size = len(dump_json(value))
        except ValueError:
            raise ValueError("holds NaN or an infinite number, which JSON cannot carry") from None
        if size > MAX_EXTRA_CHARS:
            raise ValueError(f"is {size:,} characters as JSON; at most {MAX_EXTRA_CHARS:,}")
        return value

    @property
    def text_columns(self) -> list[str]:
        """The text column(s) as a list (empty when unknown)."""
        column = self.task.text_column
        if column is None:
            return []
        return [column] if isinstance(column, str) else list(column)

    @property
    def display_name(self) -> str:
        """``task_id`` plus the subset when there is one, e.g. ``kuroneko5943/amz20 (Dumbbell)``."""
        subset = self.task.subset
        return f"{self.task.task_id} ({subset})" if subset else self.task.task_id

    @property
    def tags(self) -> list[str]:
        """The Hub tags by which ESMs are found (a contract with hfselect)."""
        return [ESM_TAG, f"{BASE_MODEL_TAG_PREFIX}{self.base_model}"]


class MetadataShortcuts:
    """Read-only shortcuts to the most used fields, for objects that carry one ESM's
    :class:`EsmMetadata` as ``metadata`` (catalog entries, ranking rows)."""

    metadata: EsmMetadata

    @property
    def base_model(self) -> str:
        """Hub id of the base model the ESM maps."""
        return self.metadata.base_model

    @property
    def task_id(self) -> str:
        """Hub dataset id of the intermediate task."""
        return self.metadata.task.task_id

    @property
    def task_subset(self) -> str | None:
        """Subset of the intermediate task."""
        return self.metadata.task.subset

    @property
    def text_column(self) -> str | None:
        """Text column(s) of the task, comma-separated."""
        return ",".join(self.metadata.text_columns) or None

    @property
    def label_column(self) -> str | None:
        """Label column of the task."""
        return self.metadata.task.label_column

    @property
    def task_split(self) -> str | None:
        """Split the ESM's examples came from."""
        return self.metadata.task.split

    @property
    def num_examples(self) -> int | None:
        """Number of task examples the ESM was trained on."""
        return self.metadata.task.num_examples

    @property
    def architecture(self) -> str:
        """ESM architecture (``linear``)."""
        return self.metadata.architecture

    @property
    def embedding_dim(self) -> int | None:
        """Embedding dimension of the base model."""
        return self.metadata.embedding_dim

    @property
    def language(self) -> list[str]:
        """Language codes of the task's texts."""
        return list(self.metadata.language)

    @property
    def display_name(self) -> str:
        """``task_id (subset)``."""
        return self.metadata.display_name


# --- config.json ---------------------------------------------------------------------------

#: Flat ``config.json`` key -> path of the metadata attribute. The first block is what
#: hfselect writes and reads; the second holds the card fields hfselect's template reads
#: from the config under the same names.
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "base_model_name": ("base_model",),
    "task_id": ("task", "task_id"),
    "task_subset": ("task", "subset"),
    "text_column": ("task", "text_column"),
    "label_column": ("task", "label_column"),
    "task_split": ("task", "split"),
    "num_examples": ("task", "num_examples"),
    "seed": ("task", "seed"),
    "language": ("language",),
    "esm_architecture": ("architecture",),
    "esm_embedding_dim": ("embedding_dim",),
    "lm_num_epochs": ("lm_training", "num_epochs"),
    "lm_batch_size": ("lm_training", "batch_size"),
    "lm_learning_rate": ("lm_training", "learning_rate"),
    "lm_weight_decay": ("lm_training", "weight_decay"),
    "lm_optimizer": ("lm_training", "optimizer"),
    "esm_num_epochs": ("esm_training", "num_epochs"),
    "esm_batch_size": ("esm_training", "batch_size"),
    "esm_learning_rate": ("esm_training", "learning_rate"),
    "esm_weight_decay": ("esm_training", "weight_decay"),
    "esm_optimizer": ("esm_training", "optimizer"),
    "developers": ("developers",),
    "version": ("version",),
    # Card-only fields, written only when set.
    "license": ("license",),
    "model_summary": ("summary",),
    "model_description": ("description",),
    "training_details": ("training_details",),
    "evaluation_lm": ("evaluation", "lm"),
    "esm_mse": ("evaluation", "esm_mse"),
    "evaluation_details": ("evaluation", "details"),
    "additional_info": ("additional_info",),
}
_HFSELECT_KEYS = tuple(CONFIG_FIELDS)[: list(CONFIG_FIELDS).index("version") + 1]


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _get_path(source: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        source = getattr(source, key)
    return source


def config_to_nested(config: Mapping[str, Any]) -> dict[str, Any]:
    """Rearrange a flat ``config.json`` mapping into the nested metadata layout (unvalidated)."""
    nested: dict[str, Any] = {"extra": {}}
    for key, value in config.items():
        path = CONFIG_FIELDS.get(key)
        if path is None:
            nested["extra"][key] = value
            continue
        if key == "language":
            if value is None or value == "":
                value = []
            elif isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
        elif key == "text_column" and isinstance(value, tuple):
            value = list(value)
        if value is None and path[-1] in ("language",):
            continue
        _set_path(nested, path, value)
    nested.setdefault("task", {})
    return nested


def from_config(config: Mapping[str, Any]) -> EsmMetadata:
    """Read the flat ``config.json`` that hfselect (or this project) writes.

    Values are coerced leniently (``"701"`` becomes ``701``) because configs come from many
    writers; keys that are not metadata fields land in :attr:`EsmMetadata.extra`.

    Raises:
        MetadataError: a required field is missing or a value is invalid; the message
            lists each problem with its ``config.json`` key.
    """
    try:
        return EsmMetadata.model_validate(config_to_nested(config), strict=False)
    except ValidationError as exc:
        raise MetadataError(
            "config.json does not describe a valid ESM:", metadata_errors(exc, flat=True)
        ) from None


def to_config(metadata: EsmMetadata) -> dict[str, Any]:
    """Write the flat ``config.json`` mapping that hfselect reads.

    Every key hfselect knows is present (``null`` when unknown), as hfselect writes them;
    the card-only keys appear when set, then the :attr:`EsmMetadata.extra` keys unchanged.
    """
    config: dict[str, Any] = {}
    for key, path in CONFIG_FIELDS.items():
        value = _get_path(metadata, path)
        if key == "language":
            value = None if not value else value[0] if len(value) == 1 else list(value)
        elif isinstance(value, list):
            value = list(value)
        if value is None and key not in _HFSELECT_KEYS:
            continue
        config[key] = value
    for key, value in metadata.extra.items():
        config.setdefault(key, value)
    return config


_PATH_TO_CONFIG_KEY = {path: key for key, path in CONFIG_FIELDS.items()}


def metadata_errors(exc: ValidationError, *, flat: bool = False) -> list[str]:
    """Turn a pydantic ``ValidationError`` into one readable line per problem.

    Args:
        exc: The error raised by validating :class:`EsmMetadata`.
        flat: Name fields by their ``config.json`` key instead of their nested path.
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
        name = ".".join(loc) or "metadata"
        if flat:
            for size in range(len(loc), 0, -1):
                if loc[:size] in _PATH_TO_CONFIG_KEY:
                    name = _PATH_TO_CONFIG_KEY[loc[:size]]
                    break
        lines.append(f"{name}: {describe_error(error)}")
    return lines


def describe_error(error: Mapping[str, Any]) -> str:
    """A message for one pydantic error entry that says what to do."""
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field; check the spelling or move it under 'extra'"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message


def load_metadata(source: str | Path) -> EsmMetadata:
    """Load metadata from an ESM folder (its ``config.json``), a JSON or a YAML file.

    A file may hold the nested metadata layout (as in ``metadata/examples``) or the flat
    ``config.json`` layout; the latter is recognised by its ``base_model_name`` key.

    Raises:
        FileNotFoundError: ``source`` does not exist, or an ESM folder has no config.json.
        MetadataError: the file is not valid JSON/YAML or the metadata is invalid.
    """
    path = Path(source)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no such metadata file: {path}")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_METADATA_BYTES + 1)
        if len(raw) > MAX_METADATA_BYTES:
            raise ValueError(f"it is larger than {MAX_METADATA_BYTES:,} bytes")
        text = raw.decode("utf-8")
        is_yaml = path.suffix.lower() in (".yaml", ".yml")
        data = load_yaml(text) if is_yaml else load_json(text)
    except (OSError, UnicodeDecodeError, ValueError, YAMLError) as exc:
        raise MetadataError(f"{path} cannot be parsed: {exc}") from None
    if not isinstance(data, Mapping):
        raise MetadataError(f"{path} must hold a mapping of metadata fields")
    if "base_model_name" in data:
        return from_config(data)
    try:
        return EsmMetadata.model_validate(data, strict=False)
    except ValidationError as exc:
        raise MetadataError(f"{path} is not valid ESM metadata:", metadata_errors(exc)) from None
