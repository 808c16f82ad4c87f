"""Train many ESMs: one task per intermediate task, each published as soon as it is ready.

:func:`train_batch` is the driver. It first asks the registry (and the output folder) which
tasks already have an ESM trained from the same inputs (a few requests at a time; those
are ``unchanged`` and cost nothing more), then submits one :func:`~.tasks.train_task` per
remaining task, declaring its resources (a GPU per task when the cluster has GPUs). Each
task trains, saves and publishes its ESM in one commit; a failed task is recorded with its
reason and the others go on. Re-running the same spec resumes: only what is missing or
failed is trained.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .._progress import progress_bar
from ..stores import RegistryStore
from .executors import Executor, Resources
from .tasks import (
    EXPECTED_ERRORS,
    Failure,
    StoreSpec,
    TrainJob,
    TrainOutcome,
    finished,
    train_task,
)

__all__ = ["TrainBatchReport", "train_batch"]

logger = logging.getLogger(__name__)

_CHECKS_AT_ONCE = 8
_ORDER = ("published", "saved", "unchanged", "would-train", "failed")


@dataclass(frozen=True)
class TrainBatchReport:
    """The outcome of a batch training run, one per task in spec order."""

    outcomes: tuple[TrainOutcome, ...]

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def failed(self) -> list[TrainOutcome]:
        """The failed tasks."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def describe(self) -> str:
        """One line such as ``2 published, 1 unchanged, 1 failed``."""
        counts: Counter[str] = Counter(outcome.status for outcome in self.outcomes)
        return ", ".join(f"{counts[s]} {s}" for s in _ORDER if counts.get(s)) or "nothing to do"


def _check(
    job: TrainJob, store: RegistryStore | None, namespace: str | None, output_dir: str | None
) -> TrainOutcome | None:
    try:
        return finished(job, store=store, namespace=namespace, output_dir=output_dir)
    except EXPECTED_ERRORS as exc:
        return TrainOutcome(job.name, "failed", error=Failure.of(exc).reason)


def _clashes(
    jobs: Sequence[TrainJob], namespace: str, decided: dict[int, TrainOutcome]
) -> dict[int, TrainOutcome]:
    """Fail every task whose repo an earlier task of the spec already claims: two ESMs in
    one repo would replace each other on every run."""
    claimed: dict[str, str] = {}
    clashes = {}
    for i, job in enumerate(jobs):
        if i in decided:
            continue
        try:
            repo_id = job.predicted_repo_id(namespace)
        except EXPECTED_ERRORS:
            continue  # the task reports it itself
        if repo_id in claimed:
            reason = f"publishes to {repo_id} like task {claimed[repo_id]!r}; give it a repo_id"
            clashes[i] = TrainOutcome(job.name, "failed", repo_id=repo_id, error=reason)
        else:
            claimed[repo_id] = job.name
    return clashes


def _planned(job: TrainJob, namespace: str | None) -> TrainOutcome:
    try:
        repo_id = None if namespace is None else job.predicted_repo_id(namespace)
    except EXPECTED_ERRORS as exc:
        return TrainOutcome(job.name, "failed", error=Failure.of(exc).reason)
    return TrainOutcome(job.name, "would-train", repo_id=repo_id)


def train_batch(
    jobs: Sequence[TrainJob],
    executor: Executor,
    *,
    registry: StoreSpec | None = None,
    namespace: str | None = None,
    output_dir: str | None = None,
    resources: Resources | None = None,
    plan_only: bool = False,
    progress: bool | None = None,
    task: Callable[..., TrainOutcome] = train_task,
) -> TrainBatchReport:
    """Train the ESMs of ``jobs``; publish each to ``registry`` and/or save it.

    Args:
        jobs: The tasks (see :meth:`registry.batch.spec.TrainSpec.to_jobs`).
        executor: Where the tasks run.
        registry: Publish each ESM there as soon as it is trained (one commit each).
        namespace: Namespace of the repos (default: the store's, asked once).
        output_dir: Also save each ESM folder as ``<output_dir>/<name>``.
        resources: What one task needs (default: a CPU, and a GPU when the cluster has).
        plan_only: Train nothing; report which tasks are ``unchanged`` or ``would-train``.
        progress: A progress bar over the tasks; ``None``: only on a terminal.
        task: The function run per task (:func:`~registry.batch.tasks.train_task`; a
            wrapper of it can add behaviour around each run).

    Returns:
        One outcome per task, in the order of ``jobs``.

    Raises:
        StoreError: the registry cannot tell the namespace of new repos.
    """
    store = registry.open() if registry is not None else None
    if store is not None and namespace is None:
        namespace = store.default_namespace()
    folder = None if output_dir is None else str(Path(output_dir).resolve())
    outcomes: dict[int, TrainOutcome] = {}
    if store is not None or folder is not None:
        with ThreadPoolExecutor(max_workers=_CHECKS_AT_ONCE) as pool:
            checks = list(pool.map(lambda job: _check(job, store, namespace, folder), jobs))
        outcomes = {i: outcome for i, outcome in enumerate(checks) if outcome is not None}
    if namespace is not None:
        outcomes.update(_clashes(jobs, namespace, outcomes))
    todo = [i for i in range(len(jobs)) if i not in outcomes]
    logger.info("%d of %d tasks to train", len(todo), len(jobs))
    if plan_only:
        for i in todo:
            outcomes[i] = _planned(jobs[i], namespace if store is not None else None)
        return TrainBatchReport(tuple(outcomes[i] for i in range(len(jobs))))

    if resources is None:
        resources = Resources(num_cpus=1.0, num_gpus=1.0 if executor.gpus() > 0 else 0.0)
    with progress_bar(total=len(todo), desc="training", unit="esm", progress=progress) as bar:
        pending = {}
        for i in todo:
            (handle,) = executor.submit(
                task, jobs[i], registry, namespace, folder, resources=resources
            )
            pending[handle] = i
        failed = 0
        while pending:
            handle = executor.next_done(list(pending))
            i = pending.pop(handle)
            outcome = executor.outcome(handle)
            if outcome.error is not None:
                if not isinstance(outcome.error, EXPECTED_ERRORS):
                    logger.error("%s failed unexpectedly", jobs[i].name, exc_info=outcome.error)
                result = TrainOutcome(
                    jobs[i].name, "failed", error=Failure.of(outcome.error).reason
                )
            else:
                result = outcome.value
            outcomes[i] = result
            failed += not result.ok
            bar.update(1)
            if failed:
                bar.set_postfix(failed=failed, refresh=False)
    report = TrainBatchReport(tuple(outcomes[i] for i in range(len(jobs))))
    logger.info("train-batch: %s", report.describe())
    return report
