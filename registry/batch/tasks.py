"""The task decomposition of batch ranking and batch training: plain functions, any backend.

Ranking one target is the stages of :func:`registry.ranker.rank`, spread out:

* on the driver, :func:`find_candidates` lists the candidate ESMs (catalog or store listing)
  and :func:`plan_shards` cuts them into shards;
* one :func:`prepare_target_task` per target loads and samples it, embeds it once and
  factors it: a :class:`~registry.ranker.api.TargetWork` (the statistics every shard needs)
  and a small :class:`~registry.ranker.api.TargetInfo` for the driver;
* one :func:`score_shard_task` per shard re-opens the registry from its :class:`StoreSpec`,
  fetches its ESMs itself and scores them against the prepared target;
* the driver merges the shards with :func:`~registry.ranker.api.merge_shards`.

Training is one :func:`train_task` per intermediate task: train, save and/or publish. It
first asks the registry (and the output folder) whether an ESM made from exactly these
inputs is already there (the inputs' hash is recorded in its ``config.json`` under
:data:`INPUTS_KEY`), so a re-run skips finished work and a retried task (its worker died
after the commit landed) makes no second commit, whether or not training is bit-for-bit
reproducible.

Task functions never raise for a user's mistake or a store failure: they return a
:class:`Failure` with a one-line reason, so one bad target or task fails alone and no
traceback reaches the user. Only bugs raise.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..card import render_card
from ..embedding import EmbeddingOptions, resolve_model
from ..errors import EsmRegistryError, RepoNotFoundError
from ..esm import Esm
from ..filters import SearchFilters
from ..metadata import EsmMetadata, Hyperparameters
from ..paths import CONFIG_NAME
from ..publish import default_repo_id, publish_esm
from ..ranker.api import (
    Candidates,
    ShardScores,
    TargetInfo,
    TargetWork,
    prepare_target,
    sample_target,
    score_shard,
    select_candidates,
)
from ..ranker.fetch import EsmRef
from ..ranker.options import OptionGroups, ScoringOptions
from ..stores import RegistryStore, open_store
from ..train import EsmTrainingConfig, LMTrainingConfig, load_intermediate, train_esm

__all__ = [
    "EXPECTED_ERRORS",
    "INPUTS_KEY",
    "Failure",
    "StoreSpec",
    "TargetJob",
    "TrainJob",
    "TrainOutcome",
    "find_candidates",
    "plan_shards",
    "prepare_target_task",
    "recorded_key",
    "score_shard_task",
    "train_task",
]

logger = logging.getLogger(__name__)

#: Errors that are the input's or the environment's fault, reported in one line each.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (EsmRegistryError, OSError, ValueError)
#: The ``config.json`` key (an extra metadata key) that records the hash of the inputs an
#: ESM was trained from.
INPUTS_KEY = "training_inputs_sha256"

_MAX_REASON = 400


@dataclass(frozen=True)
class Failure:
    """Why a target or a task failed, in one line."""

    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The one-line reason of an exception (type name added for non-library errors)."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, EsmRegistryError | OSError):
            text = f"{type(exc).__name__}: {text}"
        return cls(text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…")


@dataclass(frozen=True)
class StoreSpec:
    """How a worker re-opens a registry store: never an open connection, never logged.

    Attributes:
        registry: What :func:`~registry.stores.open_store` accepts (``hub``, a URL or an
            absolute folder); ``None`` (the embedded default) is made explicit by the
            driver before any task sees it, since workers may have another home folder.
        token: A Hub token given explicitly; ``None``: each worker uses its own
            (``HF_TOKEN`` or its saved login). Left out of ``repr``, logs and result files.
    """

    registry: str | None
    token: str | None = field(default=None, repr=False, compare=False)

    def open(self) -> RegistryStore:
        """Open the store (cheap: no request is made)."""
        return open_store(self.registry, token=self.token)


# --- ranking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetJob:
    """One target of a batch ranking, with every option resolved.

    Attributes:
        name: The target's name (its result is ``<name>.json``).
        dataset: A file (absolute path), a shipped task or a Hub dataset id.
        base_model: Hub id of the base model.
        groups: The target, embedding, scoring and filter options.
        store: The registry the ESMs are read from.
        catalog: A catalog file to search for candidates (``None``: list the registry).
        esms: Rank exactly these (repo ids or ESM folders) instead of searching.
        shard_size: ESMs per shard.
    """

    name: str
    dataset: str
    base_model: str
    groups: OptionGroups
    store: StoreSpec
    catalog: str | None = None
    esms: tuple[str, ...] | None = None
    shard_size: int = 64


def find_candidates(job: TargetJob, store: RegistryStore) -> Candidates:
    """The target's candidates (on the driver); explicit repo ids are pinned to their head.

    Pinning makes every shard read the same commit and lets the resume key tell when an
    explicitly named ESM changed.

    Raises:
        NoEsmsFoundError, UsageError, CatalogError, StoreError: as :func:`rank` does.
    """
    found = select_candidates(
        job.base_model,
        job.groups.filters,
        esms=job.esms,
        registry=store,
        catalog=job.catalog,
    )
    refs = []
    for ref in found.refs:
        if ref.repo_id is not None and ref.sha is None:
            try:
                ref = replace(ref, sha=store.repo_info(ref.repo_id).sha)
            except EXPECTED_ERRORS as exc:  # scored as rank() scores it: skipped, with a reason
                logger.debug("cannot pin %s: %s", ref.repo_id, exc)
        refs.append(ref)
    return replace(found, refs=refs)


def plan_shards(refs: Sequence[EsmRef], shard_size: int, chunk_size: int) -> list[list[EsmRef]]:
    """Cut the candidates into shards whose sizes are multiples of ``chunk_size``.

    Whole chunks keep the batched LogME calls of a shard the same as in one process.

    Example:
        >>> [len(s) for s in plan_shards([EsmRef(repo_id=f"a/{i}") for i in range(20)], 6, 4)]
        [8, 8, 4]
    """
    size = max(1, math.ceil(shard_size / chunk_size)) * chunk_size
    return [list(refs[start : start + size]) for start in range(0, len(refs), size)]


def prepare_target_task(job: TargetJob) -> tuple[TargetInfo | Failure, TargetWork | None]:
    """Load, sample, embed and factor one target: its info, and the work every shard reads."""
    try:
        target = sample_target(job.dataset, job.groups.target)
        work = prepare_target(target, job.base_model, job.groups.embedding, progress=False)
    except EXPECTED_ERRORS as exc:
        return Failure.of(exc), None
    return work.info, work


def score_shard_task(
    work: TargetWork,
    refs: Sequence[EsmRef],
    store: StoreSpec,
    filters: SearchFilters,
    scoring: ScoringOptions,
) -> ShardScores | Failure:
    """Fetch one shard's ESMs from the registry (from this worker) and score them.

    Args:
        work: The prepared target (resolved from the object store by Ray).
        refs: The shard's ESMs.
        store: The registry to read them from.
        filters: The filters the listing could not apply (``Candidates.residual``).
        scoring: How to fetch and score.
    """
    try:
        opened = store.open() if any(ref.repo_id is not None for ref in refs) else None
    except EXPECTED_ERRORS as exc:
        return Failure.of(exc)
    return score_shard(work, refs, opened, filters=filters, scoring=scoring, progress=False)


# --- training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainJob:
    """One intermediate task of a batch training run, with every option resolved.

    The fields are the options of ``esm-registry train``; ``key`` is the hash of those
    that determine the ESM (see :func:`registry.batch.results.train_inputs`).
    """

    name: str
    source: str
    base_model: str
    fine_tune: bool = False
    fine_tuned_model: str | None = None
    base_model_id: str | None = None
    task_id: str | None = None
    subset: str | None = None
    split: str | None = None
    text_column: str | tuple[str, ...] | None = None
    label_column: str | None = None
    num_examples: int | None = None
    seed: int = 42
    language: tuple[str, ...] | None = None
    lm_config: LMTrainingConfig | None = None
    lm_training: Hyperparameters | None = None
    esm_config: EsmTrainingConfig = field(default_factory=EsmTrainingConfig)
    embedding: EmbeddingOptions = field(default_factory=EmbeddingOptions)
    save_fine_tuned: str | None = None
    developers: str | None = None
    license: str = "apache-2.0"
    repo_id: str | None = None
    key: str = ""

    def predicted_repo_id(self, namespace: str) -> str:
        """The repo the ESM will be published to, known before training.

        Raises:
            UsageError, MetadataError: the ids do not make valid metadata.
        """
        if self.repo_id is not None:
            return self.repo_id
        base = resolve_model(self.base_model, model_id=self.base_model_id).model_id
        task_id = self.task_id or self.source
        metadata = EsmMetadata.model_validate(
            {"base_model": base, "task": {"task_id": task_id, "subset": self.subset}}
        )
        return default_repo_id(metadata, namespace)


Status = Literal["published", "unchanged", "saved", "would-train", "failed"]


@dataclass(frozen=True)
class TrainOutcome:
    """What became of one training task.

    Attributes:
        name: The task's name.
        status: ``published`` (a commit was made), ``saved`` (written to the output folder
            only), ``unchanged`` (an ESM from the same inputs was already there: nothing
            trained, nothing committed), ``would-train`` (a plan), or ``failed``.
        repo_id: The registry repo (when publishing).
        commit_id: The commit that holds the ESM.
        path: The saved ESM folder (with an output folder).
        validation_mse: The ESM's held-out MSE, when known.
        seconds: Time spent in the task.
        error: Why it failed.
    """

    name: str
    status: Status
    repo_id: str | None = None
    commit_id: str | None = None
    path: str | None = None
    validation_mse: float | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """False when the task failed."""
        return self.status != "failed"


def recorded_key(config: bytes) -> str | None:
    """The inputs hash an ESM's ``config.json`` records, if any."""
    try:
        value = json.loads(config).get(INPUTS_KEY)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _folder_key(folder: Path | None) -> str | None:
    if folder is None:
        return None
    try:
        return recorded_key((folder / CONFIG_NAME).read_bytes())
    except OSError:
        return None


