"""Batch ranking and batch training, in this process or on a Ray cluster.

- :mod:`.spec`: the SPEC files of ``rank-batch`` and ``train-batch`` (Pydantic, safe YAML);
- :mod:`.tasks`: the task decomposition, plain functions that any executor runs;
- :mod:`.executors`: :class:`LocalExecutor` and :class:`RayExecutor`, one small interface;
- :mod:`.results`: resume keys and result files;
- :mod:`.ranking`, :mod:`.training`: the drivers.

Example:
    >>> from registry.batch import LocalExecutor, load_rank_spec, rank_batch
    >>> jobs = load_rank_spec("targets.yaml").to_jobs()  # doctest: +SKIP
    >>> with LocalExecutor() as executor:  # doctest: +SKIP
    ...     report = rank_batch(jobs, "rankings", executor)

Names load on first use, so importing the package costs nothing (and never imports Ray).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .executors import (
        EXECUTORS,
        Executor,
        LocalExecutor,
        Outcome,
        RayExecutor,
        Resources,
        open_executor,
    )
    from .ranking import RankBatchReport, TargetResult, rank_batch
    from .spec import RankSpec, SpecError, TrainSpec, load_rank_spec, load_train_spec
    from .tasks import StoreSpec, TargetJob, TrainJob, TrainOutcome
    from .training import TrainBatchReport, train_batch

_EXPORTS = {
    "EXECUTORS": ".executors",
    "Executor": ".executors",
    "LocalExecutor": ".executors",
    "Outcome": ".executors",
    "RayExecutor": ".executors",
    "Resources": ".executors",
    "open_executor": ".executors",
    "RankBatchReport": ".ranking",
    "TargetResult": ".ranking",
    "rank_batch": ".ranking",
    "RankSpec": ".spec",
    "SpecError": ".spec",
    "TrainSpec": ".spec",
    "load_rank_spec": ".spec",
    "load_train_spec": ".spec",
    "StoreSpec": ".tasks",
    "TargetJob": ".tasks",
    "TrainJob": ".tasks",
    "TrainOutcome": ".tasks",
    "TrainBatchReport": ".training",
    "train_batch": ".training",
}
__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "Outcome",
    "RankBatchReport",
    "RankSpec",
    "RayExecutor",
    "Resources",
    "SpecError",
    "StoreSpec",
    "TargetJob",
    "TargetResult",
    "TrainBatchReport",
    "TrainJob",
    "TrainOutcome",
    "TrainSpec",
    "load_rank_spec",
    "load_train_spec",
    "open_executor",
    "rank_batch",
    "train_batch",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
