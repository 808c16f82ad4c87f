"""The bundled ranker: score intermediate tasks for a target dataset with ESM-LogME."""

from __future__ import annotations

from registry.ranker.scoring import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    LogMEResult,
    TargetStatistics,
    logme,
    score_linear,
    score_linear_batch,
    score_linear_stream,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "LogMEResult",
    "TargetStatistics",
    "logme",
    "score_linear",
    "score_linear_batch",
    "score_linear_stream",
]

# --- the ranker around the LogME core: target, fetching, ranking; and the names of the
# embedding layer and the labelled-data loader it uses --------------------------------------
from registry.embedding import POOLINGS, Embedder, Pooling, default_device, embed_texts
from registry.labelled import TEXT_SEPARATOR, join_columns, sample_indices
from registry.ranker.api import find_candidates, rank
from registry.ranker.fetch import EsmRef, FetchedEsm, fetch_esms, load_esm
from registry.ranker.ranking import RankedEsm, Ranking, SkippedEsm
from registry.ranker.target import Target, load_target

__all__ += [
    "POOLINGS",
    "TEXT_SEPARATOR",
    "Embedder",
    "EsmRef",
    "FetchedEsm",
    "Pooling",
    "RankedEsm",
    "Ranking",
    "SkippedEsm",
    "Target",
    "default_device",
    "embed_texts",
    "fetch_esms",
    "find_candidates",
    "join_columns",
    "load_esm",
    "load_target",
    "rank",
    "sample_indices",
]
