"""``rank()``: score every intermediate task of a registry for one target dataset.

The flow, left to right:

1. load the target and sample ``num_examples`` rows as hfselect does (:mod:`.target`);
2. embed the texts once with the base model, pooled as hfselect pools (:mod:`.embed`);
3. find the candidate ESMs: an explicit list, else the catalog's ESMs of that base model
   (aliases included), else the store's listing (:func:`find_candidates`);
4. stream them from the store on a thread pool (:mod:`.fetch`) into LogME
   (:mod:`.logme`): linear ESMs are scored in batches from the target's statistics without
   building ``X Wᵀ + b``; other architectures through ``esm.apply`` and plain LogME;
5. return a :class:`~registry.ranker.ranking.Ranking`; ESMs that fail to load, do not fit or
   cannot be scored are listed in :attr:`Ranking.skipped` and in one warning.

The same steps are public as stages, so that batch ranking (:mod:`registry.batch`) runs
exactly what :func:`rank` runs, only spread over workers: :func:`select_candidates`,
:func:`prepare_target` (embed and factor once: a :class:`TargetWork`), :func:`score_shard`
(any slice of the candidates against it) and :func:`merge_shards`. :func:`rank` is one shard.

Example:
    >>> ranking = rank("data/reviews.csv", "google-bert/bert-base-uncased",
    ...                registry="hub", text_column="review", label_column="stars")
    ... # doctest: +SKIP
    >>> print(ranking)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..aliases import base_model_ids
from ..catalog import Catalog
from ..embedding import Embedder, EmbeddingOptions
from ..errors import EsmRegistryError, NoEsmsFoundError, UsageError
from ..filters import SearchFilters
from ..stores import RegistryStore, open_store
from .backends import ScoringBackend, resolve_backend
from .fetch import EsmRef, FetchedEsm, fetch_esms
from .options import OptionGroups, ScoringOptions, TargetOptions, route_options
from .ranking import RankedEsm, Ranking, SkippedEsm
from .scoring import (
    DEFAULT_MAX_ITER,
    LogMEResult,
    TargetStatistics,
    logme,
    score_linear,
    score_linear_stream,
)
from .target import Target, TargetSource, load_target

__all__ = [
    "Candidates",
    "ShardScores",
    "TargetInfo",
    "TargetWork",
    "find_candidates",
    "make_embedder",
    "merge_shards",
    "prepare_target",
    "rank",
    "sample_target",
    "score_shard",
    "select_candidates",
]

logger = logging.getLogger(__name__)

_LINEAR = "linear"
_SHOWN_SKIPS = 5


def _open_catalog(catalog: Catalog | str | os.PathLike[str]) -> tuple[Catalog, bool]:
    """The catalog object, and whether this module opened it (and must close it)."""
    if isinstance(catalog, Catalog):
        return catalog, False
    return Catalog(catalog, create=False), True


def find_candidates(
    filters: SearchFilters,
    *,
    store: RegistryStore | None = None,
    catalog: Catalog | str | os.PathLike[str] | None = None,
) -> tuple[list[EsmRef], SearchFilters]:
    """The ESMs that ``filters`` select, each at a known commit, and the filters left over.

    With a ``catalog`` (a :class:`~registry.catalog.Catalog` or its file) its
    :meth:`~registry.catalog.Catalog.search` applies every filter (nothing is left over).
    Without one, the ``store`` is listed by the tags that
    :meth:`~registry.filters.SearchFilters.for_listing` can express (the base model and its
    aliases); the remaining filters are returned, to check on each ESM's metadata.

    Raises:
        UsageError: neither a catalog nor a store.
        CatalogError: the catalog file is missing or unusable.
        StoreError: the store cannot be listed.
    """
    if catalog is not None:
        opened, close = _open_catalog(catalog)
        try:
            hits = opened.search(filters)
            return [EsmRef.of(entry) for entry in hits], SearchFilters()
        finally:
            if close:
                opened.close()
    if store is None:
        raise UsageError("find_candidates needs a catalog or a store")
    tag_sets, residual = filters.for_listing()
    found: dict[str, EsmRef] = {}
    for tags in tag_sets:
        for info in store.list_esms(tags=tags):
            found.setdefault(info.repo_id, EsmRef(repo_id=info.repo_id, sha=info.sha))
    return [found[repo_id] for repo_id in sorted(found)], residual


def _store(registry: RegistryStore | str | None, catalog: Any, token: str | None) -> RegistryStore:
    if isinstance(registry, RegistryStore):
        return registry
    if registry is None and catalog is not None:
        opened, close = _open_catalog(catalog)
        try:
            source = opened.source
        finally:
            if close:
                opened.close()
        if source:
            logger.info("reading ESMs from %s, the registry the catalog mirrors", source)
            return open_store(source, token=token)
    return open_store(registry, token=token)


class _Scorer:
    """Feeds fetched ESMs into LogME; collects entries, skips and convergence counts."""

    def __init__(
        self,
        stats: TargetStatistics,
        features: np.ndarray[Any, Any],
        target: Target,
        *,
        filters: SearchFilters,
        base_ids: set[str],
        chunk_size: int,
        bar: Any,
        backend: ScoringBackend | None = None,
        rank_correction: bool = True,
    ) -> None:
        self.backend = backend if backend is not None else resolve_backend()
        self.rank_correction = rank_correction
        self.stats = stats
        self.features = features
        self.target = target
        self.filters = filters
        self.base_ids = {i.lower() for i in base_ids}
        self.chunk_size = chunk_size
        self.bar = bar
        self.entries: list[RankedEsm] = []
        self.skipped: list[SkippedEsm] = []
        self.filtered = 0
        self._in_flight: deque[FetchedEsm] = deque()

    def skip(self, source: str, reason: str) -> None:
        self.skipped.append(SkippedEsm(source, reason))
        self.bar.update(1)

    def add(self, item: FetchedEsm, result: LogMEResult) -> None:
        esm = item.esm
        assert esm is not None
        if not np.isfinite(result.score):
            self.skip(item.source, "LogME returned a non-finite score")
            return
        self.entries.append(
            RankedEsm(
                0,
                float(result.score),
                item.ref.repo_id,
                item.sha,
                esm.metadata,
                converged=result.converged,
                source=item.source,
            )
        )
        self.bar.update(1)

    def _linear_pairs(self, fetched: Iterable[FetchedEsm]) -> Iterator[tuple[Any, Any]]:
        for item in fetched:
            if not item.ok or item.esm is None:
                self.skip(item.source, item.error or "cannot be loaded")
                continue
            metadata = item.esm.metadata
            if self.filters.given() and not self.filters.matches(metadata):
                self.filtered += 1
                self.bar.update(1)
                continue
            if metadata.base_model.lower() not in self.base_ids:
                logger.warning(
                    "%s was trained for %s, not for the base model of this ranking",
                    item.source,
                    metadata.base_model,
                )
            if metadata.architecture != _LINEAR:
                self._score_general(item)
                continue
            self._in_flight.append(item)
            yield item.esm.weight, item.esm.bias

    def _score_general(self, item: FetchedEsm) -> None:
        """Any architecture: LogME of ``esm.apply(X)``, as hfselect computes it."""
        assert item.esm is not None
        try:
            features = np.asarray(item.esm.apply(self.features), dtype=np.float64)
            result = logme(
                features,
                self.target.labels,
                regression=self.target.regression,
                rank_correction=self.rank_correction,
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError, EsmRegistryError) as exc:
            self.skip(item.source, f"scoring failed: {exc}")
            return
        self.add(item, result)

    def run(self, fetched: Iterable[FetchedEsm]) -> None:
        """Score everything; a chunk that fails is re-scored one ESM at a time."""
        source = self._linear_pairs(fetched)
        while True:
            stream = score_linear_stream(
                self.stats,
                source,
                chunk_size=self.chunk_size,
                rank_correction=self.rank_correction,
                backend=self.backend,
            )
            try:
                for result in stream:
                    self.add(self._in_flight.popleft(), result)
                return
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                logger.info("scoring a chunk of ESMs failed (%s); scoring them one by one", exc)
                while self._in_flight:
                    self._score_single(self._in_flight.popleft())

    def _score_single(self, item: FetchedEsm) -> None:
        assert item.esm is not None
        try:
            result = score_linear(
                self.stats,
                item.esm.weight,
                item.esm.bias,
                rank_correction=self.rank_correction,
                backend=self.backend,
            )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            self.skip(item.source, f"scoring failed: {exc}")
            return
        self.add(item, result)


def _notes(entries: Sequence[RankedEsm], num_examples: int, dim: int) -> list[str]:
    notes = []
    stalled = [e for e in entries if not e.converged]
    if stalled:
        notes.append(
            f"LogME did not converge within {DEFAULT_MAX_ITER} iterations for "
            f"{len(stalled)} of {len(entries)} ESMs (marked converged=false); their scores "
            "are less reliable"
        )
    if num_examples <= dim:
        notes.append(
            f"the target has {num_examples} examples for {dim}-dimensional embeddings; LogME "
            "is more reliable with more examples than dimensions"
        )
    return notes


def _warn_skipped(skipped: Sequence[SkippedEsm], total: int) -> None:
    if not skipped:
        return
    shown = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:_SHOWN_SKIPS])
    more = f"; and {len(skipped) - _SHOWN_SKIPS} more" if len(skipped) > _SHOWN_SKIPS else ""
    logger.warning("%d of %d ESMs were skipped: %s%s", len(skipped), total, shown, more)


# --- the stages of a ranking ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidates:
    """The ESMs to score for one ranking.

    Attributes:
        refs: The candidates, each at a known commit when it came from a listing.
        residual: Filters the listing could not apply, checked on each ESM's metadata.
        store: Where repo ids are read from (``None`` when every ESM was given as an object
            or a folder).
    """

    refs: list[EsmRef]
    residual: SearchFilters
    store: RegistryStore | None


@dataclass(frozen=True)
class TargetInfo:
    """What merging a target's shards needs: small, so it can travel back to a driver.

    Attributes:
        base_model: The base model the target was embedded with.
        pooling: The pooling of the embeddings.
        summary: The target summary of the ranking (:attr:`Ranking.target`).
        num_examples: N, the target's examples.
        embedding_dim: D, the embedding dimension.
    """

    base_model: str
    pooling: str
    summary: dict[str, Any]
    num_examples: int
    embedding_dim: int


@dataclass(frozen=True, eq=False)
class TargetWork:
    """A target embedded and factored once: what every shard of its ESMs is scored against.

    Attributes:
        info: See :class:`TargetInfo`.
        target: The sampled target (its labels score non-linear ESMs).
        features: The target's embeddings, ``(N, D)``.
        stats: The factored target, for linear ESMs.
    """

    info: TargetInfo
    target: Target
    features: np.ndarray[Any, Any]
    stats: TargetStatistics


@dataclass(frozen=True)
class ShardScores:
    """The outcome of scoring one slice of the candidates.

    Attributes:
        entries: Scored ESMs (unranked).
        skipped: ESMs that could not be scored, with the reason.
        filtered: ESMs left out by the residual filters.
    """

    entries: tuple[RankedEsm, ...] = ()
    skipped: tuple[SkippedEsm, ...] = ()
    filtered: int = 0


def select_candidates(
    base_model: str,
    filters: SearchFilters,
    *,
    esms: Iterable[Any] | None = None,
    registry: RegistryStore | str | None = None,
    catalog: Catalog | str | os.PathLike[str] | None = None,
    token: str | None = None,
) -> Candidates:
    """The candidates of a ranking: ``esms`` when given, else what the filters select.

    Raises:
        NoEsmsFoundError: no candidate at all.
        UsageError, CatalogError, StoreError: see :func:`rank`.
    """
    filters = replace(filters, base_model=base_model)
    store: RegistryStore | None = None
    if esms is not None:
        refs = [EsmRef.of(item) for item in esms]
        residual = replace(filters, base_model=None)  # a mismatch only warns, when scoring
        if residual.has_problems is not None:
            raise UsageError("the has_problems filter needs ESMs from a catalog")
        if any(ref.repo_id is not None for ref in refs):
            store = _store(registry, catalog, token)
    else:
        store = _store(registry, catalog, token)
        refs, residual = find_candidates(filters, store=store, catalog=catalog)
    if not refs:
        where = f" in {store.location}" if store is not None else ""
        narrowed = replace(filters, base_model=None).describe()
        raise NoEsmsFoundError(
            f"no ESMs for the base model {base_model}{where}"
            f"{f' matching {narrowed}' if narrowed else ''}; check the model id (Hub ids "
            "such as 'google-bert/bert-base-uncased'), relax the filters, or sync the catalog"
        )
    logger.info("%d candidate ESM(s) for %s", len(refs), base_model)
    return Candidates(refs, residual, store)


def sample_target(source: TargetSource, sampling: TargetOptions) -> Target:
    """Load the target and draw the sample that ``sampling`` describes.

    Raises:
        UsageError, DatasetError: see :func:`~registry.ranker.target.load_target`.
    """
    return load_target(
        source,
        text_column=sampling.text_column,
        label_column=sampling.label_column,
        regression=sampling.regression,
        num_examples=sampling.num_examples,
        seed=sampling.seed,
        subset=sampling.subset,
        split=sampling.split,
    )


def make_embedder(base_model: str, embedding: EmbeddingOptions) -> Embedder:
    """The embedder of ``base_model`` with these options; the model loads on first use."""
    return Embedder(
        embedding.model_path if embedding.model_path is not None else base_model,
        model_id=base_model,
        pooling=embedding.pooling,
        device=embedding.device,
        cache_dir=embedding.cache_dir,
    )


def prepare_target(
    target: Target,
    base_model: str,
    embedding: EmbeddingOptions,
    *,
    progress: bool | None = False,
    embedder: Embedder | None = None,
) -> TargetWork:
    """Embed the sampled target once and factor it for LogME.

    ``embedder`` is the one :func:`make_embedder` made for these options, when the caller
    needed it earlier (to learn the embedding dimension before the model runs).

    Raises:
        ModelLoadError: the base model cannot be loaded.
    """
    embedder = embedder if embedder is not None else make_embedder(base_model, embedding)
    features = embedder.embed(
        target.texts,
        batch_size=embedding.batch_size,
        max_length=embedding.max_length,
        progress=progress,
    )
    stats = TargetStatistics.from_embeddings(features, target.labels, regression=target.regression)
    summary = target.describe()
    summary.update(
        {
            "embedding_dim": int(features.shape[1]),
            "max_length": embedding.max_length,
            "model_revision": embedder.revision,
        }
    )
    info = TargetInfo(
        base_model=base_model,
        pooling=embedder.pooling,
        summary=summary,
        num_examples=len(target),
        embedding_dim=int(features.shape[1]),
    )
    return TargetWork(info, target, features, stats)


def score_shard(
    work: TargetWork,
    refs: Sequence[EsmRef],
    store: RegistryStore | None,
    *,
    filters: SearchFilters,
    scoring: ScoringOptions,
    backend: ScoringBackend | None = None,
    progress: bool | None = False,
    fetched: Iterable[FetchedEsm] | None = None,
) -> ShardScores:
    """Fetch ``refs`` from ``store`` and score them against the prepared target.

    Every ESM that cannot be fetched or scored is skipped with its reason; nothing raises
    for one bad ESM.

    Args:
        backend: The backend ``scoring`` names, when the caller resolved it already (``rank``
            does, on the embedding's device, so that a backend that cannot run fails
            before the model does); resolved here otherwise.
        fetched: The outcome of :func:`~registry.ranker.fetch.fetch_esms` for ``refs``,
            when the caller started the downloads early (``rank`` does, to overlap them
            with the embedding); fetched here otherwise.
    """
    if fetched is None:
        fetched = fetch_esms(
            refs, store, jobs=scoring.jobs, embedding_dim=work.info.embedding_dim, progress=progress
        )
    if backend is None:
        backend = resolve_backend(scoring.backend, dtype=scoring.dtype, threads=scoring.threads)
    with progress_bar(total=len(refs), desc="scoring ESMs", unit="esm", progress=progress) as bar:
        scorer = _Scorer(
            work.stats,
            work.features,
            work.target,
            filters=filters,
            base_ids=set(base_model_ids(work.info.base_model)),
            chunk_size=scoring.chunk_size,
            bar=bar,
            rank_correction=scoring.rank_correction,
            backend=backend,
        )
        scorer.run(fetched)
    return ShardScores(tuple(scorer.entries), tuple(scorer.skipped), scorer.filtered)


def merge_shards(info: TargetInfo, shards: Iterable[ShardScores], *, total: int) -> Ranking:
    """One :class:`Ranking` from the shards of a target, in any number and order of ESMs.

    Args:
        info: The prepared target's :class:`TargetInfo`.
        shards: Every shard's scores, in the order of the candidates (for the skip list).
        total: Number of candidates, for the warning about skipped ESMs.
    """
    entries: list[RankedEsm] = []
    skipped: list[SkippedEsm] = []
    filtered = 0
    for shard in shards:
        entries.extend(shard.entries)
        skipped.extend(shard.skipped)
        filtered += shard.filtered
    _warn_skipped(skipped, total)
    if filtered:
        logger.info("%d ESM(s) did not match the filters", filtered)
    return Ranking(
        entries,
        base_model=info.base_model,
        pooling=info.pooling,
        target=info.summary,
        skipped=skipped,
        notes=_notes(entries, info.num_examples, info.embedding_dim),
    )


def rank(
    target: TargetSource,
    base_model: str,
    *,
    registry: RegistryStore | str | None = None,
    catalog: Catalog | str | os.PathLike[str] | None = None,
    esms: Iterable[Any] | None = None,
    filters: SearchFilters | None = None,
    options: OptionGroups | None = None,
    token: str | None = None,
    progress: bool | None = True,
    **keywords: Any,
) -> Ranking:
    """Rank intermediate tasks for ``target`` by the ESM-LogME score of their ESMs.

    Args:
        target: The target data: a Hub dataset id, a shipped task, a local
            csv/tsv/json/jsonl/parquet file (optionally gzipped), a ``datasets.Dataset``, a
            pandas ``DataFrame``, a dict of columns, a ``(texts, labels)`` pair, or a loaded
            :class:`~registry.ranker.target.Target`.
        base_model: Hub id of the base language model; ESMs are matched by it (aliases
            included) and the target is embedded with it.
        registry: Where the ESMs are read from: a store, or what
            :func:`~registry.stores.open_store` accepts (``"hub"``, a URL, a folder).
            Default: the registry the catalog mirrors, else the embedded local store.
        catalog: A :class:`~registry.catalog.Catalog` or its file, searched for the
            candidates. Without one the registry is listed by tags.
        esms: Rank exactly these instead: :class:`~registry.esm.Esm` objects, ESM
            folders, repo ids (read from ``registry``) or catalog entries.
        filters: Only ESMs that pass these :class:`~registry.filters.SearchFilters`
            (architecture, task, language, size, …); the base model is ``base_model``.
        options: The target, embedding and scoring option groups
            (:class:`~registry.ranker.options.OptionGroups`).
        token: Hub token for a Hub registry.
        progress: Progress bars for embedding, fetching and scoring; ``None``: only when
            stderr is a terminal.
        keywords: Any field of :class:`~registry.ranker.options.TargetOptions`
            (``text_column``, ``label_column``, ``num_examples``, ``seed``, …),
            :class:`~registry.embedding.EmbeddingOptions` (``batch_size``, ``max_length``,
            ``pooling``, ``device``, ``model_path``, ``cache``),
            :class:`~registry.ranker.options.ScoringOptions` (``jobs``, ``chunk_size``,
            ``backend``, ``dtype``, ``threads``, ``rank_correction``) or
            :class:`~registry.filters.SearchFilters`, set on top of ``options``.

    Returns:
        The ranking, best first, with skipped ESMs and scoring notes.

    Raises:
        UsageError: invalid arguments or an unknown keyword.
        DatasetError: the target cannot be used (unreadable, missing column, no rows).
        NoEsmsFoundError: no ESM matches the base model and filters.
        ModelLoadError: the base model cannot be loaded.
        CatalogError, StoreError: the catalog or registry cannot be read.
    """
    groups = route_options(options, **keywords)
    if filters is not None:
        groups = replace(groups, filters=SearchFilters.of(filters, **groups.filters.given()))
    loaded = sample_target(target, groups.target)
    # Candidates before the (slower) embedding, so a typo in the base model fails fast.
    found = select_candidates(
        base_model, groups.filters, esms=esms, registry=registry, catalog=catalog, token=token
    )
    scoring = groups.scoring
    backend = resolve_backend(
        scoring.backend,
        device=groups.embedding.device,
        dtype=scoring.dtype,
        threads=scoring.threads,
    )
    embedder = make_embedder(base_model, groups.embedding)
    # Downloads start here and overlap the embedding.
    fetched = fetch_esms(
        found.refs,
        found.store,
        jobs=scoring.jobs,
        embedding_dim=embedder.embedding_dim,
        progress=progress,
    )
    try:
        work = prepare_target(
            loaded, base_model, groups.embedding, progress=progress, embedder=embedder
        )
    except BaseException:
        fetched.close()  # the downloads started above stop with the ranking
        raise
    shard = score_shard(
        work,
        found.refs,
        found.store,
        filters=found.residual,
        scoring=scoring,
        backend=backend,
        progress=progress,
        fetched=fetched,
    )
    return merge_shards(work.info, [shard], total=len(found.refs))
