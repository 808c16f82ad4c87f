"""A registry store on the Hugging Face Hub, or on any server that speaks the Hub's API.

Only the public ``huggingface_hub`` API is used, and every client error comes out as a
:class:`~registry.errors.StoreError` through one translation (:meth:`HubStore._translate`):
models and datasets, reads and writes, with the token redacted and a login hint on 401.

A commit first reads the repo with file metadata (one request). When every file already
has the content to commit, that is all: no commit is made. Otherwise only the files that
differ are sent with ``create_commit(parent_commit=<the head read>)``: ``validate-yaml``
(when the card changes), ``preupload`` and the commit POST. A repo that does not exist
yet is created first. So publishing one ESM costs 1 request when it is unchanged, 4 when
it changed and 5 when its repo is new. ``commit(..., create_pr=True)`` costs the same 1 or 4
and opens a pull request instead of writing to ``main`` (the repo must exist).
:meth:`HubStore.history` is ``list_repo_commits``; :meth:`HubStore.download` is
``snapshot_download`` (the revision, its file tree, then a ``HEAD`` and a ``GET`` per file).

``huggingface_hub`` retries preupload, LFS transfers and listings itself, but sends
``create_repo``, ``validate-yaml``, ``model_info`` and the commit POST of ``create_commit``
exactly once. :class:`HubStore` retries those with a bounded, ``Retry-After``-aware backoff
(:class:`RetryPolicy`). A retried commit cannot land twice: every attempt starts by reading
the repo again, and a commit POST that failed after it may have landed (a 5xx, a dropped
connection) counts as landed when the files are then found in place. A commit against a
stale head is refused by the server (412); the store then reads the repo again, and
reports :class:`~registry.errors.StoreConflictError` only when the caller passed that
``parent`` itself, or when the repo kept moving for the whole retry budget.

Example:
    >>> store = HubStore(endpoint="https://huggingface.co")  # doctest: +SKIP
    >>> card = b"---\\ntags: [x]\\n---\\n"
    >>> store.commit("alice/esm", {"README.md": card}, "Add card")  # doctest: +SKIP
    CommitResult(commit_id='…', url='https://huggingface.co/alice/esm', created=True)
"""

from __future__ import annotations

import email.utils
import importlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import CommitOperationAdd, HfApi, constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import (
    HFValidationError,
    build_hf_headers,
    get_token_to_send,
    hf_raise_for_status,
    http_backoff,
    validate_repo_id,
)

from .._secrets import known_tokens
from .._version import __version__
from ..errors import (
    EsmRegistryError,
    RepoNotFoundError,
    StoreAuthError,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
    UsageError,
)
from .base import (
    ESM_TAG,
    CommitResult,
    RepoCommit,
    RepoFile,
    RepoInfo,
    RepoType,
    check_repo_id,
    check_repo_type,
    file_matches,
)

