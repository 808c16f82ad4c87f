"""Helpers for the catalog tests: ESM repo files, a Hub store on FakeHub, store wrappers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from esm_factory import make_esm, make_metadata

from registry.catalog import CatalogEntry
from registry.metadata import EsmMetadata
from registry.publish import build_files
from registry.stores import RepoInfo
from registry.stores.hub import HubStore, RetryPolicy

from hub_server import FakeHub

ESM_CARD = b"---\ntags:\n- embedding_space_map\n---\n\n# ESM\n"


def esm_files(index: int = 0, **overrides: Any) -> dict[str, bytes]:
    """README.md + config.json + model.safetensors of a tiny published ESM."""
    return build_files(make_esm(index, **overrides))


def config_files(config: Mapping[str, Any], card: bytes = ESM_CARD) -> dict[str, bytes]:
    """A repo with a hand-written config.json (and a card that only carries the tag)."""
    return {"config.json": json.dumps(config).encode(), "README.md": card}


def hub_store(hub: FakeHub, tmp_path: Path) -> HubStore:
    policy = RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0, sleep=lambda _: None)
    return HubStore(endpoint=hub.url, token=False, retry=policy, cache_dir=tmp_path / "hf-cache")


def entry(repo_id: str, index: int = 0, **overrides: Any) -> CatalogEntry:
    """A catalog entry for direct :meth:`Catalog.upsert` (no store involved)."""
    metadata: EsmMetadata = make_metadata(index, **overrides)
    return CatalogEntry(
        repo_id=repo_id,
        sha=f"{index:040x}",
        base_model_canonical=metadata.base_model,
        metadata=metadata,
    )


class SimulatedCrash(BaseException):
    """The process dying mid-sync (not an error of one repo, which the sync contains)."""


class WrappedStore:
    """Delegates to a real store; counts reads, can crash or block after some reads."""

    def __init__(
        self,
        inner: Any,
        *,
        crash_after: int | None = None,
        block_after: int | None = None,
    ) -> None:
        self.inner = inner
        self.crash_after = crash_after
        self.block_after = block_after
        self.gate = threading.Event()
        self.blocked = threading.Event()
        self.reads: list[tuple[str, str]] = []
        self.listings = 0
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return str(self.inner.location)

    def list_esms(
        self, *, tags: Iterable[str] = (), author: str | None = None
    ) -> Iterator[RepoInfo]:
        self.listings += 1
        listing: Iterator[RepoInfo] = self.inner.list_esms(tags=tags, author=author)
        return listing

    def _count(self, repo_id: str, path: str) -> None:
        with self._lock:
            self.reads.append((repo_id, path))
            count = len(self.reads)
        if self.crash_after is not None and count > self.crash_after:
            raise SimulatedCrash("simulated crash")
        if self.block_after is not None and count > self.block_after:
            self.blocked.set()
            assert self.gate.wait(10), "test never opened the gate"

    def read_file(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        self._count(repo_id, path)
        return bytes(self.inner.read_file(repo_id, path, revision=revision))

    def local_path(self, repo_id: str, path: str, revision: str | None = None) -> Path:
        self._count(repo_id, path)
        return Path(self.inner.local_path(repo_id, path, revision=revision))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
