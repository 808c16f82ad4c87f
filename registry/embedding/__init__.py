"""The embedding layer that training and ranking both stand on.

An ESM is only meaningful for the embeddings it was fitted on, so the trainer and the
ranker must load the same model, pool the same way and truncate the same way. Both embed
through this package:

- :mod:`.models`: Hub models that pip packages ship, so they load offline;
- :mod:`.pooling`: hfselect's pooling rules and the pooled forward pass;
- :mod:`.cache`: the on-disk cache of embeddings (safetensors);
- :mod:`.options`: :class:`EmbeddingOptions`, the settings shared by ``train`` and ``rank``;
- :mod:`.embedder`: :class:`Embedder`, which puts them together.

Names load on first use; torch and transformers only when a model runs.

Example:
    >>> from registry.embedding import Embedder, resolve_model
    >>> resolve_model("sentence-transformers/all-MiniLM-L6-v2").model_id
    'sentence-transformers/all-MiniLM-L6-v2'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .cache import CACHE_FORMAT, default_cache_dir, texts_fingerprint
    from .embedder import Embedder, Padding, default_device, embed_texts
    from .models import (
        PackagedModel,
        ResolvedModel,
        packaged_model_path,
        register_packaged_model,
        resolve_model,
    )
    from .options import DEFAULT_MAX_LENGTH, EmbeddingOptions
    from .pooling import POOLINGS, Pooling

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_MAX_LENGTH",
    "POOLINGS",
    "Embedder",
    "EmbeddingOptions",
    "PackagedModel",
    "Padding",
    "Pooling",
    "ResolvedModel",
    "default_cache_dir",
    "default_device",
    "embed_texts",
    "packaged_model_path",
    "register_packaged_model",
    "resolve_model",
    "texts_fingerprint",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CACHE_FORMAT": ".cache",
        "default_cache_dir": ".cache",
        "texts_fingerprint": ".cache",
        "Embedder": ".embedder",
        "Padding": ".embedder",
        "default_device": ".embedder",
        "embed_texts": ".embedder",
        "PackagedModel": ".models",
        "ResolvedModel": ".models",
        "packaged_model_path": ".models",
        "register_packaged_model": ".models",
        "resolve_model": ".models",
        "DEFAULT_MAX_LENGTH": ".options",
        "EmbeddingOptions": ".options",
        "POOLINGS": ".pooling",
        "Pooling": ".pooling",
    },
)
