"""Publish ESMs to a registry store: validate, render the card, one atomic commit per ESM.

Each published repo holds exactly what hfselect and the catalog read:

* ``README.md``: the card rendered from the metadata, validated before anything is sent;
  its front matter carries the contract tags (``embedding_space_map``,
  ``BaseLM:<base model>``) and ``base_model``/``datasets``/``license``/``language``, from
  which the Hub derives the ``base_model:…`` and ``dataset:…`` tags;
* ``config.json``: the flat metadata hfselect reads (:meth:`registry.esm.Esm.to_config`);
* ``model.safetensors``: ``model.weight`` and ``model.bias`` as float32.

The three files go up in one commit, so a repo never shows a card without its weights.
Publishing is idempotent: the files are byte-for-byte reproducible from the ESM, and a
store makes no commit when every file already has this content, so re-running a bulk
publish after an interruption skips what is done (result status ``unchanged``).

Default repo ids (:func:`default_repo_id`) are ``<namespace>/ESM_<base>_<task>[_<subset>]``:
``<base>`` is the base model id without its namespace, ``<task>`` the task id with ``/``
written as ``__`` (hfselect's convention), ``<subset>`` the dataset subset. Characters the
Hub does not allow become ``-``; ids longer than 96 characters are cut and end in ``-`` plus
8 hex digits of the sha1 of the full name, so they stay unique and deterministic.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from registry.esm import Esm
    >>> from registry.metadata import EsmMetadata
    >>> from registry.stores import open_store
    >>> meta = EsmMetadata.model_validate(
    ...     {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    ... )
    >>> store = open_store(tempfile.mkdtemp())
    >>> result = publish_esm(Esm(meta, np.eye(4), np.zeros(4)), store, namespace="alice")
    >>> result.repo_id, result.status
    ('alice/ESM_bert-base-uncased_stanfordnlp__imdb', 'published')
    >>> publish_esm(Esm(meta, np.eye(4), np.zeros(4)), store, namespace="alice").status
    'unchanged'
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar, overload

from ._progress import progress_bar
from .card import render_card, validate_text
from .errors import (
    EsmRegistryError,
    PublishError,
    PublishInterrupted,
    RepoNotFoundError,
    UsageError,
)
from .esm import CONFIG_NAME, README_NAME, Esm
from .metadata import EsmMetadata, from_config, load_metadata
from .stores import supports_pull_requests
from .stores.base import (
    RegistryStore,
    RepoInfo,
    check_repo_id,
    file_matches,
    git_blob_sha1,
)

__all__ = [
    "FileSummary",
    "PublishResult",
    "PublishSummary",
    "Status",
    "build_files",
    "check_namespace",
    "default_repo_id",
    "publish_esm",
    "publish_many",
    "refresh_cards",
]

logger = logging.getLogger(__name__)

#: ``published``/``updated``: a commit was made; ``proposed``: a pull request was opened
#: (``create_pr``; :attr:`PublishResult.url` is the pull request); ``unchanged``: the store
#: already had exactly this content; ``would-publish``/``would-update``: a dry run found
#: changes; ``failed``: see :attr:`PublishResult.error`.
Status = Literal[
    "published", "updated", "proposed", "unchanged", "would-publish", "would-update", "failed"
]

Source = str | Path | Esm

_MAX_REPO_ID = 96
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
T = TypeVar("T")


@dataclass(frozen=True)
class FileSummary:
    """One file of a publication.

    Attributes:
        path: Path in the repo.
        size: Size in bytes.
        sha256: sha256 of the content.
        blob_id: Git blob sha1 (the id the Hub shows for regular files).
        changed: Whether it differs from the store's copy (``None``: not compared).
    """

    path: str
    size: int
    sha256: str
    blob_id: str
    changed: bool | None = None


@dataclass(frozen=True)
class PublishResult:
    """What happened to one ESM (or one card refresh).

    Attributes:
        repo_id: The target repo (``None`` when it could not be determined).
        status: See :data:`Status`.
        source: The ESM folder, or a description of an in-memory ESM.
        commit_id: The new commit, or the current head when nothing changed.
        url: Where to look at the repo.
        files: The files that were (or would be) pushed.
        card_diff: Unified diff of the card against the store's copy (dry runs).
        error: Why it failed.
    """

    repo_id: str | None
    status: Status
    source: str | None = None
    commit_id: str | None = None
    url: str | None = None
    files: tuple[FileSummary, ...] = ()
    card_diff: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """False when the ESM failed."""
        return self.status != "failed"


@dataclass(frozen=True)
class PublishSummary(Sequence[PublishResult]):
    """The results of a bulk run, in input order, with counts per status."""

    results: tuple[PublishResult, ...] = field(default_factory=tuple)

    @overload
    def __getitem__(self, index: int) -> PublishResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PublishResult]: ...
    def __getitem__(self, index: int | slice) -> PublishResult | Sequence[PublishResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[PublishResult]:
        return iter(self.results)

    @property
    def counts(self) -> dict[str, int]:
        """Number of results per status."""
        return dict(Counter(result.status for result in self.results))

    @property
    def failed(self) -> list[PublishResult]:
        """The failed results."""
        return [result for result in self.results if not result.ok]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def describe(self) -> str:
        """One line such as ``3 published, 1 unchanged, 1 failed``."""
        counts = self.counts
        order = (
            "published",
            "updated",
            "proposed",
            "would-publish",
            "would-update",
            "unchanged",
            "failed",
        )
        parts = [f"{counts[status]} {status}" for status in order if counts.get(status)]
        return ", ".join(parts) or "nothing to do"


# --- building the files ----------------------------------------------------------------------


def _slug(text: str) -> str:
    text = _UNSAFE.sub("-", text)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\.{2,}", ".", text)
    return text.strip("-.")


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if repos can be created under it on the Hub.

    Raises:
        UsageError: it is empty, holds a ``/`` or characters the Hub does not allow.
    """
    if not isinstance(namespace, str) or not namespace or "/" in namespace:
        raise UsageError(f"{namespace!r} is not a valid namespace: use one user or org name")
    try:
        check_repo_id(f"{namespace}/x")
    except UsageError:
        raise UsageError(
            f"{namespace[:120]!r} is not a valid namespace: use letters, digits, '-', '_' "
            "and '.', at most 96 characters"
        ) from None
    return namespace


