"""Pooling: how token states become one embedding per text, by hfselect's rules.

ESM-LogME compares a target's embeddings with the embeddings an ESM was trained on, so
both must come from the same model *and the same pooling*. The rules are those of
``hfselect.model_utils.get_pooled_output`` (hfselect 0.2.1), decided by the class
``transformers.AutoModel`` loads:

============================================  ==========  ===============================
model                                         pooling     what is returned
============================================  ==========  ===============================
``BertModel`` whose id contains               ``mean``    mean of the last hidden states
``sentence-transformers``                                 over the attention mask
other ``BertModel``                           ``pooler``  ``pooler_output`` (tanh dense on
                                                          the first token)
``DistilBertModel``                           ``cls``     last hidden state of token 0
``RobertaModel``                              ``cls``     last hidden state of token 0
============================================  ==========  ===============================

hfselect refuses every other model class. hfselect only ever sees Hub ids; for a local
folder the rules look at the Hub id it stands for. Two extensions cover cases hfselect
never meets, so they cannot contradict an hfselect ESM: a local folder without a Hub id
that holds a sentence-transformers model (``modules.json`` or
``config_sentence_transformers.json``) counts as one, and a sentence-transformers model of
another class is mean-pooled too. For anything else the caller names a pooling.

transformers is imported only when a rule is looked up or a model runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from ..errors import ModelLoadError

__all__ = ["POOLINGS", "Pooling", "pooled_output", "pooling_rule"]

Pooling = Literal["pooler", "mean", "cls"]
#: The pooling rules: ``pooler`` (BERT's pooler output), ``mean`` (masked mean of the last
#: hidden states, sentence-transformers), ``cls`` (last hidden state of the first token).
POOLINGS: Final[tuple[Pooling, ...]] = ("pooler", "mean", "cls")

_ST_MARKER = "sentence-transformers"
_ST_FILES = ("modules.json", "config_sentence_transformers.json")


def pooling_rule(model_class: type, name: str, folder: Path | None = None) -> Pooling | None:
    """hfselect's pooling for ``model_class`` (plus the sentence-transformers extension).

    Args:
        model_class: The class ``AutoModel`` loads for the model.
        name: The Hub id the model stands for (hfselect looks for ``sentence-transformers``).
        folder: A local model folder whose own files may say it is a sentence-transformers
            model; pass it only when no Hub id says what the folder is.

    Returns:
        The pooling, or ``None`` when hfselect has no rule for the class.
    """
    from transformers import (  # noqa: PLC0415 - heavy, only when a model is looked at
        BertModel,
        DistilBertModel,
        RobertaModel,
    )

    sentence_transformers = _ST_MARKER in name or (
        folder is not None and any((folder / marker).is_file() for marker in _ST_FILES)
    )
    if issubclass(model_class, BertModel):
        return "mean" if sentence_transformers else "pooler"
    if issubclass(model_class, (DistilBertModel, RobertaModel)):
        return "cls"
    return "mean" if sentence_transformers else None


def pooled_output(model: Any, input_ids: Any, mask: Any, pooling: Pooling) -> Any:
    """One forward pass, pooled as ``hfselect.model_utils.get_pooled_output`` does.

    Args:
        model: A ``transformers`` base model in eval mode.
        input_ids: Token ids, shape ``(batch, length)``.
        mask: The attention mask of the same shape (padding masked out).
        pooling: One of :data:`POOLINGS`.

    Returns:
        A tensor of shape ``(batch, hidden_size)``.

    Raises:
        ModelLoadError: ``pooler`` pooling for a model without a pooler.
    """
    outputs = model(input_ids, attention_mask=mask)
    if pooling == "pooler":
        pooled = getattr(outputs, "pooler_output", None)
        if pooled is None:
            raise ModelLoadError(
                f"{type(model).__name__} has no pooler output; use pooling='cls' or 'mean'"
            )
        return pooled
    hidden = outputs.last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
