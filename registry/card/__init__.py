"""ESM model cards: render from metadata, parse back, validate.

Example:
    >>> from registry.card import render_card, parse_card
    >>> from registry.metadata import EsmMetadata
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> parse_card(render_card(meta)).metadata == meta
    True
"""

from .parse import MAX_CARD_BYTES, ParsedCard, Problem, parse_card, read_card
from .render import CARD_METADATA_KEY, card_data, render_card
from .validate import CardReport, find_cards, validate_card, validate_text

__all__ = [
    "CARD_METADATA_KEY",
    "MAX_CARD_BYTES",
    "CardReport",
    "ParsedCard",
    "Problem",
    "card_data",
    "find_cards",
    "parse_card",
    "read_card",
    "render_card",
    "validate_card",
    "validate_text",
]