def _store_key(store: RegistryStore, repo_id: str) -> tuple[str | None, str | None]:
    """The recorded inputs hash at the head of ``repo_id``, and that head commit."""
    try:
        info = store.repo_info(repo_id)
        return recorded_key(store.read_file(repo_id, CONFIG_NAME, info.sha)), info.sha
    except RepoNotFoundError:
        return None, None


def finished(
    job: TrainJob,
    *,
    store: RegistryStore | None,
    namespace: str | None,
    output_dir: str | None,
) -> TrainOutcome | None:
    """An ``unchanged`` outcome when everything asked for already holds this job's ESM.

    Raises:
        StoreError, UsageError: the store cannot be read or the repo id not made.
    """
    folder = Path(output_dir) / job.name if output_dir is not None else None
    if folder is not None and _folder_key(folder) != job.key:
        return None
    repo_id = commit = None
    if store is not None:
        assert namespace is not None
        repo_id = job.predicted_repo_id(namespace)
        recorded, commit = _store_key(store, repo_id)
        if recorded != job.key:
            return None
    return TrainOutcome(
        job.name,
        "unchanged",
        repo_id=repo_id,
        commit_id=commit,
        path=None if folder is None else str(folder),
    )


def _with_key(esm: Esm, key: str) -> Esm:
    metadata = esm.metadata
    data = metadata.model_dump()
    data["extra"] = {**metadata.extra, INPUTS_KEY: key}
    return Esm(EsmMetadata.model_validate(data), esm.weight, esm.bias)


