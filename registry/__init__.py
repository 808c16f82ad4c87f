"""esm-registry: publish, validate, catalog and rank Embedding Space Maps (ESMs).

The names below are the public API. Card validation needs only the light core (metadata,
cards, errors); everything else loads on first use, so ``import registry`` stays fast.

Example:
    >>> import registry
    >>> meta = registry.EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> registry.validate_text(registry.render_card(meta)).valid
    True
    >>> callable(registry.rank), callable(registry.train_esm)
    (True, True)
"""

import typing as _typing

from ._lazy import lazy_exports as _lazy_exports
from ._version import __version__

if _typing.TYPE_CHECKING:
    from .architectures import ARCHITECTURES, Architecture
    from .card import CardReport, ParsedCard, Problem, parse_card, render_card, validate_card
    from .card.validate import validate_text
    from .catalog import Catalog, CatalogEntry, SearchResults, SyncSummary
    from .embedding import EmbeddingOptions
    from .errors import (
        CardError,
        CatalogError,
        DatasetError,
        EsmArtifactError,
        EsmRegistryError,
        MetadataError,
        MissingExtraError,
        ModelLoadError,
        NoEsmsFoundError,
        NotInCatalogError,
        PublishError,
        RepoNotFoundError,
        StoreAuthError,
        StoreConflictError,
        StoreError,
        StoreUnavailableError,
        TemplateError,
        TrainingError,
        UsageError,
    )
    from .esm import Esm
    from .filters import SearchFilters
    from .metadata import (
        EsmMetadata,
        Evaluation,
        Hyperparameters,
        IntermediateTask,
        from_config,
        load_metadata,
        to_config,
    )
    from .publish import PublishResult, PublishSummary, publish_esm, publish_many, refresh_cards
    from .ranker import (
        OptionGroups,
        RankedEsm,
        Ranking,
        ScoringOptions,
        Target,
        TargetOptions,
        load_target,
        rank,
    )
    from .stores import RegistryStore, open_store
    from .stores.hub import HubStore
    from .stores.local import LocalStore
    from .train import (
        EsmTrainingConfig,
        IntermediateData,
        LMTrainingConfig,
        TrainResult,
        load_intermediate,
        train_esm,
    )

_EXPORTS = {
    # metadata and cards: the light core
    "ARCHITECTURES": ".architectures",
    "Architecture": ".architectures",
    "EsmMetadata": ".metadata",
    "Evaluation": ".metadata",
    "Hyperparameters": ".metadata",
    "IntermediateTask": ".metadata",
    "from_config": ".metadata",
    "load_metadata": ".metadata",
    "to_config": ".metadata",
    "CardReport": ".card",
    "ParsedCard": ".card",
    "Problem": ".card",
    "parse_card": ".card",
    "render_card": ".card",
    "validate_card": ".card",
    "validate_text": ".card.validate",
    # errors
    **{
        name: ".errors"
        for name in (
            "CardError",
            "CatalogError",
            "DatasetError",
            "EsmArtifactError",
            "EsmRegistryError",
            "MetadataError",
            "MissingExtraError",
            "ModelLoadError",
            "NoEsmsFoundError",
            "NotInCatalogError",
            "PublishError",
            "RepoNotFoundError",
            "StoreAuthError",
            "StoreConflictError",
            "StoreError",
            "StoreUnavailableError",
            "TemplateError",
            "TrainingError",
            "UsageError",
        )
    },
    # artifacts, stores, publishing
    "Esm": ".esm",
    "RegistryStore": ".stores",
    "HubStore": ".stores.hub",
    "LocalStore": ".stores.local",
    "open_store": ".stores",
    "PublishResult": ".publish",
    "PublishSummary": ".publish",
    "publish_esm": ".publish",
    "publish_many": ".publish",
    "refresh_cards": ".publish",
    # the catalog
    "Catalog": ".catalog",
    "CatalogEntry": ".catalog",
    "SearchResults": ".catalog",
    "SyncSummary": ".catalog",
    "SearchFilters": ".filters",
    # ranking
    "rank": ".ranker",
    "Ranking": ".ranker",
    "RankedEsm": ".ranker",
    "Target": ".ranker",
    "load_target": ".ranker",
    "OptionGroups": ".ranker",
    "TargetOptions": ".ranker",
    "ScoringOptions": ".ranker",
    "EmbeddingOptions": ".embedding",
    # training
    "train_esm": ".train",
    "TrainResult": ".train",
    "LMTrainingConfig": ".train",
    "EsmTrainingConfig": ".train",
    "IntermediateData": ".train",
    "load_intermediate": ".train",
}

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "CardError",
    "CardReport",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "DatasetError",
    "EmbeddingOptions",
    "Esm",
    "EsmArtifactError",
    "EsmMetadata",
    "EsmRegistryError",
    "EsmTrainingConfig",
    "Evaluation",
    "HubStore",
    "Hyperparameters",
    "IntermediateData",
    "IntermediateTask",
    "LMTrainingConfig",
    "LocalStore",
    "MetadataError",
    "MissingExtraError",
    "ModelLoadError",
    "NoEsmsFoundError",
    "NotInCatalogError",
    "OptionGroups",
    "ParsedCard",
    "Problem",
    "PublishError",
    "PublishResult",
    "PublishSummary",
    "RankedEsm",
    "Ranking",
    "RegistryStore",
    "RepoNotFoundError",
    "ScoringOptions",
    "SearchFilters",
    "SearchResults",
    "StoreAuthError",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "SyncSummary",
    "Target",
    "TargetOptions",
    "TemplateError",
    "TrainResult",
    "TrainingError",
    "UsageError",
    "__version__",
    "from_config",
    "load_intermediate",
    "load_metadata",
    "load_target",
    "open_store",
    "parse_card",
    "publish_esm",
    "publish_many",
    "rank",
    "refresh_cards",
    "render_card",
    "to_config",
    "train_esm",
    "validate_card",
    "validate_text",
]

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
