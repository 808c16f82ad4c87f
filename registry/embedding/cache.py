"""The on-disk embedding cache: one safetensors file per model, pooling and list of texts.

Embedding a task or a target is the slow step of training and ranking, and the same texts
are embedded again and again (every ESM of a base model is trained on embeddings of that
model; a target is ranked many times). Entries live under ``<esm-registry home>/embeddings``
(:func:`registry.paths.default_embedding_cache`) and are keyed by everything that changes
the numbers: the model id, its commit (or a hash of the files of a local model folder), the
pooling, the maximum length and a hash of the texts. Files are safetensors, never pickles,
written atomically; a damaged or foreign file is ignored and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import safetensors
import safetensors.numpy

from .. import paths
from .._io import atomic_output
from .._json import dump_json, load_json_file

__all__ = [
    "CACHE_FORMAT",
    "cache_key",
    "cache_path",
    "default_cache_dir",
    "facts_path",
    "folder_fingerprint",
    "read_cache",
    "read_facts",
    "texts_fingerprint",
    "write_cache",
    "write_facts",
]

logger = logging.getLogger(__name__)

#: Version of the cache key and file layout; bumped when either changes meaning.
CACHE_FORMAT: Final = 1

#: Files of a local model folder that never affect the embeddings.
_IGNORED_FILES = {"README.md", ".gitattributes", ".gitignore"}

_hash_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_hash_lock = threading.Lock()


def default_cache_dir() -> Path:
    """``<esm-registry home>/embeddings`` (see :func:`registry.paths.default_home`)."""
    return paths.default_embedding_cache()


def texts_fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts with their lengths, so ``["ab"]`` and ``["a", "b"]`` differ."""
    digest = hashlib.sha256()
    count = 0
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
        count += 1
    digest.update(count.to_bytes(8, "little"))
    return digest.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """``sha256:…`` of the files of a local model folder (names and contents).

    A folder has no commit, so its files stand for one; memoised by name, size and mtime.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in _IGNORED_FILES)
    stats = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    memo_key = (str(folder.resolve()), stats)
    with _hash_lock:
        cached = _hash_memo.get(memo_key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    result = "sha256:" + digest.hexdigest()
    with _hash_lock:
        _hash_memo[memo_key] = result
    return result


def cache_key(
    *,
    model_id: str | None,
    revision: str,
    pooling: str,
    max_length: int,
    texts: list[str],
) -> str:
    """The key of one entry: sha256 of everything that changes the embeddings.

    Args:
        model_id: The Hub id the model stands for; ``None`` for a local folder known by
            its files alone (``revision``), wherever it lies.
        revision: The model's commit, or :func:`folder_fingerprint` of a local folder.
        pooling: The pooling rule.
        max_length: Tokens per text at most.
        texts: The texts, in order.
    """
    fields = {
        "format": CACHE_FORMAT,
        "model_id": model_id,
        "revision": revision,
        "pooling": pooling,
        "max_length": max_length,
        "texts": texts_fingerprint(texts),
        "count": len(texts),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    """Where the entry ``key`` lives: ``<cache_dir>/<key[:2]>/<key>.safetensors``."""
    return cache_dir / key[:2] / f"{key}.safetensors"


def read_cache(path: Path, key: str, count: int) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """The cached array, or ``None`` when absent, foreign or damaged (then recomputed)."""
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), framework="np") as handle:
            stored_key = (handle.metadata() or {}).get("key")
            array = handle.get_tensor("embeddings")
    except Exception as exc:  # safetensors raises its own error types
        logger.warning("ignoring the damaged embedding cache file %s: %s", path, exc)
        return None
    if (
        stored_key != key
        or array.dtype != np.float32
        or array.ndim != 2
        or array.shape[0] != count
        or not np.isfinite(array).all()
    ):
        logger.warning("ignoring the embedding cache file %s: it does not match", path)
        return None
    return np.ascontiguousarray(array)


def write_cache(
    path: Path, key: str, embeddings: np.ndarray[Any, Any], metadata: Mapping[str, str]
) -> None:
    """Store ``embeddings`` under ``key``; a cache that cannot be written only logs."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as temporary:
            safetensors.numpy.save_file(
                {"embeddings": embeddings},
                str(temporary),
                metadata={**metadata, "key": key, "format": str(CACHE_FORMAT)},
            )
    except OSError as exc:  # a cache that cannot be written is no reason to fail
        logger.warning("cannot write the embedding cache %s: %s", path, exc)
        return
    logger.debug("cached embeddings in %s", path)


def facts_path(cache_dir: Path, *, model_id: str | None, revision: str, pooling: str) -> Path:
    """Where what a model's config says for the cache key is remembered.

    Keyed like the embeddings (model id, commit or folder hash, requested pooling), so a
    model that changes gets new facts.
    """
    fields = {
        "format": CACHE_FORMAT,
        "model_id": model_id,
        "revision": revision,
        "pooling": pooling,
    }
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return cache_dir / "models" / f"{key}.json"


def read_facts(path: Path) -> dict[str, Any] | None:
    """The remembered facts, or ``None`` when absent or unusable (then looked up again)."""
    if not path.is_file():
        return None
    try:
        data = load_json_file(path, max_bytes=4096)
    except (OSError, ValueError) as exc:
        logger.debug("ignoring the model facts %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pooling"), str):
        return None
    return {key: data.get(key) for key in ("pooling", "position_limit", "embedding_dim")}


def write_facts(path: Path, facts: Mapping[str, Any]) -> None:
    """Remember ``facts``; a cache that cannot be written only logs."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as temporary:
            temporary.write_text(dump_json(dict(facts), sort_keys=True), encoding="utf-8")
    except OSError as exc:
        logger.debug("cannot remember the model facts in %s: %s", path, exc)