def _train(job: TrainJob) -> tuple[Esm, float | None]:
    data = load_intermediate(
        job.source,
        task_id=job.task_id,
        subset=job.subset,
        split=job.split,
        text_column=job.text_column,
        label_column=job.label_column,
        num_examples=job.num_examples,
        seed=job.seed,
        language=job.language,
    )
    result = train_esm(
        job.base_model,
        data,
        fine_tuned_model=job.fine_tuned_model,
        fine_tune_base=job.fine_tune,
        base_model_id=job.base_model_id,
        lm_config=job.lm_config,
        lm_training=job.lm_training,
        esm_config=job.esm_config,
        seed=job.seed,
        embedding=job.embedding,
        save_fine_tuned=job.save_fine_tuned,
        developers=job.developers,
        license=job.license,
        progress=False,
    )
    return _with_key(result.esm, job.key), result.validation_mse


def train_task(
    job: TrainJob,
    store: StoreSpec | None,
    namespace: str | None,
    output_dir: str | None,
) -> TrainOutcome:
    """Train one ESM, save it to ``output_dir/<name>`` and/or publish it (one commit).

    Nothing is trained when the store (and folder) already hold an ESM from the same
    inputs; a saved folder from the same inputs is published as it is, not retrained.
    """
    started = time.perf_counter()
    repo_id: str | None = None
    try:
        opened = store.open() if store is not None else None
        done = finished(job, store=opened, namespace=namespace, output_dir=output_dir)
        if done is not None:
            return replace(done, seconds=time.perf_counter() - started)
        folder = Path(output_dir) / job.name if output_dir is not None else None
        if folder is not None and _folder_key(folder) == job.key:
            esm = Esm.load(folder)  # trained by an earlier attempt: publish it as it is
            mse = esm.metadata.evaluation.esm_mse
        else:
            esm, mse = _train(job)
            if folder is not None:  # config.json goes last: its key marks a complete folder
                esm.save(folder, readme=render_card(esm.metadata))
        status: Status = "saved"
        commit: str | None = None
        if opened is not None:
            assert namespace is not None
            # The repo the checks above look at, so that a retry finds this commit.
            repo_id = job.predicted_repo_id(namespace)
            natural = default_repo_id(esm.metadata, namespace)
            if job.repo_id is None and natural != repo_id:
                logger.warning(
                    "%s: publishing to %s (its metadata names %s)", job.name, repo_id, natural
                )
            published = publish_esm(esm, opened, repo_id=repo_id)
            status = "published" if published.status == "published" else "unchanged"
            commit = published.commit_id
    except EXPECTED_ERRORS as exc:
        logger.debug("training %s failed", job.name, exc_info=exc)
        return TrainOutcome(
            job.name,
            "failed",
            repo_id=repo_id,
            seconds=time.perf_counter() - started,
            error=Failure.of(exc).reason,
        )
    return TrainOutcome(
        job.name,
        status,
        repo_id=repo_id,
        commit_id=commit,
        path=None if folder is None else str(folder),
        validation_mse=mse,
        seconds=time.perf_counter() - started,
    )
