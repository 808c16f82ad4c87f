"""``ESMConfig``: an ESM's flat ``config.json``, as hfselect 0.2.1 presents it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...esm import FORMAT_VERSION
from ...metadata import EsmMetadata, from_config, to_config

__all__ = ["CONFIG_KEYS", "ESMConfig", "InvalidESMConfigError"]

#: hfselect's config keys, in its order.
CONFIG_KEYS = (
    "base_model_name",
    "task_id",
    "task_subset",
    "text_column",
    "label_column",
    "task_split",
    "num_examples",
    "seed",
    "language",
    "esm_architecture",
    "esm_embedding_dim",
    "lm_num_epochs",
    "lm_batch_size",
    "lm_learning_rate",
    "lm_weight_decay",
    "lm_optimizer",
    "esm_num_epochs",
    "esm_batch_size",
    "esm_learning_rate",
    "esm_weight_decay",
    "esm_optimizer",
    "developers",
    "version",
)


class InvalidESMConfigError(ValueError):
    """The config names no base model or no task, so its ESM cannot be used."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or "the config is not a valid ESM config: it needs a task id and a base model"
        )


class ESMConfig(Mapping[str, Any]):
    """The metadata of one ESM: hfselect's keys as attributes, plus any extra keys.

    Also a read-only mapping (``config["task_id"]``, ``config.get("task_id")``), since
    hfselect hands out ``config.json`` as a dict in some places and as an ``ESMConfig`` in
    others. Extra keys (``transformers_version``, ...) are kept and written back.

    Example:
        >>> config = ESMConfig(base_model_name="bert-base-uncased", task_id="stanfordnlp/imdb")
        >>> config.is_valid, config.task_id, config.get("task_subset", "none")
        (True, 'stanfordnlp/imdb', None)
    """

    def __init__(
        self,
        base_model_name: str | None = None,
        task_id: str | None = None,
        task_subset: str | None = None,
        text_column: str | tuple[str, ...] | list[str] | None = None,
        label_column: str | None = None,
        task_split: str | None = None,
        num_examples: int | None = None,
        seed: int | None = None,
        language: str | list[str] | None = None,
        esm_architecture: str | None = None,
        esm_embedding_dim: int | None = None,
        lm_num_epochs: int | None = None,
        lm_batch_size: int | None = None,
        lm_learning_rate: float | None = None,
        lm_weight_decay: float | None = None,
        lm_optimizer: str | None = None,
        esm_num_epochs: int | None = None,
        esm_batch_size: int | None = None,
        esm_learning_rate: float | None = None,
        esm_weight_decay: float | None = None,
        esm_optimizer: str | None = None,
        developers: str | None = None,
        version: str | None = FORMAT_VERSION,
        **kwargs: Any,
    ) -> None:
        self.base_model_name = base_model_name
        self.task_id = task_id
        self.task_subset = task_subset
        self.text_column = text_column
        self.label_column = label_column
        self.task_split = task_split
        self.num_examples = num_examples
        self.seed = seed
        self.language = language
        self.esm_architecture = esm_architecture
        self.esm_embedding_dim = esm_embedding_dim
        self.lm_num_epochs = lm_num_epochs
        self.lm_batch_size = lm_batch_size
        self.lm_learning_rate = lm_learning_rate
        self.lm_weight_decay = lm_weight_decay
        self.lm_optimizer = lm_optimizer
        self.esm_num_epochs = esm_num_epochs
        self.esm_batch_size = esm_batch_size
        self.esm_learning_rate = esm_learning_rate
        self.esm_weight_decay = esm_weight_decay
        self.esm_optimizer = esm_optimizer
        self.developers = developers
        self.version = version
        # Kept apart from the attributes: keys come from strangers' config.json files.
        self.extra: dict[str, Any] = dict(kwargs)

    # --- hfselect's methods ---------------------------------------------------------------

    @property
    def is_valid(self) -> bool:
        """Whether the config names a base model and a task (an ESM needs both)."""
        return (
            isinstance(self.base_model_name, str)
            and bool(self.base_model_name)
            and isinstance(self.task_id, str)
            and bool(self.task_id)
        )

    def get(self, attr_name: str, default_return_val: Any = None) -> Any:
        """The value of a key (an hfselect key or an extra one), else the default."""
        if attr_name in CONFIG_KEYS:
            return getattr(self, attr_name)
        return self.extra.get(attr_name, default_return_val)

    def to_dict(self) -> dict[str, Any]:
        """The flat ``config.json`` mapping: hfselect's keys, then the extra ones."""
        data = {key: getattr(self, key) for key in CONFIG_KEYS}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    # --- conversions ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> ESMConfig:
        """From a ``config.json`` mapping (extra keys kept)."""
        known = {key: config[key] for key in CONFIG_KEYS if key in config}
        extra = {key: value for key, value in config.items() if key not in CONFIG_KEYS}
        config_object = cls(**known)
        config_object.extra.update(extra)
        return config_object

    @classmethod
    def from_metadata(cls, metadata: EsmMetadata) -> ESMConfig:
        """From esm-registry's metadata of an ESM."""
        return cls.from_dict(to_config(metadata))

    def to_metadata(self) -> EsmMetadata:
        """esm-registry's metadata of the ESM.

        Raises:
            MetadataError: the config does not describe a valid ESM.
        """
        return from_config(
            {key: value for key, value in self.to_dict().items() if value is not None}
        )

    # --- mapping protocol ---------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key in CONFIG_KEYS:
            return getattr(self, key)
        return self.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ESMConfig):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like hfselect's

    def __repr__(self) -> str:
        return (
            f"ESMConfig(task_id={self.task_id!r}, task_subset={self.task_subset!r}, "
            f"base_model_name={self.base_model_name!r})"
        )
