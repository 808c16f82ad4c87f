"""Fetch ESMs for a ranking: many at a time, streamed, every failure reported, none fatal.

:func:`fetch_esms` turns references (catalog entries, repo ids, ESM folders, or loaded
:class:`~registry.esm.Esm` objects) into loaded, validated ESMs. Downloads start at once on
a thread pool and run up to a bounded number of ESMs ahead, into the store's cache (disk,
not memory), so that they overlap the target's embedding and then the scoring; an ESM is
loaded into memory when the consumer takes it, in input order, so memory stays flat
however large the registry. An ESM that cannot be read or does not fit (unreadable
weights, wrong shape, another embedding dimension) comes out as a failed
:class:`FetchedEsm` with the reason, and the caller skips it.

Where the files come from: ``config.json`` and ``model.safetensors`` at the commit the
catalog recorded, opened in place through
:meth:`~registry.stores.RegistryStore.local_path`: the huggingface_hub download cache for
the Hub (a cached commit costs no request), the commit's snapshot folder for a local
registry. Store failures arrive already translated into
:class:`~registry.errors.StoreError`.

A repo is written by whoever published it, so nothing in it is trusted: ``config.json`` is
parsed within size and nesting bounds (:mod:`registry._json`), and before the weights are
downloaded their size, as the store lists it (:meth:`~registry.stores.RegistryStore.repo_info`),
must fit what the embedding dimension implies (``D×D + D`` parameters in float16 to
float64, plus a small header). An ESM of another dimension than the base model's is
refused from its config alone. Whatever goes wrong with one ESM, it is skipped with the
reason; the others are still fetched.

Example:
    >>> from registry.stores import open_store
    >>> import tempfile
    >>> list(fetch_esms([], open_store(tempfile.mkdtemp())))
    []
"""

from __future__ import annotations

import logging
import math
import os
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._progress import progress_bar
from ..architectures import get_architecture
from ..errors import EsmArtifactError, EsmRegistryError, UsageError
from ..esm import MAX_HEADER_BYTES, Esm
from ..metadata import EsmMetadata, load_metadata
from ..paths import CONFIG_NAME, WEIGHTS_NAME
from ..stores.base import RegistryStore, check_repo_id

__all__ = ["EsmRef", "FetchStream", "FetchedEsm", "fetch_esms", "load_esm", "weights_size_bounds"]

logger = logging.getLogger(__name__)

_MAX_REASON = 300


@dataclass(frozen=True)
class EsmRef:
    """Where to find one ESM.

    Attributes:
        repo_id: ``namespace/name`` in the store (``None`` for a folder or an object).
        sha: Commit to read (the catalog's); ``None``: the main branch.
        path: A local ESM folder instead of a repo.
        esm: An already loaded ESM.
        metadata: What the catalog says about it (used in messages only).
    """

    repo_id: str | None = None
    sha: str | None = None
    path: Path | None = None
    esm: Esm | None = None
    metadata: EsmMetadata | None = None

    @property
    def source(self) -> str:
        """The repo id, folder, or task of the ESM, for messages."""
        if self.repo_id is not None:
            return self.repo_id
        if self.path is not None:
            return str(self.path)
        if self.esm is not None:
            return self.esm.metadata.display_name
        return "?"

    @classmethod
    def of(cls, item: Any) -> EsmRef:
        """A reference from a catalog entry (``repo_id``/``sha``/``metadata``), an
        :class:`Esm`, an ESM folder, or a repo id.

        Raises:
            UsageError: ``item`` is none of these.
        """
        if isinstance(item, EsmRef):
            return item
        if isinstance(item, Esm):
            return cls(esm=item)
        if isinstance(item, os.PathLike) or (isinstance(item, str) and Path(item).is_dir()):
            return cls(path=Path(item))
        if isinstance(item, str):
            return cls(repo_id=check_repo_id(item))
        repo_id = getattr(item, "repo_id", None)
        if isinstance(repo_id, str):
            metadata = getattr(item, "metadata", None)
            sha = getattr(item, "sha", None)
            return cls(
                repo_id=repo_id,
                sha=sha if isinstance(sha, str) else None,
                metadata=metadata if isinstance(metadata, EsmMetadata) else None,
            )
        raise UsageError(
            f"cannot use a {type(item).__name__} as an ESM; pass an Esm, an ESM folder, a repo "
            "id or a catalog entry"
        )


