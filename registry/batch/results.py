"""Resume keys and result files of batch runs.

A *resume key* is the sha256 of everything that determines a result, as canonical JSON:

* a target's ranking (:func:`rank_inputs`): the target's source (a file's content hash, or
  a Hub id / shipped task name), the base model (and a local copy's content hash), every
  option that changes scores, the registry, each candidate ESM with its commit, and the
  esm-registry version (a new scorer may score differently). Options that change only
  speed (``jobs``, ``chunk_size``, the shard size, the device, the embedding batch size
  and cache) are left out;
* an ESM (:func:`train_inputs`): the task's source, the base and fine-tuned models, every
  option of ``esm-registry train`` that changes the ESM or its card. Not the version: an
  ESM trained from the same inputs stays valid, and training is what is expensive.

Hub datasets and models are identified by their id only: pin a revision by pointing at a
local copy to make a key follow their content.

A batch ranking writes ``DIR/<name>.json`` (what ``esm-registry rank --format json``
prints) and then ``DIR/.rank-batch/<name>.json`` with the key; both atomically
(:mod:`registry._io`), so a result counts as done only when it is complete. Tokens never
reach these files.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .._version import __version__
from ..ranker.fetch import EsmRef
from .tasks import TargetJob, TrainJob

__all__ = [
    "STATE_FOLDER",
    "ResultFolder",
    "fingerprint",
    "inputs_key",
    "rank_inputs",
    "train_inputs",
]

logger = logging.getLogger(__name__)

#: Hidden folder of the output directory that holds the resume keys.
STATE_FOLDER = ".rank-batch"
_BLOCK = 1 << 20


@functools.lru_cache(maxsize=1024)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file; cached per (path, size, mtime) so one run hashes each file once."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(value: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """What identifies a source: a file's or folder's content hash, else the name itself.

    Example:
        >>> fingerprint("stanfordnlp/imdb")
        {'id': 'stanfordnlp/imdb'}
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        stat = path.stat()
        return {"file": _content_hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = item.relative_to(path).as_posix()
            if any(part.startswith(".") for part in relative.split("/")):
                continue  # caches and lock files of tools, not content
            stat = item.stat()
            digest.update(relative.encode() + b"\0")
            digest.update(
                _content_hash(str(item.resolve()), stat.st_size, stat.st_mtime_ns).encode()
            )
        return {"folder": digest.hexdigest()}
    return {"id": os.fspath(value)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def inputs_key(inputs: Mapping[str, Any]) -> str:
    """sha256 of the inputs as canonical JSON."""
    text = json.dumps(_plain(inputs), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rank_inputs(job: TargetJob, refs: Sequence[EsmRef]) -> dict[str, Any]:
    """What determines a target's ranking (see the module docstring)."""
    groups = job.groups
    embedding = groups.embedding
    return {
        "version": __version__,
        "dataset": fingerprint(job.dataset),
        "base_model": job.base_model,
        "model": fingerprint(embedding.model_path),
        "target": groups.target,
        "embedding": {"max_length": embedding.max_length, "pooling": embedding.pooling},
        "filters": groups.filters,
        "registry": job.store.registry,
        "catalog": job.catalog,
        "esms": [
            {
                "repo_id": ref.repo_id,
                "sha": ref.sha,
                "path": None if ref.path is None else fingerprint(ref.path),
            }
            for ref in refs
        ],
    }


def train_inputs(job: TrainJob) -> dict[str, Any]:
    """What determines a trained ESM (see the module docstring)."""
    embedding = job.embedding
    return {
        "source": fingerprint(job.source),
        "base_model": fingerprint(job.base_model),
        "base_model_id": job.base_model_id,
        "fine_tune": job.fine_tune,
        "fine_tuned_model": fingerprint(job.fine_tuned_model),
        "task": {
            "task_id": job.task_id,
            "subset": job.subset,
            "split": job.split,
            "text_column": job.text_column,
            "label_column": job.label_column,
            "num_examples": job.num_examples,
            "seed": job.seed,
            "language": job.language,
        },
        "lm_config": job.lm_config,
        "lm_training": job.lm_training,
        "esm_config": job.esm_config,
        "embedding": {"max_length": embedding.max_length, "pooling": embedding.pooling},
        "card": {"developers": job.developers, "license": job.license},
    }


class ResultFolder:
    """The output directory of a batch ranking: results, resume keys and the summary."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def result_path(self, name: str) -> Path:
        """``DIR/<name>.json``."""
        return self.root / f"{name}.json"

    def _key_path(self, name: str) -> Path:
        return self.root / STATE_FOLDER / f"{name}.json"

    def recorded_key(self, name: str) -> str | None:
        """The key of the complete result of ``name``, if there is one."""
        if not self.result_path(name).is_file():
            return None
        try:
            data = json.loads(self._key_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        key = data.get("key") if isinstance(data, dict) else None
        return key if isinstance(key, str) else None

    def forget(self, name: str) -> None:
        """Mark the result of ``name`` as not current (before it is recomputed)."""
        self._key_path(name).unlink(missing_ok=True)

    def write(self, name: str, result_json: str, key: str) -> Path:
        """Write the result, then its key (so a key always belongs to a complete result)."""
        (self.root / STATE_FOLDER).mkdir(parents=True, exist_ok=True)
        path = self.result_path(name)
        atomic_write(path, result_json)
        atomic_write(self._key_path(name), json.dumps({"key": key}) + "\n")
        return path

    def read(self, name: str) -> dict[str, Any] | None:
        """The stored result of ``name`` as JSON data, if readable."""
        try:
            data = json.loads(self.result_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
