"""The bundled ranker: score intermediate tasks for a target dataset with ESM-LogME.

- :mod:`.target`: the target dataset, sampled as hfselect samples it;
- :mod:`.options`: the option groups of a ranking (target, scoring; embedding is
  :class:`registry.embedding.EmbeddingOptions`);
- :mod:`.scoring`: LogME, with the fast path for linear ESMs;
- :mod:`.fetch`: ESMs from a store, in parallel, streamed;
- :mod:`.ranking`: the result;
- :mod:`.api`: :func:`rank`, which puts them together.

Names load on first use, so importing the package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .api import find_candidates, rank
    from .fetch import EsmRef, FetchedEsm, fetch_esms, load_esm
    from .options import OptionGroups, ScoringOptions, TargetOptions, route_options
    from .ranking import RankedEsm, Ranking, SkippedEsm
    from .scoring import (
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
    from .target import Target, load_target

_EXPORTS = {
    "find_candidates": ".api",
    "rank": ".api",
    "EsmRef": ".fetch",
    "FetchedEsm": ".fetch",
    "fetch_esms": ".fetch",
    "load_esm": ".fetch",
    "OptionGroups": ".options",
    "ScoringOptions": ".options",
    "TargetOptions": ".options",
    "route_options": ".options",
    "RankedEsm": ".ranking",
    "Ranking": ".ranking",
    "SkippedEsm": ".ranking",
    "DEFAULT_CHUNK_SIZE": ".scoring",
    "DEFAULT_MAX_ITER": ".scoring",
    "DEFAULT_TOL": ".scoring",
    "LogMEResult": ".scoring",
    "TargetStatistics": ".scoring",
    "logme": ".scoring",
    "score_linear": ".scoring",
    "score_linear_batch": ".scoring",
    "score_linear_stream": ".scoring",
    "Target": ".target",
    "load_target": ".target",
}
__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_ITER",
    "DEFAULT_TOL",
    "EsmRef",
    "FetchedEsm",
    "LogMEResult",
    "OptionGroups",
    "RankedEsm",
    "Ranking",
    "ScoringOptions",
    "SkippedEsm",
    "Target",
    "TargetOptions",
    "TargetStatistics",
    "fetch_esms",
    "find_candidates",
    "load_esm",
    "load_target",
    "logme",
    "rank",
    "route_options",
    "score_linear",
    "score_linear_batch",
    "score_linear_stream",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