@dataclass(frozen=True)
class FetchedEsm:
    """The outcome of fetching one ESM: the ESM, or the reason it could not be used.

    Attributes:
        ref: What was fetched.
        esm: The loaded ESM (``None`` on failure).
        sha: The commit it was read at, when known.
        error: Why it cannot be used (``None`` on success).
    """

    ref: EsmRef
    esm: Esm | None = None
    sha: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the ESM loaded and fits."""
        return self.esm is not None and self.error is None

    @property
    def source(self) -> str:
        """The repo id or folder, for messages."""
        return self.ref.source


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, EsmRegistryError | OSError):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def weights_size_bounds(architecture: str, dim: int) -> tuple[int, int]:
    """The smallest and largest ``model.safetensors`` an ESM of dimension ``dim`` can have.

    Every tensor in float16/bfloat16 (2 bytes a value) up to float64 (8), plus the 8-byte
    header length and at most :data:`MAX_HEADER_BYTES` of header.

    Raises:
        KeyError: an unknown architecture.
    """
    shapes = get_architecture(architecture).parameter_shapes(dim)
    values = sum(math.prod(shape) for shape in shapes.values())
    return 2 * values + 8, 8 * values + 8 + MAX_HEADER_BYTES


def _check_weights_size(
    ref: EsmRef, store: RegistryStore, metadata: EsmMetadata, dim: int | None
) -> None:
    """Refuse weights whose listed size does not fit the dimension, before downloading them."""
    assert ref.repo_id is not None
    info = store.repo_info(ref.repo_id, ref.sha)
    listed = (info.files or {}).get(WEIGHTS_NAME)
    if listed is None:
        raise EsmArtifactError(f"{ref.repo_id} has no {WEIGHTS_NAME}")
    if listed.size is None or dim is None:
        logger.debug("cannot bound the size of %s's weights before reading them", ref.repo_id)
        return
    try:
        low, high = weights_size_bounds(metadata.architecture, dim)
    except KeyError as exc:
        raise EsmArtifactError(f"{ref.repo_id}: {exc.args[0]}") from None
    if not low <= listed.size <= high:
        raise EsmArtifactError(
            f"{ref.repo_id}: {WEIGHTS_NAME} is {listed.size:,} bytes, but a "
            f"{metadata.architecture} ESM of dimension {dim} takes {low:,} to {high:,}; "
            "not downloaded"
        )


@dataclass(frozen=True)
class _Files:
    """An ESM's files on this machine, checked as far as they can be before loading."""

    config: Path
    weights: Path


def _download(ref: EsmRef, store: RegistryStore | None, embedding_dim: int | None) -> _Files:
    """Bring a repo's files into the store's cache, refusing what does not fit first."""
    assert ref.repo_id is not None
    if store is None:
        raise UsageError(f"{ref.repo_id} is a repo id: pass the store (registry) to read it from")
    config = store.local_path(ref.repo_id, CONFIG_NAME, ref.sha)
    metadata = load_metadata(config)
    claimed = metadata.embedding_dim
    if claimed is not None and embedding_dim is not None and claimed != embedding_dim:
        raise EsmArtifactError(_other_dim(claimed, embedding_dim))
    _check_weights_size(ref, store, metadata, claimed if claimed is not None else embedding_dim)
    return _Files(config, store.local_path(ref.repo_id, WEIGHTS_NAME, ref.sha))


def load_esm(
    ref: EsmRef | Any, store: RegistryStore | None = None, *, embedding_dim: int | None = None
) -> Esm:
    """Load one ESM (see the module docstring for where its files come from).

    Args:
        ref: An :class:`EsmRef`, or anything :meth:`EsmRef.of` accepts.
        store: The store to read repo ids from (not needed for folders and objects).
        embedding_dim: The base model's dimension. A repo whose config names another is
            refused before its weights are downloaded; it also bounds the size of the
            weights when the config names none.

    Raises:
        UsageError: a repo id without a store.
        StoreError: the store failed (missing repo, unreachable, …).
        EsmArtifactError, MetadataError, FileNotFoundError: the files are not a valid ESM,
            or not one of ``embedding_dim``.
    """
    ref = EsmRef.of(ref)
    if ref.esm is not None:
        return ref.esm
    if ref.path is not None:
        return Esm.load(ref.path)
    files = _download(ref, store, embedding_dim)
    return Esm.from_files(files.config, files.weights)


def _other_dim(dim: int, embedding_dim: int) -> str:
    return (
        f"maps {dim}-dimensional embeddings, but the base model's are {embedding_dim}-dimensional"
    )


def _check(esm: Esm, embedding_dim: int | None) -> str | None:
    dim = esm.weight.shape[1]
    if embedding_dim is not None and dim != embedding_dim:
        return _other_dim(dim, embedding_dim)
    return None