__all__ = ["RETRY_STATUSES", "HubStore", "RetryPolicy"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses worth retrying, as huggingface_hub's own ``http_backoff`` uses them.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses of a commit refused because the branch moved (``parent_commit`` is stale).
_CONFLICT_STATUSES = frozenset({409, 412})

_LOGIN_HINT = "pass --token, set HF_TOKEN, or log in with `hf auth login`"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff for the calls the client sends only once.

    Args:
        attempts: Tries in total, the first included (1 disables retries).
        base_delay: Seconds before the first retry; doubled for each further retry.
        max_delay: Upper bound of one backoff wait.
        max_retry_after: A ``Retry-After`` longer than this is not waited for: the call
            fails at once with :class:`~registry.errors.StoreUnavailableError`.
        jitter: Up to this fraction is added at random to a backoff wait, so that parallel
            publishers do not retry in lockstep.
        sleep: The function that waits; tests pass a recorder instead of ``time.sleep``.

    Example:
        >>> waits = []
        >>> policy = RetryPolicy(attempts=3, base_delay=0.5, jitter=0, sleep=waits.append)
        >>> policy.delay(1, retry_after=None)
        1.0
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    jitter: float = 0.1
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError("RetryPolicy.attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after, self.jitter) < 0:
            raise UsageError("RetryPolicy delays and jitter must not be negative")

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        if retry_after is not None:
            return retry_after
        backoff = min(self.base_delay * float(2**retry), self.max_delay)
        return backoff * (1.0 + random.uniform(0.0, self.jitter))  # noqa: S311 - not crypto


# --- classifying client errors ------------------------------------------------------------


@cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network-level exception types of whichever HTTP library huggingface_hub runs on."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module_name, attribute in (
        ("httpx2", "TransportError"),
        ("httpx", "TransportError"),
        ("requests", "ConnectionError"),
        ("requests", "Timeout"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        error = getattr(module, attribute, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None) if isinstance(exc, HfHubHTTPError) else None
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float | None:
    """``Retry-After`` of an error response, in seconds (integer or HTTP-date forms)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, OfflineModeIsEnabled):
        return False  # a ConnectionError, but waiting will not help
    if isinstance(exc, HfHubHTTPError):
        return _status(exc) in RETRY_STATUSES
    return isinstance(exc, _transport_errors())


def _request_url(exc: BaseException) -> str:
    """URL of the request that failed, when the exception carries it."""
    for holder in (getattr(exc, "response", None), exc):
        try:
            request = getattr(holder, "request", None)
        except RuntimeError:  # httpx raises when no request is attached
            continue
        url = getattr(request, "url", None)
        if url:
            return str(url)
    return ""


def _hit_commit_endpoint(exc: BaseException) -> bool:
    """Whether the error came from the commit POST, which may have landed before failing."""
    return "/commit/" in _request_url(exc)


# --- the client's no-op commit ---------------------------------------------------------------
# A commit is sent only after reading the repo, so the client finds nothing to commit only
# when another writer committed the same files in between. It then skips the POST and logs
# a warning; a HubStore recognises that warning, for its own commits and only while they
# run, to report "unchanged" instead of the other writer's commit as its own.

_NOOP_WARNING = "No files have been modified since last commit"
_CLIENT_LOGGER = "huggingface_hub.hf_api"


class _NoOpWatch(logging.Filter):
    """Drops the client's no-op warning of the commits in progress in this process.

    Installed on the client's logger while at least one commit runs, removed after the
    last; only records of threads inside :meth:`watching` are touched.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._users = 0
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        seen: list[bool] | None = getattr(self._local, "seen", None)
        if seen is None or not record.getMessage().startswith(_NOOP_WARNING):
            return True
        seen.append(True)
        return False

    @contextmanager
    def watching(self) -> Iterator[list[bool]]:
        """While active: this thread's no-op warnings are dropped and noted in the list."""
        client_logger = logging.getLogger(_CLIENT_LOGGER)
        with self._lock:
            if self._users == 0:
                client_logger.addFilter(self)
            self._users += 1
        seen: list[bool] = []
        self._local.seen = seen
        try:
            yield seen
        finally:
            self._local.seen = None
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    client_logger.removeFilter(self)


_NOOP_WATCH = _NoOpWatch()


def _kind(repo_type: RepoType) -> str:
    """How messages name a repo of this type (``dataset alice/x``; models need no word)."""
    return "" if repo_type == "model" else f"{repo_type} "


# --- the store ------------------------------------------------------------------------------


class HubStore:
    """ESM repos on the Hugging Face Hub or any Hub-compatible server.

    Args:
        endpoint: Base URL of the Hub (no trailing slash needed). Default: ``HF_ENDPOINT``,
            else ``https://huggingface.co``.
        token: Access token; ``None`` lets huggingface_hub find one (``HF_TOKEN``, the
            token saved by ``hf auth login``), ``False`` sends none. It is never logged
            and never appears in error messages.
        retry: Retry policy for the calls the client does not retry itself.
        cache_dir: Download cache for :meth:`local_path` and :meth:`read_file`; default the
            client's (``HF_HUB_CACHE``, under ``HF_HOME``).

    ``HF_HUB_OFFLINE=1`` is honoured as huggingface_hub does: no request is sent,
    :meth:`local_path` and :meth:`read_file` serve cached files, everything else raises
    :class:`~registry.errors.StoreUnavailableError`.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | bool | None = None,
        *,
        retry: RetryPolicy | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        endpoint = endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
        self.endpoint = endpoint.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._token = token
        self._api = HfApi(
            endpoint=self.endpoint,
            token=token,
            library_name="esm-registry",
            library_version=__version__,
        )
        self._namespace: str | None = None

    def __repr__(self) -> str:  # never show the token
        return f"HubStore(endpoint={self.endpoint!r})"

    @property
    def location(self) -> str:
        """The endpoint URL."""
        return self.endpoint

    def repo_url(self, repo_id: str, *, repo_type: RepoType = "model") -> str:
        """Web URL of a repo (datasets under ``/datasets/``, as on the Hub)."""
        prefix = "" if check_repo_type(repo_type) == "model" else f"/{repo_type}s"
        return f"{self.endpoint}{prefix}/{repo_id}"

    # --- reading -------------------------------------------------------------------------

    def list_esms(
        self, *, tags: Iterable[str] = (), author: str | None = None
    ) -> Iterator[RepoInfo]:
        """ESM repos (tag ``embedding_space_map`` plus every tag in ``tags``).

        One listing request per page (the client follows ``Link`` pages and retries them);
        each item carries the head sha, last modification, tags and card data.

        Args:
            tags: More tags that every repo must carry, e.g. ``base_model:bert-base-uncased``.
            author: Only repos of this user or organisation.
        """
        filters = list(dict.fromkeys([ESM_TAG, *tags]))
        params: dict[str, Any] = {"filter": filters, "expand": list(_LISTING_FIELDS)}
        if author:
            params["author"] = author
        url: str | None = f"{self.endpoint}/api/models"
        pages = 0
        while url is not None:
            page, url = self._listing_page(url, params if pages == 0 else None)
            pages += 1
            for index, item in enumerate(page):
                yield _listed_repo(item, where=f"{self.endpoint} listed, item {index + 1}")
            if pages >= _MAX_LISTING_PAGES:
                raise StoreError(
                    f"{self.endpoint} answered more than {_MAX_LISTING_PAGES:,} listing pages; "
                    "stopping (is it a Hub-compatible server?)"
                )

    def _listing_page(
        self, url: str, params: Mapping[str, Any] | None
    ) -> tuple[list[Any], str | None]:
        """One page of a listing, checked to be a JSON list, and the next page's URL.

        The listing is read here rather than through the client, which would take a JSON
        object for an empty listing, and an empty listing makes a sync remove everything.
        """
        headers = build_hf_headers(
            token=self._token, library_name="esm-registry", library_version=__version__
        )

        def request() -> Any:
            # Retries follow this store's policy (in _call), like its other calls.
            response = http_backoff("GET", url, params=params, headers=headers, max_retries=0)
            hf_raise_for_status(response)
            return response

        response = self._call("list ESMs", None, request)
        try:
            data = response.json()
        except ValueError:
            raise StoreError(
                f"cannot list ESMs on {self.endpoint}: the answer is not JSON (expected a "
                "JSON list of repos); is it a Hub-compatible server?"
            ) from None
        if not isinstance(data, list):
            raise StoreError(
                f"cannot list ESMs on {self.endpoint}: expected a JSON list of repos, got a "
                f"JSON {_json_kind(data)}; is it a Hub-compatible server?"
            )
        next_url = response.links.get("next", {}).get("url")
        return data, next_url if isinstance(next_url, str) and next_url else None

    def repo_info(
        self, repo_id: str, revision: str | None = None, *, repo_type: RepoType = "model"
    ) -> RepoInfo:
        """One repo with its files (sizes and blob ids), at ``revision`` or the main branch.

        One request (retried under the policy).
        """
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        info = self._call(
            "read",
            f"{_kind(repo_type)}{repo_id}",
            lambda: self._api.repo_info(
                repo_id, revision=revision, repo_type=repo_type, files_metadata=True
            ),
        )
        return self._converted(info, f"read {_kind(repo_type)}{repo_id}")

    def local_path(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> Path:
        """The file in the huggingface_hub download cache, downloaded if needed.

        With a commit sha as ``revision`` a cached file costs no request at all; with a
        branch, one ``HEAD`` request checks what the branch points to.
        """
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        try:
            local = self._api.hf_hub_download(
                repo_id, path, revision=revision, repo_type=repo_type, cache_dir=self.cache_dir
            )
        except Exception as exc:
            raise self._translate(exc, f"read {path} from", f"{_kind(repo_type)}{repo_id}") from exc
        return Path(local)

    def read_file(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> bytes:
        """A file's content, through the download cache (see :meth:`local_path`)."""
        return self.local_path(repo_id, path, revision, repo_type=repo_type).read_bytes()

    def exists(self, repo_id: str, *, repo_type: RepoType = "model") -> bool:
        """Whether the repo exists and is visible with this token."""
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        return self._call(
            "look up",
            f"{_kind(repo_type)}{repo_id}",
            lambda: self._api.repo_exists(repo_id, repo_type=repo_type),
        )

    def history(self, repo_id: str, *, repo_type: RepoType = "model") -> list[RepoCommit]:
        """The main branch's commits, newest first (``list_repo_commits``: one request per
        page of 50 commits, retried under the policy).

        The Hub does not say which commit is a commit's parent, so ``parent`` is ``None``.
        """
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        label = f"{_kind(repo_type)}{repo_id}"
        commits = self._call(
            "read the history of",
            label,
            lambda: self._api.list_repo_commits(repo_id, repo_type=repo_type),
        )
        try:
            return [
                RepoCommit(
                    id=str(commit.commit_id),
                    message=str(commit.title or ""),
                    date=commit.created_at,
                    authors=tuple(str(author) for author in commit.authors or ()),
                    description=str(commit.message or ""),
                )
                for commit in commits
            ]
        except (TypeError, AttributeError) as exc:
            raise self._translate(exc, "read the history of", label) from exc

    def download(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        repo_type: RepoType = "model",
    ) -> Path:
        """Every file of the repo, with ``snapshot_download``: into the download cache (the
        snapshot folder is returned), or replicated in ``local_dir``.

        One request for the revision's file list, then one per file not yet downloaded;
        offline (``HF_HUB_OFFLINE=1``) a revision already in the cache needs none.
        """
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        label = f"{_kind(repo_type)}{repo_id}"
        folder = self._call(
            "download",
            label,
            lambda: self._api.snapshot_download(
                repo_id,
                repo_type=repo_type,
                revision=revision,
                cache_dir=self.cache_dir,
                local_dir=None if local_dir is None else Path(local_dir),
            ),
        )
        return Path(str(folder))

    def canonical_model_id(self, model_id: str) -> str:
        """The id the Hub answers for ``model_id`` (one ``model_info`` request).

        The Hub redirects renamed repos and legacy ids without a namespace to their
        current id, so ``bert-base-uncased`` comes back as ``google-bert/bert-base-uncased``.
        """
        try:
            validate_repo_id(model_id)
        except HFValidationError as exc:
            raise UsageError(f"{model_id!r} is not a valid model id: {exc}") from None
        info = self._call("look up the model", model_id, lambda: self._api.model_info(model_id))
        return str(info.id)

    def default_namespace(self) -> str:
        """The user the token belongs to (one ``whoami`` request, then cached)."""
        if self._namespace is None:
            try:
                info = self._call("identify the user of the token", None, self._api.whoami)
            except StoreAuthError as exc:
                raise StoreAuthError(
                    f"{exc} A namespace is needed to name new repos: pass --namespace or "
                    "--repo-id, or use a token that the Hub accepts"
                ) from exc.__cause__
            name = info.get("name")
            if not isinstance(name, str) or not name:
                raise StoreError(f"{self.endpoint} did not say which user the token belongs to")
            self._namespace = name
        return self._namespace

    # --- writing -------------------------------------------------------------------------

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        message: str,
        *,
        private: bool | None = None,
        parent: str | None = None,
        repo_type: RepoType = "model",
        create_pr: bool = False,
    ) -> CommitResult:
        """Add or replace ``files`` in one commit; see :meth:`RegistryStore.commit`.

        Each attempt reads the repo first (see the module docstring): nothing more when
        the files are in place, ``create_repo`` when the repo is missing (unless ``parent``
        was given), then one ``create_commit`` of the files that differ, made against the
        head just read.

        With ``create_pr`` the same ``create_commit`` opens a pull request based on the
        head just read (the Hub then takes ``parent_commit`` as the base of the pull
        request, so a head that moved meanwhile is no conflict). The repo must exist. A
        pull request leaves the main branch as it was, so a commit request that failed
        after it may have landed cannot be checked by reading the repo again: it is not
        repeated (a retry could open a second pull request), and the error says so.
        """
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        if not files:
            raise UsageError("a commit needs at least one file")
        label = f"{_kind(repo_type)}{repo_id}"
        url = self.repo_url(repo_id, repo_type=repo_type)
        action = "open a pull request on" if create_pr else "commit to"
        landed = False  # a commit POST failed after it may have been applied
        conflict: Exception | None = None
        for attempt in range(self.retry.attempts):
            remote = self._head(repo_id, repo_type, label)
            if remote is None:
                if parent is not None or create_pr:
                    raise RepoNotFoundError(
                        f"cannot {action} {label} on {self.endpoint}: the repo does not exist"
                    )
                self._call(
                    "create",
                    label,
                    lambda: self._api.create_repo(
                        repo_id, repo_type=repo_type, exist_ok=True, private=private
                    ),
                )
            else:
                stale = parent is not None and remote.sha != parent
                if _holds(remote, files) and (landed or not stale):
                    if landed:
                        logger.info("commit to %s: a failed commit request had landed", label)
                    logger.debug(
                        "commit to %s: %s at %s",
                        label,
                        "created" if landed else "unchanged",
                        remote.sha,
                    )
                    return CommitResult(str(remote.sha), url, created=landed)
                if stale:
                    assert parent is not None
                    raise StoreConflictError(
                        f"cannot commit to {label} on {self.endpoint}: it moved on from "
                        f"{parent[:8]} to {str(remote.sha)[:8]}; read it again and retry"
                    )
            changed = {
                path: content
                for path, content in files.items()
                if remote is None or not file_matches((remote.files or {}).get(path), content)
            }
            try:
                with _NOOP_WATCH.watching() as noop:
                    info = self._api.create_commit(
                        repo_id,
                        [
                            CommitOperationAdd(path_in_repo=path, path_or_fileobj=bytes(content))
                            for path, content in changed.items()
                        ],
                        commit_message=message,
                        parent_commit=remote.sha if remote is not None else None,
                        repo_type=repo_type,
                        create_pr=create_pr,
                    )
            except Exception as exc:
                at_commit = _hit_commit_endpoint(exc)
                if create_pr and at_commit:
                    error = self._translate(exc, action, label)
                    if _is_retryable(exc) and isinstance(error, StoreError):
                        error = type(error)(
                            f"{error} The pull request may have been opened anyway: look at "
                            f"the pull requests of {url} before trying again."
                        )
                    raise error from exc
                landed = landed or (at_commit and _is_retryable(exc))
                if at_commit and _status(exc) in _CONFLICT_STATUSES:
                    if parent is not None and not landed:
                        raise self._translate(exc, "commit to", label) from exc
                    conflict = exc  # the head moved since it was read: read it again
                    logger.info("commit to %s: the repo moved on; reading it again", label)
                    continue
                self._before_retry(exc, attempt, "commit to", label)
                continue
            # No-op: the files appeared between the read and the upload; they are ours when
            # an earlier request of ours may have landed, another writer's otherwise.
            created = not noop or landed
            logger.debug(
                "%s %s: %s %s", action, label, "created" if created else "unchanged", info.oid
            )
            pr_url = info.pr_url if create_pr and created else None
            return CommitResult(
                commit_id=info.oid, url=pr_url or url, created=created, pr_url=pr_url
            )
        assert conflict is not None, "_before_retry raises on the last attempt"
        raise self._translate(
            conflict, "commit to", label, attempts=self.retry.attempts
        ) from conflict

    def _head(self, repo_id: str, repo_type: RepoType, label: str) -> RepoInfo | None:
        """The repo's main branch with file metadata; ``None`` when there is no such repo."""
        try:
            info = self._call(
                "read",
                label,
                lambda: self._api.repo_info(repo_id, repo_type=repo_type, files_metadata=True),
            )
        except RepoNotFoundError:
            return None
        return self._converted(info, f"read {_kind(repo_type)}{repo_id}")

    def delete(
        self, repo_id: str, *, missing_ok: bool = False, repo_type: RepoType = "model"
    ) -> None:
        """Delete the repo (sent once: a retried delete could report a false 404)."""
        check_repo_id(repo_id)
        check_repo_type(repo_type)
        label = f"{_kind(repo_type)}{repo_id}"
        try:
            self._api.delete_repo(repo_id, repo_type=repo_type, missing_ok=missing_ok)
        except Exception as exc:
            raise self._translate(exc, "delete", label) from exc
        logger.info("deleted %s on %s", label, self.endpoint)

    # --- retries and errors ----------------------------------------------------------------

    def _call(self, action: str, repo_id: str | None, func: Callable[[], T]) -> T:
        """Run ``func`` under the retry policy; errors come out as our own classes.

        ``repo_id`` names the repo in messages (``dataset alice/x`` for a dataset).
        """
        for attempt in range(self.retry.attempts):
            try:
                return func()
            except Exception as exc:
                self._before_retry(exc, attempt, action, repo_id)
        raise AssertionError("unreachable: _before_retry raises on the last attempt")

    def _before_retry(self, exc: Exception, attempt: int, action: str, repo_id: str | None) -> None:
        """Wait before the next attempt, or raise the translated error if there is none."""
        policy = self.retry
        retry_after = _retry_after(exc)
        last = attempt + 1 >= policy.attempts
        if not _is_retryable(exc) or last:
            raise self._translate(exc, action, repo_id, attempts=attempt + 1) from exc
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise StoreUnavailableError(
                f"{self.endpoint} asked to wait {retry_after:.0f} s before trying to {action} "
                f"{repo_id or ''} again (HTTP {_status(exc)}); try again later"
            ) from exc
        wait = policy.delay(attempt, retry_after)
        logger.info(
            "%s %s failed (%s); retry %d of %d in %.1f s",
            action,
            repo_id or self.endpoint,
            self._describe(exc),
            attempt + 1,
            policy.attempts - 1,
            wait,
        )
        policy.sleep(wait)

    def _converted(self, info: Any, action: str) -> RepoInfo:
        """The client's answer as a :class:`RepoInfo`; a malformed one is a StoreError."""
        try:
            return _repo_info(info, files=True)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise self._translate(exc, action, None) from exc

    def _secrets(self) -> list[str]:
        secrets = [self._token] if isinstance(self._token, str) else []
        secrets += known_tokens()
        return [secret for secret in secrets if len(secret) >= 4]

    def _redact(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _describe(self, exc: BaseException) -> str:
        status = _status(exc)
        if status is not None:
            return f"HTTP {status}"
        return self._redact(f"{type(exc).__name__}: {exc}".splitlines()[0])

    def _translate(
        self, exc: BaseException, action: str, repo_id: str | None, *, attempts: int = 1
    ) -> Exception:
        """Our error for a client error; anything unexpected is returned unchanged.

        The one translation of this store: every request (models and datasets, reads and
        writes) comes through here, so messages name the endpoint, never carry the token,
        and a 401 says how to log in.
        """
        target = f"{action} {repo_id}" if repo_id else action
        where = f"cannot {target} on {self.endpoint}"
        if isinstance(exc, EsmRegistryError):
            return exc
        if isinstance(exc, OfflineModeIsEnabled):
            return StoreUnavailableError(
                f"{where}: offline mode is on (HF_HUB_OFFLINE); unset it, or use a local "
                "registry (--registry PATH)"
            )
        if isinstance(exc, LocalTokenNotFoundError):
            return StoreAuthError(f"{where}: no Hugging Face token found; {_LOGIN_HINT}")
        if isinstance(exc, LocalEntryNotFoundError):
            return StoreUnavailableError(
                f"{where}: the file is not in the local cache and the Hub cannot be reached"
            )
        if isinstance(exc, RevisionNotFoundError):
            return RepoNotFoundError(f"{where}: no such revision")
        if isinstance(exc, EntryNotFoundError):
            return RepoNotFoundError(f"{where}: no such file")
        if isinstance(exc, HfHubHTTPError):
            return self._translate_http(exc, where, repo_id, attempts)
        if isinstance(exc, _transport_errors()):
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            return StoreUnavailableError(f"{where}: {self._describe(exc)}{tries}")
        if isinstance(exc, ValueError):  # e.g. the Hub refused the card's YAML
            return StoreError(f"{where}: {self._redact(str(exc))}")
        if isinstance(exc, KeyError | TypeError | AttributeError | IndexError):
            # The client could not read the answer: JSON of a shape the Hub never sends.
            return StoreError(
                f"{where}: the answer has an unexpected shape "
                f"({type(exc).__name__}: {self._redact(str(exc))}); is {self.endpoint} a "
                "Hub-compatible server?"
            )
        return exc if isinstance(exc, Exception) else RuntimeError(str(exc))

    def _translate_http(
        self, exc: HfHubHTTPError, where: str, repo_id: str | None, attempts: int
    ) -> Exception:
        status = _status(exc)
        detail = self._redact((exc.server_message or "").strip().replace("\n", " "))
        detail = f": {detail}" if detail else ""
        if status == 401:
            if self._sends_token():
                hint = (
                    "The token was rejected (mistyped, expired or revoked); use another one: "
                    + _LOGIN_HINT
                )
            else:
                hint = f"No token was sent; {_LOGIN_HINT}"
            return StoreAuthError(f"{where}: not authenticated (HTTP 401{detail}). {hint}")
        if isinstance(exc, RepositoryNotFoundError):
            return RepoNotFoundError(
                f"{where}: the repo does not exist, or this token may not see it (HTTP {status})"
            )
        if status == 403:
            return StoreAuthError(
                f"{where}: permission denied (HTTP 403{detail}). Use a token with write access "
                "to this namespace"
            )
        if status in (409, 412):
            return StoreConflictError(
                f"{where}: the repo changed in the meantime (HTTP {status}{detail}); "
                "read it again and retry"
            )
        if status in RETRY_STATUSES:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            return StoreUnavailableError(f"{where}: HTTP {status}{tries}{detail}; try again later")
        return StoreError(f"{where}: HTTP {status}{detail}")

    def _sends_token(self) -> bool:
        if isinstance(self._token, str):
            return True
        if self._token is False:
            return False
        try:
            return get_token_to_send(self._token) is not None
        except Exception:  # the hint is a nicety; never fail on it
            return False


def _holds(remote: RepoInfo, files: Mapping[str, bytes]) -> bool:
    """Whether ``remote`` already has every file with this content."""
    return all(
        file_matches((remote.files or {}).get(path), content) for path, content in files.items()
    )


#: What a listing asks the Hub to include for each repo.
_LISTING_FIELDS = ("sha", "lastModified", "tags", "cardData", "private", "gated")
#: A listing is paginated by 1,000; this many pages is ten million repos.
_MAX_LISTING_PAGES = 10_000


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _listed_repo(item: Any, *, where: str) -> RepoInfo:
    """A :class:`RepoInfo` from one listing item, every field checked for its JSON type.

    Raises:
        StoreError: the item is not what the Hub sends (names the field and the type).
    """

    def wrong(field: str, expected: str, value: Any) -> StoreError:
        return StoreError(
            f"{where}: expected {expected} for '{field}', got a JSON {_json_kind(value)}"
        )

    if not isinstance(item, dict):
        raise StoreError(
            f"{where}: expected a JSON object for a repo, got a JSON {_json_kind(item)}"
        )
    repo_id = item.get("id")
    if not isinstance(repo_id, str):
        raise wrong("id", "the repo id as a string", repo_id)
    try:
        check_repo_id(repo_id)
    except UsageError as exc:
        raise StoreError(f"{where}: {exc}") from None
    sha = item.get("sha")
    if sha is not None and not isinstance(sha, str):
        raise wrong("sha", "a commit id string", sha)
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise wrong("tags", "a list of strings", tags)
    card = item.get("cardData") or {}
    if not isinstance(card, dict):
        raise wrong("cardData", "an object", card)
    private = item.get("private", False)
    if not isinstance(private, bool):
        raise wrong("private", "true or false", private)
    gated = item.get("gated", False)
    if not isinstance(gated, bool | str):
        raise wrong("gated", "false, 'auto' or 'manual'", gated)
    modified = item.get("lastModified")
    try:
        last_modified = (
            datetime.fromisoformat(modified.replace("Z", "+00:00"))
            if isinstance(modified, str)
            else None
        )
    except ValueError:
        raise wrong("lastModified", "an ISO 8601 date", modified) from None
    return RepoInfo(
        repo_id=repo_id,
        sha=sha,
        last_modified=last_modified,
        tags=tuple(tags),
        card_data=card,
        private=private,
        gated=bool(gated),
        files=None,
    )


def _repo_info(model: Any, *, files: bool) -> RepoInfo:
    """Our :class:`RepoInfo` from a ``huggingface_hub`` ``ModelInfo`` or ``DatasetInfo``."""
    card = getattr(model, "card_data", None)
    card_data: dict[str, Any] = {}
    if card is not None:
        card_data = dict(card.to_dict() if hasattr(card, "to_dict") else card)
    entries: dict[str, RepoFile] | None = None
    if files:
        entries = {}
        for sibling in model.siblings or []:
            lfs = getattr(sibling, "lfs", None)
            entries[sibling.rfilename] = RepoFile(
                path=sibling.rfilename,
                size=sibling.size,
                blob_id=sibling.blob_id,
                sha256=getattr(lfs, "sha256", None),
            )
    return RepoInfo(
        repo_id=model.id,
        sha=model.sha,
        last_modified=model.last_modified,
        tags=tuple(model.tags or ()),
        card_data=card_data,
        private=bool(model.private),
        gated=bool(getattr(model, "gated", False)),  # False, "auto" or "manual"
        files=entries,
    )
