"""Base-model aliases: one model, several ids (``bert-base-uncased`` is ``google-bert/…``).

In 2024 the Hub moved the early un-namespaced models into organisations and redirects the
old ids. ESMs name their base model either way, so every part that matches ESMs by base
model (the catalog, the store listings, the ranker) goes through this module. Resolution
is offline: a built-in table of the Hub's renames, plus the pairs the catalog itself has
seen (an ESM whose config says ``bert-base-uncased`` while its card or tags say
``google-bert/bert-base-uncased``).

Example:
    >>> builtin_canonical("BERT-base-uncased")
    'google-bert/bert-base-uncased'
    >>> base_model_ids("bert-base-uncased")
    ['bert-base-uncased', 'google-bert/bert-base-uncased']
    >>> observed_pairs(["gpt2", "openai-community/gpt2", "org/task"])
    [('gpt2', 'openai-community/gpt2')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "BUILTIN_ALIASES",
    "base_model_ids",
    "builtin_canonical",
    "observed_pairs",
    "tag_base_models",
]


def _renames(namespace: str, names: Iterable[str]) -> dict[str, str]:
    return {name.lower(): f"{namespace}/{name}" for name in names}


#: Legacy un-namespaced id (lower case) -> the id the Hub redirects it to.
BUILTIN_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **_renames(
            "google-bert",
            [
                "bert-base-uncased",
                "bert-base-cased",
                "bert-large-uncased",
                "bert-large-cased",
                "bert-base-multilingual-uncased",
                "bert-base-multilingual-cased",
                "bert-base-chinese",
                "bert-base-german-cased",
                "bert-base-german-dbmdz-cased",
                "bert-base-german-dbmdz-uncased",
                "bert-large-uncased-whole-word-masking",
                "bert-large-cased-whole-word-masking",
                "bert-large-uncased-whole-word-masking-finetuned-squad",
                "bert-large-cased-whole-word-masking-finetuned-squad",
                "bert-base-cased-finetuned-mrpc",
            ],
        ),
        **_renames(
            "FacebookAI",
            [
                "roberta-base",
                "roberta-large",
                "roberta-large-mnli",
                "xlm-roberta-base",
                "xlm-roberta-large",
                "xlm-roberta-large-finetuned-conll03-english",
                "xlm-mlm-en-2048",
            ],
        ),
        **_renames(
            "distilbert",
            [
                "distilbert-base-uncased",
                "distilbert-base-cased",
                "distilbert-base-multilingual-cased",
                "distilbert-base-uncased-finetuned-sst-2-english",
                "distilbert-base-cased-distilled-squad",
                "distilbert-base-uncased-distilled-squad",
                "distilroberta-base",
                "distilgpt2",
            ],
        ),
        **_renames(
            "openai-community",
            ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "openai-gpt"],
        ),
        **_renames(
            "albert",
            [
                "albert-base-v1",
                "albert-large-v1",
                "albert-xlarge-v1",
                "albert-xxlarge-v1",
                "albert-base-v2",
                "albert-large-v2",
                "albert-xlarge-v2",
                "albert-xxlarge-v2",
            ],
        ),
        **_renames("google-t5", ["t5-small", "t5-base", "t5-large", "t5-3b", "t5-11b"]),
        **_renames("xlnet", ["xlnet-base-cased", "xlnet-large-cased"]),
        **_renames("almanach", ["camembert-base"]),
        **_renames("Salesforce", ["ctrl"]),
    }
)


def builtin_canonical(model_id: str) -> str | None:
    """The id the Hub redirects ``model_id`` to, if the built-in table knows it."""
    return BUILTIN_ALIASES.get(model_id.strip().lower())


def base_model_ids(model_id: str) -> list[str]:
    """``model_id`` and every id the built-in table says the Hub knows the model by.

    Example:
        >>> base_model_ids("google-bert/bert-base-uncased")
        ['google-bert/bert-base-uncased', 'bert-base-uncased']
    """
    canonical = builtin_canonical(model_id) or model_id
    legacy = [alias for alias, target in BUILTIN_ALIASES.items() if target == canonical]
    return list(dict.fromkeys([model_id, canonical, *legacy]))


def tag_base_models(tags: Iterable[str]) -> list[str]:
    """Base-model ids named by ``base_model:<id>`` and ``base_model:<relation>:<id>`` tags."""
    found = []
    for tag in tags:
        if tag.startswith("base_model:"):
            model_id = tag.rsplit(":", 1)[-1]
            if model_id:
                found.append(model_id)
    return list(dict.fromkeys(found))


def observed_pairs(model_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(alias, canonical) pairs among ids that one ESM gives for its base model.

    Only an un-namespaced id next to a namespaced id *with the same name* counts: that is
    what a Hub rename looks like, and it keeps a mistyped base model from merging two
    different models.
    """
    ids = list(dict.fromkeys(model_id.strip() for model_id in model_ids if model_id.strip()))
    bare = [model_id for model_id in ids if "/" not in model_id]
    namespaced = [model_id for model_id in ids if model_id.count("/") == 1]
    pairs = []
    for alias in bare:
        for canonical in namespaced:
            if canonical.split("/", 1)[1].lower() == alias.lower():
                pairs.append((alias, canonical))
                break
    return pairs