def _outcome(ref: EsmRef, download: Future[_Files] | None, embedding_dim: int | None) -> FetchedEsm:
    """Load one ESM whose files ``download`` brought (or a folder, or an object)."""
    try:
        if download is None:
            esm = load_esm(ref, embedding_dim=embedding_dim)
        else:
            files = download.result()
            esm = Esm.from_files(files.config, files.weights)
    except Exception as exc:  # a stranger's files: any failure skips this ESM only
        logger.debug("cannot load %s: %s", ref.source, exc)
        return FetchedEsm(ref, sha=ref.sha, error=_reason(exc))
    problem = _check(esm, embedding_dim)
    if problem is not None:
        return FetchedEsm(ref, sha=ref.sha, error=problem)
    return FetchedEsm(ref, esm=esm, sha=ref.sha)


def _stop(pool: ThreadPoolExecutor, pending: deque[Any]) -> None:
    for _, future in pending:
        if future is not None:
            future.cancel()
    pool.shutdown(wait=False, cancel_futures=True)


class FetchStream(Iterator[FetchedEsm]):
    """What :func:`fetch_esms` returns: downloads run ahead on a thread pool, each ESM is
    loaded as it is taken, and :meth:`close` stops the downloads early."""

    def __init__(
        self,
        refs: Iterator[EsmRef],
        store: RegistryStore | None,
        *,
        jobs: int,
        embedding_dim: int | None,
        prefetch: int,
        progress: bool | None,
        total: int | None,
    ) -> None:
        self._refs = refs
        self._store = store
        self._embedding_dim = embedding_dim
        self._prefetch = prefetch
        self._progress = progress
        self._total = total
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="esm-fetch")
        self._pending: deque[tuple[EsmRef, Future[_Files] | None]] = deque()
        self._exhausted = False
        self._bar: Any = None
        self._failed = 0
        self._stopper = weakref.finalize(self, _stop, self._pool, self._pending)
        self._fill()

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self._prefetch:
            ref = next(self._refs, None)
            if ref is None:
                self._exhausted = True
                break
            remote = ref.esm is None and ref.path is None
            download = (
                self._pool.submit(_download, ref, self._store, self._embedding_dim)
                if remote
                else None
            )
            self._pending.append((ref, download))

    def __next__(self) -> FetchedEsm:
        if not self._pending:
            self.close()
            raise StopIteration
        if self._bar is None:  # opened on first use: downloads start before anyone looks
            self._bar = progress_bar(
                total=self._total, desc="fetching ESMs", unit="esm", progress=self._progress
            ).__enter__()
        ref, download = self._pending.popleft()
        self._fill()
        result = _outcome(ref, download, self._embedding_dim)
        self._failed += not result.ok
        self._bar.update(1)
        return result

    def close(self) -> None:
        """Stop downloading; what is still queued is dropped."""
        self._stopper()
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        if self._failed:
            logger.debug("%d ESM(s) could not be fetched", self._failed)
            self._failed = 0


def fetch_esms(
    items: Iterable[Any],
    store: RegistryStore | None = None,
    *,
    jobs: int = 8,
    embedding_dim: int | None = None,
    progress: bool | None = None,
    total: int | None = None,
    prefetch: int | None = None,
) -> FetchStream:
    """Fetch ESMs on ``jobs`` threads; yield each outcome in input order.

    Downloads start when this is called, not when the first result is asked for, so
    they overlap whatever the caller does meanwhile (``rank`` embeds the target). Up to
    ``prefetch`` ESMs are downloaded ahead of the consumer: their files go to the store's
    cache, not into memory. An ESM is loaded (parsed and validated) when it is taken, so
    memory holds only what the consumer holds.

    Args:
        items: Catalog entries, repo ids, ESM folders, :class:`Esm` objects or
            :class:`EsmRef`\\ s; consumed as the downloads advance.
        store: Where repo ids are read from.
        jobs: Downloads at the same time.
        embedding_dim: The base model's dimension: ESMs of another are refused, before
            their weights are downloaded when their config says so.
        progress: Show a progress bar; ``None``: only when stderr is a terminal.
        total: Number of items, for the progress bar (``len(items)`` when it has one).
        prefetch: ESMs downloaded ahead of the consumer (default ``32 × jobs``).

    Returns:
        An iterator of one :class:`FetchedEsm` per item; failed ones carry
        :attr:`FetchedEsm.error`. ``close()`` stops it early.

    Raises:
        UsageError: ``jobs`` or ``prefetch`` is below 1, or an item is not a reference to
            an ESM.
    """
    if jobs < 1:
        raise UsageError(f"jobs must be at least 1, got {jobs}")
    ahead = 32 * jobs if prefetch is None else prefetch
    if ahead < 1:
        raise UsageError(f"prefetch must be at least 1, got {prefetch}")
    if total is None and isinstance(items, Sized):
        total = len(items)
    return FetchStream(
        (EsmRef.of(item) for item in items),
        store,
        jobs=jobs,
        embedding_dim=embedding_dim,
        prefetch=ahead,
        progress=progress,
        total=total,
    )
