"""esm-registry: publish, validate, catalog and rank Embedding Space Maps (ESMs).

Example:
    >>> from registry import EsmMetadata, render_card, validate_text
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> validate_text(render_card(meta)).valid
    True
"""

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

from ._version import __version__
from .architectures import ARCHITECTURES, Architecture
from .card import CardReport, ParsedCard, Problem, parse_card, render_card, validate_card
from .card.validate import validate_text
from .errors import (
    CardError,
    EsmArtifactError,
    EsmRegistryError,
    MetadataError,
    PublishError,
    RepoNotFoundError,
    StoreAuthError,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
    TemplateError,
    UsageError,
)
from .metadata import (
    EsmMetadata,
    Evaluation,
    Hyperparameters,
    IntermediateTask,
    from_config,
    load_metadata,
    to_config,
)

if TYPE_CHECKING:
    from .esm import Esm
    from .publish import PublishResult, PublishSummary, publish_esm, publish_many, refresh_cards
    from .stores import HubStore, LocalStore, RegistryStore, open_store

# Publishing pulls in numpy, safetensors and the Hub client; card validation in CI should
# not pay for them, so these names are imported on first use.
_LAZY = {
    "Esm": "registry.esm",
    "PublishResult": "registry.publish",
    "PublishSummary": "registry.publish",
    "publish_esm": "registry.publish",
    "publish_many": "registry.publish",
    "refresh_cards": "registry.publish",
    "HubStore": "registry.stores",
    "LocalStore": "registry.stores",
    "RegistryStore": "registry.stores",
    "open_store": "registry.stores",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "CardError",
    "CardReport",
    "Esm",
    "EsmArtifactError",
    "EsmMetadata",
    "EsmRegistryError",
    "Evaluation",
    "HubStore",
    "Hyperparameters",
    "IntermediateTask",
    "LocalStore",
    "MetadataError",
    "ParsedCard",
    "Problem",
    "PublishError",
    "PublishResult",
    "PublishSummary",
    "RegistryStore",
    "RepoNotFoundError",
    "StoreAuthError",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "TemplateError",
    "UsageError",
    "__version__",
    "from_config",
    "load_metadata",
    "open_store",
    "parse_card",
    "publish_esm",
    "publish_many",
    "refresh_cards",
    "render_card",
    "to_config",
    "validate_card",
    "validate_text",
]