def default_repo_id(metadata: EsmMetadata, namespace: str) -> str:
    """The deterministic repo id of an ESM; see the module docstring for the rule.

    Args:
        metadata: The ESM's metadata (base model, task id, subset).
        namespace: The user or organisation that owns the repo.

    Raises:
        UsageError: ``namespace`` is not a valid Hub namespace.

    Example:
        >>> meta = EsmMetadata.model_validate({"base_model": "google-bert/bert-base-uncased",
        ...     "task": {"task_id": "kuroneko5943/amz20", "subset": "Dumbbell"}})
        >>> default_repo_id(meta, "alice")
        'alice/ESM_bert-base-uncased_kuroneko5943__amz20_Dumbbell'
    """
    base = _slug(metadata.base_model.rsplit("/", 1)[-1])
    task = "__".join(_slug(part) for part in metadata.task.task_id.split("/"))
    name = f"ESM_{base}_{task}"
    if metadata.task.subset:
        subset = _slug(metadata.task.subset)
        if subset:
            name += f"_{subset}"
    room = _MAX_REPO_ID - len(namespace) - 1
    if len(name) > room:
        digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
        name = f"{name[: room - 9].rstrip('-._')}-{digest}"
    return check_repo_id(f"{namespace}/{name}")


def build_files(esm: Esm, *, template: str | Path | None = None) -> dict[str, bytes]:
    """The three files of a published ESM, byte-for-byte reproducible.

    The card is rendered from the metadata as ``config.json`` states it, so card and
    config always agree (a legacy ``version`` is updated in both), and validated.

    Args:
        esm: The ESM (already validated against its metadata by :class:`Esm`).
        template: A Jinja2 card template instead of the bundled one.

    Raises:
        PublishError: the rendered card does not validate.
        EsmArtifactError: the config would be misread by hfselect.
    """
    config = esm.to_config()
    metadata = from_config(config)
    card = render_card(metadata, template=template)
    report = validate_text(card)
    if not report.valid:
        raise PublishError(
            f"the card rendered for {metadata.display_name} does not validate; nothing was "
            "published:",
            [f"line {p.line}: {p.field or 'card'}: {p.message}" for p in report.errors],
        )
    for problem in report.warnings:
        logger.debug("card of %s: %s", metadata.display_name, problem.message)
    return esm.to_files(readme=card)


