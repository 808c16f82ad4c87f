"""esm-registry: publish, validate, catalog and rank Embedding Space Maps (ESMs).

Example:
    >>> from registry import EsmMetadata, render_card, validate_text
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> validate_text(render_card(meta)).valid
    True
"""

from ._version import __version__
from .architectures import ARCHITECTURES, Architecture
from .card import CardReport, ParsedCard, Problem, parse_card, render_card, validate_card
from .card.validate import validate_text
from .errors import CardError, EsmRegistryError, MetadataError, TemplateError, UsageError
from .metadata import (
    EsmMetadata,
    Evaluation,
    Hyperparameters,
    IntermediateTask,
    from_config,
    load_metadata,
    to_config,
)

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "CardError",
    "CardReport",
    "EsmMetadata",
    "EsmRegistryError",
    "Evaluation",
    "Hyperparameters",
    "IntermediateTask",
    "MetadataError",
    "ParsedCard",
    "Problem",
    "TemplateError",
    "UsageError",
    "__version__",
    "from_config",
    "load_metadata",
    "parse_card",
    "render_card",
    "to_config",
    "validate_card",
    "validate_text",
]
