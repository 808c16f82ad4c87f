"""The embedding layer that training and ranking both stand on.

An ESM is only meaningful for the embeddings it was fitted on, so the trainer and the
ranker must load the same model, pool the same way and truncate the same way. Both embed
through this package:

- :mod:`.models`: Hub models that pip packages ship, so they load offline;
- :mod:`.pooling`: hfselect's pooling rules and the pooled forward pass;
- :mod:`.cache`: the on-disk cache of embeddings (safetensors);
- :mod:`.embedder`: :class:`Embedder`, which puts the three together.

Importing this package does not import torch or transformers; they load when a model runs.

Example:
    >>> from registry.embedding import Embedder, resolve_model
    >>> resolve_model("sentence-transformers/all-MiniLM-L6-v2").model_id
    'sentence-transformers/all-MiniLM-L6-v2'
"""

from __future__ import annotations

from .cache import CACHE_FORMAT, default_cache_dir, texts_fingerprint
from .embedder import Embedder, Padding, default_device, embed_texts
from .models import (
    PackagedModel,
    ResolvedModel,
    packaged_model_path,
    register_packaged_model,
    resolve_model,
)
from .pooling import POOLINGS, Pooling

__all__ = [
    "CACHE_FORMAT",
    "POOLINGS",
    "Embedder",
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