def _summaries(files: Mapping[str, bytes], remote: RepoInfo | None) -> tuple[FileSummary, ...]:
    out = []
    for path, content in files.items():
        changed = None
        if remote is not None:
            changed = not file_matches((remote.files or {}).get(path), content)
        out.append(
            FileSummary(
                path=path,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                blob_id=git_blob_sha1(content),
                changed=changed,
            )
        )
    return tuple(out)


def _card_diff(old: str | None, new: str, repo_id: str) -> str | None:
    if old == new:
        return None
    diff = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{repo_id}/{README_NAME} (in the store)" if old is not None else "/dev/null",
        tofile=f"{README_NAME} (new)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def _remote(store: RegistryStore, repo_id: str) -> RepoInfo | None:
    try:
        return store.repo_info(repo_id)
    except RepoNotFoundError:
        return None


def _remote_card(store: RegistryStore, repo_id: str, remote: RepoInfo | None) -> str | None:
    if remote is None or README_NAME not in (remote.files or {}):
        return None
    return store.read_file(repo_id, README_NAME, remote.sha).decode("utf-8", errors="replace")


def _describe(source: Source) -> str:
    if isinstance(source, Esm):
        return repr(source)
    return str(source)


def _load(source: Source) -> Esm:
    if isinstance(source, Esm):
        return source
    path = Path(source)
    try:
        return Esm.load(path)
    except FileNotFoundError as exc:
        raise UsageError(f"cannot publish {path}: {exc}") from None


def _metadata_of(source: Source) -> EsmMetadata:
    """Just the metadata (config.json), to name the repo without reading the weights."""
    if isinstance(source, Esm):
        return source.metadata
    try:
        return load_metadata(Path(source))
    except FileNotFoundError as exc:
        raise UsageError(f"cannot publish {source}: {exc}") from None


# --- publishing --------------------------------------------------------------------------------


def publish_esm(
    source: Source,
    store: RegistryStore,
    *,
    repo_id: str | None = None,
    namespace: str | None = None,
    private: bool | None = None,
    dry_run: bool = False,
    template: str | Path | None = None,
    create_pr: bool = False,
) -> PublishResult:
    """Validate one ESM and publish it as one commit (or show what would be published).

    On the Hub this costs one request when nothing changed (the store compares the files
    with the repo's first), at most four when the ESM changed (read, validate the card's
    YAML, preupload, commit) and five when its repo is new (plus ``create_repo``).

    Args:
        source: An ESM folder (``config.json`` + ``model.safetensors``) or an :class:`Esm`.
        store: Where to publish (see :func:`registry.stores.open_store`).
        repo_id: Target repo; default :func:`default_repo_id`.
        namespace: Namespace for the default repo id; default the store's
            (the token's user on the Hub: one extra request, so pass it in bulk).
        private: Visibility of a repo created now; existing repos keep theirs.
        dry_run: Write nothing; report the files, whether they differ from the store's
            copy, and the card diff (status ``would-publish``, or ``unchanged``).
        template: A Jinja2 card template instead of the bundled one.
        create_pr: Open a pull request with the files instead of committing them (on the
            Hub, for a repo that exists and that one may not write to; status ``proposed``).

    Returns:
        The result; status ``published``, or ``unchanged`` when the store already held
        exactly these files (no commit was made).

    Raises:
        UsageError: missing files, bad arguments.
        MetadataError, EsmArtifactError, PublishError: the ESM is not publishable.
        StoreError: the store failed (subclasses say why); as the files go up in one
            commit, the repo then shows its previous revision, never a part of the ESM.
    """
    if repo_id is not None and namespace is not None:
        raise UsageError("give either repo_id or namespace, not both")
    if repo_id is None:
        repo_id = default_repo_id(_metadata_of(source), namespace or store.default_namespace())
    else:
        check_repo_id(repo_id)
    return _publish(
        source,
        store,
        repo_id,
        private=private,
        dry_run=dry_run,
        template=template,
        create_pr=create_pr,
    )


