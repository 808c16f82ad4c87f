"""Rank the registry for many targets: each target embedded once, its ESMs scored in shards.

:func:`rank_batch` is the driver. Per target it lists the candidates and computes the
resume key here (cheap), skips a target whose result for the same key exists, and hands
the expensive work to the executor: one prepare task per target, one task per shard of its
ESMs, each shard reading the prepared target from the object store and its ESMs from the
registry. A few targets are in flight at once (as many as the cluster has CPUs, one
in-process), which bounds the memory held by prepared targets. When a target's shards are
in, their scores are merged into the ranking that :func:`registry.ranker.rank` would
return, written to ``DIR/<name>.json``; ``DIR/summary.md`` shows every target's best tasks
side by side.

A target that fails (unreadable data, a missing column, no ESMs) is recorded with its
reason and the others go on.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .._io import atomic_write
from .._progress import progress_bar
from ..catalog import Catalog
from ..paths import default_local_registry
from ..ranker.api import Candidates, ShardScores, TargetInfo, merge_shards
from ..ranker.fetch import EsmRef
from ..stores import RegistryStore
from .executors import Executor, Outcome, Resources
from .results import ResultFolder, inputs_key, rank_inputs
from .tasks import (
    EXPECTED_ERRORS,
    Failure,
    StoreSpec,
    TargetJob,
    find_candidates,
    plan_shards,
    prepare_target_task,
    score_shard_task,
)

__all__ = ["SUMMARY_NAME", "RankBatchReport", "TargetResult", "rank_batch", "render_summary"]

logger = logging.getLogger(__name__)

#: The summary file of the output directory.
SUMMARY_NAME = "summary.md"
_SUMMARY_TOP = 10


@dataclass(frozen=True)
class TargetResult:
    """What became of one target.

    Attributes:
        name: The target's name.
        status: ``ranked`` (computed now), ``up to date`` (an earlier result for the same
            inputs was kept) or ``failed``.
        path: Its ``<name>.json`` (not for failures).
        candidates: Number of candidate ESMs.
        ranked: ESMs in the ranking.
        skipped: ESMs that could not be scored.
        seconds: Time from its first task to its merge (0 when not computed).
        error: Why it failed, in one line.
    """

    name: str
    status: Literal["ranked", "up to date", "failed"]
    path: Path | None = None
    candidates: int = 0
    ranked: int = 0
    skipped: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """False when the target failed."""
        return self.status != "failed"


@dataclass(frozen=True)
class RankBatchReport:
    """The outcome of a batch ranking, one result per target in spec order."""

    results: tuple[TargetResult, ...]
    summary_path: Path

    @property
    def ok(self) -> bool:
        """True when no target failed."""
        return all(result.ok for result in self.results)

    @property
    def failed(self) -> list[TargetResult]:
        """The failed targets."""
        return [result for result in self.results if not result.ok]


@dataclass
class _Plan:
    """A target on its way through the executor."""

    job: TargetJob
    key: str
    candidates: Candidates
    shards: list[list[EsmRef]]
    started: float = 0.0
    info: TargetInfo | None = None
    work: Any = None  # the handle of the prepared target (kept alive while shards need it)
    scores: dict[int, ShardScores] = field(default_factory=dict)
    done: bool = False


def _store_spec(job: TargetJob) -> StoreSpec:
    """The registry as a string every worker can open: the catalog's source or the
    embedded default made explicit (workers may have another home folder)."""
    registry = job.store.registry
    if registry is None and job.catalog is not None:
        catalog = Catalog(job.catalog, create=False)
        try:
            registry = catalog.source
        finally:
            catalog.close()
    if registry is None:
        registry = str(default_local_registry())
    return StoreSpec(registry, token=job.store.token)


class _Candidates:
    """Candidate lists per distinct query, so that targets sharing one list it once."""

    def __init__(self) -> None:
        self._stores: dict[str, RegistryStore] = {}
        self._found: dict[tuple[Any, ...], Candidates] = {}

    def __call__(self, job: TargetJob) -> Candidates:
        spec = job.store
        assert spec.registry is not None
        query = (spec.registry, job.catalog, job.base_model, job.groups.filters, job.esms)
        if query not in self._found:
            store = self._stores.get(spec.registry)
            if store is None:
                store = self._stores[spec.registry] = spec.open()
            self._found[query] = find_candidates(job, store)
        return self._found[query]


def rank_batch(
    jobs: Sequence[TargetJob],
    output_dir: str | os.PathLike[str],
    executor: Executor,
    *,
    force: bool = False,
    top: int = _SUMMARY_TOP,
    progress: bool | None = None,
) -> RankBatchReport:
    """Rank every target of ``jobs``; write ``<name>.json`` per target and ``summary.md``.

    Args:
        jobs: The targets (see :meth:`registry.batch.spec.RankSpec.to_jobs`).
        output_dir: Where results go (created when missing).
        executor: Where the tasks run (:mod:`registry.batch.executors`).
        force: Recompute targets whose result for the same inputs exists.
        top: Tasks per target in the summary.
        progress: A progress bar over every target's ESMs; ``None``: only on a terminal.

    Returns:
        One result per target, in the order of ``jobs``.
    """
    folder = ResultFolder(output_dir)
    folder.root.mkdir(parents=True, exist_ok=True)
    results: dict[str, TargetResult] = {}
    plans: deque[_Plan] = deque()
    candidates = _Candidates()
    for job in jobs:
        try:
            job = replace(job, store=_store_spec(job))
            found = candidates(job)
            key = inputs_key(rank_inputs(job, found.refs))
        except EXPECTED_ERRORS as exc:
            results[job.name] = _failed(job.name, Failure.of(exc).reason)
            continue
        if not force and folder.recorded_key(job.name) == key:
            results[job.name] = _up_to_date(job.name, folder, len(found.refs))
            logger.info("%s: up to date", job.name)
            continue
        folder.forget(job.name)
        shards = plan_shards(found.refs, job.shard_size, job.groups.scoring.chunk_size)
        plans.append(_Plan(job, key, found, shards))

    total = sum(len(plan.candidates.refs) for plan in plans)
    with progress_bar(total=total, desc="ranking", unit="esm", progress=progress) as bar:
        runner = _Runner(executor, folder, results, bar, targets=len(plans))
        runner.run(plans)
    ordered = tuple(results[job.name] for job in jobs)
    summary = folder.root / SUMMARY_NAME
    atomic_write(summary, render_summary(ordered, folder, top=top))
    return RankBatchReport(ordered, summary)


class _Runner:
    """The event loop of a batch ranking: submit, wait for any task, react, repeat."""

    def __init__(
        self,
        executor: Executor,
        folder: ResultFolder,
        results: dict[str, TargetResult],
        bar: Any,
        *,
        targets: int,
    ) -> None:
        self.executor = executor
        self.folder = folder
        self.results = results
        self.bar = bar
        self.targets = targets
        self.pending: dict[Any, Callable[[Outcome], None]] = {}
        self.active = self.finished = self.failed = 0
        gpus = 1.0 if executor.gpus() > 0 else 0.0
        self.prepare_needs = Resources(num_cpus=1.0, num_gpus=gpus)
        self.shard_needs = Resources(num_cpus=1.0)

    def run(self, plans: deque[_Plan]) -> None:
        window = max(1, self.executor.parallelism)
        while plans or self.pending:
            while plans and self.active < window:
                self._start(plans.popleft())
            if not self.pending:
                continue
            handle = self.executor.next_done(list(self.pending))
            react = self.pending.pop(handle)
            react(self.executor.outcome(handle))

    def _start(self, plan: _Plan) -> None:
        self.active += 1
        plan.started = time.perf_counter()
        info, work = self.executor.submit(
            prepare_target_task, plan.job, resources=self.prepare_needs, returns=2
        )
        plan.work = work
        self.pending[info] = lambda outcome: self._prepared(plan, outcome)

    def _prepared(self, plan: _Plan, outcome: Outcome) -> None:
        value = self._value(plan, outcome)
        if value is None:
            return
        plan.info = value
        if not plan.shards:
            self._merge(plan)
        scoring = plan.job.groups.scoring
        if scoring.threads is None and self.executor.parallelism > 1:
            # Shards run side by side, each on the cores it reserved: never more threads.
            scoring = replace(scoring, threads=max(1, int(self.shard_needs.num_cpus)))
        for index, refs in enumerate(plan.shards):
            (handle,) = self.executor.submit(
                score_shard_task,
                plan.work,
                refs,
                plan.job.store,
                plan.candidates.residual,
                scoring,
                resources=self.shard_needs,
            )
            self.pending[handle] = self._on_scored(plan, index)

    def _on_scored(self, plan: _Plan, index: int) -> Callable[[Outcome], None]:
        return lambda outcome: self._scored(plan, index, outcome)

    def _scored(self, plan: _Plan, index: int, outcome: Outcome) -> None:
        if plan.done:
            return  # the target already failed
        value = self._value(plan, outcome)
        if value is None:
            return
        plan.scores[index] = value
        self.bar.update(len(plan.shards[index]))
        if len(plan.scores) == len(plan.shards):
            self._merge(plan)

    def _merge(self, plan: _Plan) -> None:
        assert plan.info is not None
        shards = [plan.scores[i] for i in range(len(plan.shards))]
        ranking = merge_shards(plan.info, shards, total=len(plan.candidates.refs))
        path = self.folder.write(plan.job.name, ranking.to_json() + "\n", plan.key)
        self._finish(
            plan,
            TargetResult(
                plan.job.name,
                "ranked",
                path=path,
                candidates=len(plan.candidates.refs),
                ranked=len(ranking),
                skipped=len(ranking.skipped),
                seconds=time.perf_counter() - plan.started,
            ),
        )

    def _value(self, plan: _Plan, outcome: Outcome) -> Any:
        """The task's value, or ``None`` after recording the target as failed."""
        if outcome.error is not None:
            error = outcome.error
            if not isinstance(error, EXPECTED_ERRORS):
                logger.error("%s failed unexpectedly", plan.job.name, exc_info=error)
            self._fail(plan, Failure.of(error).reason)
            return None
        if isinstance(outcome.value, Failure):
            self._fail(plan, outcome.value.reason)
            return None
        return outcome.value

    def _fail(self, plan: _Plan, reason: str) -> None:
        logger.warning("%s failed: %s", plan.job.name, reason)
        left = sum(len(refs) for i, refs in enumerate(plan.shards) if i not in plan.scores)
        self.bar.update(left)
        self._finish(plan, _failed(plan.job.name, reason, len(plan.candidates.refs)))

    def _finish(self, plan: _Plan, result: TargetResult) -> None:
        plan.done = True
        plan.work = None  # the prepared target may leave the object store now
        plan.scores.clear()
        self.results[plan.job.name] = result
        self.active -= 1
        self.finished += 1
        self.failed += not result.ok
        postfix = {"targets": f"{self.finished}/{self.targets}"}
        if self.failed:
            postfix["failed"] = str(self.failed)
        self.bar.set_postfix(postfix, refresh=False)


