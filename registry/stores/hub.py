"""A registry store on the Hugging Face Hub, or on any server that speaks the Hub's API.

Publishing one ESM costs at most four requests: ``create_repo(exist_ok=True)``, then one
``create_commit`` (``validate-yaml``, ``preupload``, the commit). When nothing changed the
client learns it from the ``oid`` values that preupload returns and makes no commit.

``huggingface_hub`` retries preupload, LFS transfers and listings itself, but sends
``create_repo``, ``validate-yaml``, ``model_info`` and the commit POST of ``create_commit``
exactly once. :class:`HubStore` retries those with a bounded, ``Retry-After``-aware backoff
(:class:`RetryPolicy`). A retried commit cannot land twice: each retry repeats the whole
``create_commit``, whose preupload compares the remote ``oid`` of every file with the local
one, so a first attempt that did land (and only lost its answer) turns the retry into a
no-op; a commit made against a ``parent`` is in addition refused with 412 by the server if
the branch moved.

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
from .base import ESM_TAG, CommitResult, RepoFile, RepoInfo, check_repo_id

__all__ = ["RETRY_STATUSES", "HubStore", "RetryPolicy"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses worth retrying, as huggingface_hub's own ``http_backoff`` uses them.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

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


# The client logs this warning for every no-op commit; we report "unchanged" ourselves.
_NOOP_WARNING = "No files have been modified since last commit"
_committing = threading.local()


class _NoOpCommitFilter(logging.Filter):
    """Drop the client's no-op warning, but only for commits made by a HubStore."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_committing, "active", False):
            return not record.getMessage().startswith(_NOOP_WARNING)
        return True


_NOOP_FILTER = _NoOpCommitFilter()
logging.getLogger("huggingface_hub.hf_api").addFilter(_NOOP_FILTER)


@contextmanager
def _quiet_noop_commits() -> Iterator[None]:
    previous = getattr(_committing, "active", False)
    _committing.active = True
    try:
        yield
    finally:
        _committing.active = previous


def _commit_was_sent(operations: list[CommitOperationAdd]) -> bool:
    """Whether ``create_commit`` sent the commit POST, or skipped it as a no-op.

    The client gives no public signal for the skip; it marks additions ``_is_committed``
    only after a commit POST succeeded. Should that attribute disappear, fall back to its
    own no-op test (remote oid equals local oid for every file).
    """
    flags = [getattr(op, "_is_committed", None) for op in operations]
    if all(isinstance(flag, bool) for flag in flags):
        return any(flags)
    unchanged = [
        getattr(op, "_remote_oid", None) is not None
        and getattr(op, "_remote_oid", None) == getattr(op, "_local_oid", None)
        for op in operations
    ]
    return not all(unchanged)


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
        cache_dir: Download cache for :meth:`read_file`; default the client's
            (``HF_HUB_CACHE``, under ``HF_HOME``).

    ``HF_HUB_OFFLINE=1`` is honoured as huggingface_hub does: no request is sent,
    :meth:`read_file` serves cached files, everything else raises
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

    @property
    def api(self) -> HfApi:
        """The ``HfApi`` client this store uses (same endpoint and token)."""
        return self._api

    def repo_url(self, repo_id: str) -> str:
        """Web URL of a repo."""
        return f"{self.endpoint}/{repo_id}"

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
        try:
            for model in self._api.list_models(
                filter=filters,
                author=author,
                expand=["sha", "lastModified", "tags", "cardData", "private"],
            ):
                yield _repo_info(model, files=False)
        except Exception as exc:
            raise self._translate(exc, "list ESMs", None) from exc

    def repo_info(self, repo_id: str, revision: str | None = None) -> RepoInfo:
        """One repo with its files (sizes and blob ids), at ``revision`` or the main branch."""
        check_repo_id(repo_id)
        model = self._call(
            "read",
            repo_id,
            lambda: self._api.model_info(repo_id, revision=revision, files_metadata=True),
        )
        return _repo_info(model, files=True)

    def read_file(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """A file's content, through the huggingface_hub download cache.

        With a commit sha as ``revision`` a cached file costs no request at all.
        """
        check_repo_id(repo_id)
        try:
            local = self._api.hf_hub_download(
                repo_id, path, revision=revision, cache_dir=self.cache_dir
            )
        except Exception as exc:
            raise self._translate(exc, f"read {path} from", repo_id) from exc
        return Path(local).read_bytes()

    def exists(self, repo_id: str) -> bool:
        """Whether the repo exists and is visible with this token."""
        check_repo_id(repo_id)
        return self._call("look up", repo_id, lambda: self._api.repo_exists(repo_id))

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
    ) -> CommitResult:
        """Add or replace ``files`` in one commit; see :meth:`RegistryStore.commit`.

        Without ``parent`` the repo is created first when missing (``create_repo`` with
        ``exist_ok=True``); with ``parent`` it must exist and that request is saved.
        """
        check_repo_id(repo_id)
        if not files:
            raise UsageError("a commit needs at least one file")
        if parent is None:
            self._call(
                "create",
                repo_id,
                lambda: self._api.create_repo(repo_id, exist_ok=True, private=private),
            )
        policy = self.retry
        post_failed = False  # a commit POST failed: it may have landed anyway
        for attempt in range(policy.attempts):
            operations = [
                CommitOperationAdd(path_in_repo=path, path_or_fileobj=bytes(content))
                for path, content in files.items()
            ]
            try:
                with _quiet_noop_commits():
                    info = self._api.create_commit(
                        repo_id, operations, commit_message=message, parent_commit=parent
                    )
            except Exception as exc:
                post_failed = post_failed or _hit_commit_endpoint(exc)
                self._before_retry(exc, attempt, "commit to", repo_id)
                continue
            # A no-op after a failed POST means that POST landed: the preupload of the
            # failed attempt had found changes, or the client would not have sent it.
            created = _commit_was_sent(operations) or post_failed
            if post_failed:
                logger.info("commit to %s: a failed commit request had landed", repo_id)
            logger.debug(
                "commit to %s: %s %s", repo_id, "created" if created else "unchanged", info.oid
            )
            return CommitResult(commit_id=info.oid, url=self.repo_url(repo_id), created=created)
        raise AssertionError("unreachable: _before_retry raises on the last attempt")

    def delete(self, repo_id: str, *, missing_ok: bool = False) -> None:
        """Delete the repo (sent once: a retried delete could report a false 404)."""
        check_repo_id(repo_id)
        try:
            self._api.delete_repo(repo_id, missing_ok=missing_ok)
        except Exception as exc:
            raise self._translate(exc, "delete", repo_id) from exc
        logger.info("deleted %s on %s", repo_id, self.endpoint)

    # --- retries and errors ----------------------------------------------------------------

    def _call(self, action: str, repo_id: str | None, func: Callable[[], T]) -> T:
        """Run ``func`` under the retry policy; errors come out as our own classes."""
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

    def _secrets(self) -> list[str]:
        secrets = [self._token] if isinstance(self._token, str) else []
        env_token = os.environ.get("HF_TOKEN")
        if env_token:
            secrets.append(env_token)
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
        """Our error for a client error; anything unexpected is returned unchanged."""
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
            from huggingface_hub.utils import get_token_to_send  # noqa: PLC0415

            return get_token_to_send(self._token) is not None
        except Exception:  # the hint is a nicety; never fail on it
            return False


def _repo_info(model: Any, *, files: bool) -> RepoInfo:
    """Our :class:`RepoInfo` from a ``huggingface_hub`` ``ModelInfo``."""
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
        files=entries,
    )