def _publish(
    source: Source,
    store: RegistryStore,
    repo_id: str,
    *,
    private: bool | None,
    dry_run: bool,
    template: str | Path | None,
    create_pr: bool = False,
) -> PublishResult:
    """Publish to ``repo_id`` (the store compares before it commits, see ``commit``)."""
    esm = _load(source)
    files = build_files(esm, template=template)
    metadata = esm.metadata
    described = _describe(source)
    if dry_run:
        remote = _remote(store, repo_id)
        summaries = _summaries(files, remote)
        changed = remote is None or any(summary.changed for summary in summaries)
        diff = None
        if changed:
            new_card = files[README_NAME].decode("utf-8")
            diff = _card_diff(_remote_card(store, repo_id, remote), new_card, repo_id)
        return PublishResult(
            repo_id=repo_id,
            status="would-publish" if changed else "unchanged",
            source=described,
            commit_id=remote.sha if remote is not None else None,
            url=store.repo_url(repo_id) if remote is not None else None,
            files=summaries,
            card_diff=diff,
        )
    message = f"Publish ESM {metadata.display_name} for {metadata.base_model}"
    commit = store.commit(repo_id, files, message, private=private, create_pr=create_pr)
    status = _status(commit.created, commit.pr_url, "published")
    logger.info("%s %s: %s at %s", status, described, repo_id, commit.commit_id[:8])
    return PublishResult(
        repo_id=repo_id,
        status=status,
        source=described,
        commit_id=commit.commit_id,
        url=commit.url,
        files=_summaries(files, None),
    )


def _status(created: bool, pr_url: str | None, done: Status) -> Status:
    if pr_url is not None:
        return "proposed"
    return done if created else "unchanged"


def _check_pull_requests(store: RegistryStore, create_pr: bool) -> None:
    """Refuse ``create_pr`` on a store without pull requests before touching any repo."""
    if create_pr and not supports_pull_requests(store):
        raise UsageError(
            f"{store.location} has no pull requests (a local registry); commit to it "
            "directly, or use a Hub registry"
        )


def _run_all(
    items: Sequence[T],
    work: Callable[[T], PublishResult],
    *,
    jobs: int,
    progress: bool | None,
    description: str,
) -> list[PublishResult]:
    """Run ``work`` over ``items`` on ``jobs`` threads; results in input order."""
    if jobs < 1:
        raise UsageError("jobs must be at least 1")
    results: list[PublishResult | None] = [None] * len(items)
    failed = 0
    lock = threading.Lock()
    bar = progress_bar(total=len(items), desc=description, unit="esm", progress=progress)
    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="esm-registry")

    def done(index: int, future: Future[PublishResult]) -> None:
        nonlocal failed
        if future.cancelled():
            return
        result = future.result()
        with lock:
            results[index] = result
            failed += not result.ok
            bar.update(1)
            if failed:
                bar.set_postfix(failed=failed, refresh=False)

    try:
        futures = []
        for index, item in enumerate(items):
            future = executor.submit(work, item)
            future.add_done_callback(lambda f, i=index: done(i, f))  # type: ignore[misc]
            futures.append(future)
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        # Start nothing new, let the commits in flight land (each is atomic), then say
        # exactly what is done; a second Ctrl-C stops waiting.
        logger.warning("interrupted: finishing the ESMs in flight (Ctrl-C again to stop now)")
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
        completed = [result for result in results if result is not None]
        raise PublishInterrupted(
            PublishSummary(tuple(completed)), len(items) - len(completed)
        ) from None
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        bar.close()
        raise
    executor.shutdown(wait=True)
    bar.close()
    return [result for result in results if result is not None]