def _failed(name: str, reason: str, candidates: int = 0) -> TargetResult:
    return TargetResult(name, "failed", candidates=candidates, error=reason)


def _up_to_date(name: str, folder: ResultFolder, candidates: int) -> TargetResult:
    data = folder.read(name) or {}
    entries = data.get("entries")
    skipped = data.get("skipped")
    return TargetResult(
        name,
        "up to date",
        path=folder.result_path(name),
        candidates=candidates,
        ranked=len(entries) if isinstance(entries, list) else 0,
        skipped=len(skipped) if isinstance(skipped, list) else 0,
    )


# --- the summary ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _task_name(entry: dict[str, Any]) -> str:
    task = str(entry.get("task_id") or entry.get("repo_id") or "?")
    subset = entry.get("task_subset")
    return f"{task} ({subset})" if subset else task


def render_summary(
    results: Iterable[TargetResult], folder: ResultFolder, *, top: int = _SUMMARY_TOP
) -> str:
    """``summary.md``: every target's status, then the best ``top`` tasks side by side."""
    results = list(results)
    failed = sum(not r.ok for r in results)
    counts = f"{len(results) - failed} of {len(results)} targets ranked"
    lines = [
        "# Batch ranking",
        "",
        counts + (f", {failed} failed." if failed else "."),
        "",
        "| target | status | base model | ESMs ranked | skipped | detail |",
        "|---|---|---|---:|---:|---|",
    ]
    tops: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        data = folder.read(result.name) if result.ok else None
        base = data.get("base_model") if data else None
        entries = data.get("entries") if data else None
        if isinstance(entries, list):
            tops[result.name] = [e for e in entries[:top] if isinstance(e, dict)]
        detail = result.error or (result.path.name if result.path else "")
        ranked, skipped = ("", "") if not result.ok else (result.ranked, result.skipped)
        lines.append(
            f"| {_cell(result.name)} | {result.status} | {_cell(base)} | {ranked} | "
            f"{skipped} | {_cell(detail)} |"
        )
    if tops:
        names = list(tops)
        lines += [
            "",
            f"## Top {top} intermediate tasks per target",
            "",
            "| rank | " + " | ".join(_cell(name) for name in names) + " |",
            "|---:|" + "---|" * len(names),
        ]
        depth = max(len(entries) for entries in tops.values())
        for row in range(depth):
            cells = []
            for name in names:
                entries = tops[name]
                if row < len(entries):
                    score = entries[row].get("score")
                    shown = f"{score:.4f}" if isinstance(score, float) else "n/a"
                    cells.append(f"{_cell(_task_name(entries[row]))} · {shown}")
                else:
                    cells.append("")
            lines.append(f"| {row + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