def _failure(repo_id: str | None, source: str | None, exc: BaseException) -> PublishResult:
    if isinstance(exc, (EsmRegistryError, OSError)):
        logger.debug("%s failed", source or repo_id, exc_info=exc)
    else:  # not a user or store problem: keep the traceback for the bug report
        logger.error("%s failed unexpectedly", source or repo_id, exc_info=exc)
    message = str(exc) or type(exc).__name__
    return PublishResult(repo_id=repo_id, status="failed", source=source, error=message)


def publish_many(
    sources: Iterable[Source],
    store: RegistryStore,
    *,
    jobs: int = 4,
    namespace: str | None = None,
    private: bool | None = None,
    dry_run: bool = False,
    template: str | Path | None = None,
    progress: bool | None = None,
    create_pr: bool = False,
) -> PublishSummary:
    """Publish many ESMs with bounded concurrency; one failure does not stop the others.

    Every ESM is one atomic commit, so an interrupted run leaves each ESM either fully
    published or untouched; running again skips the published ones (``unchanged``, at the
    cost of one small request each and no upload of weights) and publishes the rest.

    Args:
        sources: ESM folders or :class:`Esm` objects.
        store: Where to publish.
        jobs: ESMs published at the same time.
        namespace: Namespace of the repos; default the store's (asked once).
        private: Visibility of repos created now.
        dry_run: Write nothing; see :func:`publish_esm`.
        template: A Jinja2 card template instead of the bundled one.
        progress: Show a progress bar; default only when stderr is a terminal.
        create_pr: Open one pull request per changed ESM instead of committing (see
            :func:`publish_esm`).

    Returns:
        The results in input order; two sources that map to the same repo id make the
        second one fail instead of racing.

    Raises:
        StoreError: the store cannot be listed, or (without ``namespace``) cannot say
            which namespace to use; nothing was published then.

    Requests on the Hub: one listing request first, then per ESM what
    :func:`publish_esm` costs: one when unchanged, at most four when changed, five for a
    new repo.
    """
    items = list(sources)
    if not items:
        return PublishSummary()
    _check_pull_requests(store, create_pr and not dry_run)
    namespace = check_namespace(namespace or store.default_namespace())
    plan: list[tuple[Source, str | None, PublishResult | None]] = []
    claimed: dict[str, str] = {}
    for source in items:
        described = _describe(source)
        try:
            repo_id = default_repo_id(_metadata_of(source), namespace)
        except Exception as exc:
            plan.append((source, None, _failure(None, described, exc)))
            continue
        if repo_id in claimed:
            error = f"{described} maps to {repo_id} like {claimed[repo_id]}; publish it separately"
            plan.append((source, repo_id, _failure(repo_id, described, UsageError(error))))
            continue
        claimed[repo_id] = described
        plan.append((source, repo_id, None))

    # One listing request first: a store that cannot be listed (unreachable, refusing the
    # token) fails the run here, before any ESM is touched, not once per ESM.
    if not dry_run:
        next(iter(store.list_esms(author=namespace)), None)

    def work(entry: tuple[Source, str | None, PublishResult | None]) -> PublishResult:
        source, repo_id, early = entry
        if early is not None:
            return early
        assert repo_id is not None
        try:
            return _publish(
                source,
                store,
                repo_id,
                private=private,
                dry_run=dry_run,
                template=template,
                create_pr=create_pr,
            )
        except Exception as exc:
            return _failure(repo_id, _describe(source), exc)

    results = _run_all(plan, work, jobs=jobs, progress=progress, description="publishing")
    summary = PublishSummary(tuple(results))
    logger.info("publish: %s", summary.describe())
    return summary


# --- refreshing cards ----------------------------------------------------------------------------


def _refresh_one(
    store: RegistryStore,
    repo_id: str,
    *,
    dry_run: bool,
    template: str | Path | None,
    create_pr: bool = False,
) -> PublishResult:
    info = store.repo_info(repo_id)
    if CONFIG_NAME not in (info.files or {}):
        raise PublishError(f"{repo_id} has no {CONFIG_NAME} to render a card from")
    try:
        config = json.loads(store.read_file(repo_id, CONFIG_NAME, info.sha))
    except ValueError as exc:
        raise PublishError(f"{CONFIG_NAME} of {repo_id} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise PublishError(f"{CONFIG_NAME} of {repo_id} is not a JSON object")
    card = render_card(from_config(config), template=template)
    report = validate_text(card)
    if not report.valid:
        raise PublishError(
            f"the card rendered for {repo_id} does not validate; it was not changed:",
            [f"line {p.line}: {p.field or 'card'}: {p.message}" for p in report.errors],
        )
    content = card.encode("utf-8")
    summaries = _summaries({README_NAME: content}, info)
    if not summaries[0].changed:
        return PublishResult(
            repo_id,
            "unchanged",
            commit_id=info.sha,
            url=store.repo_url(repo_id),
            files=summaries,
        )
    if dry_run:
        diff = _card_diff(_remote_card(store, repo_id, info), card, repo_id)
        return PublishResult(
            repo_id,
            "would-update",
            commit_id=info.sha,
            url=store.repo_url(repo_id),
            files=summaries,
            card_diff=diff,
        )
    commit = store.commit(
        repo_id, {README_NAME: content}, "Refresh ESM card", parent=info.sha, create_pr=create_pr
    )
    status = _status(commit.created, commit.pr_url, "updated")
    return PublishResult(
        repo_id, status, commit_id=commit.commit_id, url=commit.url, files=summaries
    )


def refresh_cards(
    store: RegistryStore,
    repo_ids: Iterable[str] | None = None,
    *,
    dry_run: bool = False,
    template: str | Path | None = None,
    jobs: int = 4,
    progress: bool | None = None,
    create_pr: bool = False,
) -> PublishSummary:
    """Re-render the cards of published ESMs from their ``config.json``.

    Legacy cards (hfselect's template) are migrated to the current one. Each changed
    card is one commit made against the revision its config was read from, so a
    concurrent change is reported (``StoreConflictError``) instead of overwritten; an
    up-to-date card costs no commit.

    Args:
        store: The store holding the ESMs.
        repo_ids: The repos; ``None`` means every ESM in the store.
        dry_run: Write nothing; results carry the unified diff of each card.
        template: A Jinja2 card template instead of the bundled one.
        jobs: Repos processed at the same time.
        progress: Show a progress bar; default only when stderr is a terminal.
        create_pr: Propose each changed card as a pull request (status ``proposed``) instead
            of committing it: for ESMs of others, on the Hub.
    """
    _check_pull_requests(store, create_pr and not dry_run)
    ids = [info.repo_id for info in store.list_esms()] if repo_ids is None else list(repo_ids)

    def work(repo_id: str) -> PublishResult:
        try:
            return _refresh_one(
                store, repo_id, dry_run=dry_run, template=template, create_pr=create_pr
            )
        except Exception as exc:
            return _failure(repo_id, None, exc)

    results = _run_all(ids, work, jobs=jobs, progress=progress, description="refreshing cards")
    summary = PublishSummary(tuple(results))
    logger.info("refresh-cards: %s", summary.describe())
    return summary
