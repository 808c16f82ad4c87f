"""In-process, Hugging Face Hub-compatible HTTP server for tests.

Tests that exercise the Hub path must never reach the internet, yet they should run the *real*
``huggingface_hub`` client so that client quirks (retries, caching, pagination) are covered.
:class:`FakeHub` speaks the subset of the Hub HTTP API that ``huggingface_hub`` 2.4.0 uses
(see ``reference/hub-api-subset.md``): repo create/delete, ``validate-yaml``, preupload, ndjson
commits, model/dataset info and listings with tag filters and ``Link`` pagination, tree listings,
commit history and ``resolve`` downloads.

Repos live in memory as a small git-like history (branches -> commits -> full file snapshots).
Every file is stored as a regular git blob: preupload always answers ``uploadMode: regular`` and
no LFS or Xet metadata is ever sent, so the client never needs an LFS or Xet backend.

Design choices where the real Hub could not be checked offline:

* A new repo starts with an ``initial commit`` that holds a ``.gitattributes`` file, like the Hub.
* A commit POST whose operations change nothing still creates a commit (the Hub does the same;
  the *client* is what skips no-op commits, using the ``oid`` values returned by preupload).
* When tokens are configured, a request carrying an unknown token is rejected with 401 on every
  endpoint (reads included), as the Hub does; a request without a token is anonymous.
* Private repos are hidden (404 ``RepoNotFound``) from everybody but their owner, i.e. the user
  whose name is the repo namespace. Organisations are not modelled.
* Pull requests (``create_pr=1`` on preupload and commit) are opened by anyone who can see
  the repo: the commit goes to a new branch ``refs/pr/<n>`` made from ``parentCommit`` (else
  the branch's head), ``main`` is left alone, and the answer carries ``pullRequestUrl``
  (``<repo url>/discussions/<n>``), as on the Hub. Merging is not modelled;
  :meth:`FakeHub.pull_requests` lists what was opened.
* A renamed repo (:meth:`FakeHub.add_redirect`) answers API requests for its old id with a
  307 to the same request for its new id, as the Hub does for renamed repos and legacy ids
  without a namespace; the client follows it, so ``model_info(old).id`` is the new id.

Example:
    >>> from huggingface_hub import HfApi
    >>> with FakeHub(tokens={"hf_test_write": "alice"}) as hub:
    ...     api = HfApi(endpoint=hub.url, token="hf_test_write")
    ...     api.create_repo("alice/demo").repo_id
    'alice/demo'
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import logging
import re
import socket
import socketserver
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest
import yaml

__all__ = ["FakeHub", "HubCommit", "RequestRecord", "fake_hub", "git_blob_sha1"]

logger = logging.getLogger(__name__)

_HOST = "127.0.0.1"  # never anything else: tests must not be reachable from the network
_REPO_TYPES = {"model": "models", "dataset": "datasets"}
_TYPE_FROM_PLURAL = {plural: singular for singular, plural in _REPO_TYPES.items()}
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_FRONT_MATTER_RE = re.compile(
    r"\A\ufeff?\s*---[ \t]*\r?\n(?:(.*?)\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S
)
_SORTS = {"id", "lastModified", "createdAt", "downloads", "likes", "trendingScore"}
# Fields of listing items: the Hub's defaults, and what `full=true` adds.
_LIST_FIELDS = {
    "model": {"_id", "id", "modelId", "likes", "downloads", "private", "tags", "createdAt"}
    | {"pipeline_tag", "library_name"},
    "dataset": {"_id", "id", "author", "sha", "lastModified", "createdAt", "private", "gated"}
    | {"disabled", "downloads", "likes", "tags"},
}
_FULL_FIELDS = {
    "model": {"author", "sha", "lastModified", "gated", "disabled", "siblings"},
    "dataset": {"cardData", "siblings"},
}
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
)
# Card fields that the Hub turns into `<field>:<value>` tags on dataset repos.
_DATASET_TAG_FIELDS = (
    "language",
    "license",
    "task_categories",
    "task_ids",
    "size_categories",
    "multilinguality",
    "language_creators",
    "annotations_creators",
    "source_datasets",
)


class RequestRecord(NamedTuple):
    """One request as the server saw it: method, URL-decoded path and the raw query string."""

    method: str
    path: str
    query: str


@dataclass(frozen=True)
class HubCommit:
    """One commit of a repo; ``files`` is the full snapshot of the tree after the commit."""

    oid: str
    parent: str | None
    title: str
    message: str
    author: str
    date: datetime
    files: Mapping[str, bytes]


@dataclass
class _Repo:
    """Mutable state of one repo; only touched while holding ``FakeHub._lock``."""

    repo_type: str
    repo_id: str
    private: bool
    created_at: datetime
    mongo_id: str
    gated: bool | str = False  # False, "auto" or "manual", as the Hub reports it
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, HubCommit] = field(default_factory=dict)
    pull_requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def owner(self) -> str:
        return self.repo_id.split("/", 1)[0]

    def head(self, branch: str = "main") -> HubCommit:
        return self.commits[self.branches[branch]]


_NO_BODY = object()


@dataclass
class _Fault:
    """A pending fault-injection rule; ``status`` None means "answer garbage with 200"."""

    remaining: int
    status: int | None
    retry_after: int | None
    path_contains: str | None
    method: str | None
    body: Any = _NO_BODY  # a JSON value to answer with (``respond_next``)
    echo_token: bool = False  # put the request's bearer token into the answer

    def matches(self, method: str, target: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in target


class _HubError(Exception):
    """Raised by route handlers; rendered as a JSON error with the Hub's error headers."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> _Response:
        body = json.dumps(payload, default=str).encode()
        return cls(
            status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )


def git_blob_sha1(content: bytes) -> str:
    """Git's blob id of ``content``: the ``oid``/``ETag`` the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _git_tree_sha1(files: Mapping[str, bytes], prefix: str = "") -> str:
    """Git tree id of folder ``prefix`` (empty for the root), computed like ``git write-tree``."""
    entries: dict[str, tuple[bytes, str]] = {}
    start = f"{prefix}/" if prefix else ""
    for path in files:
        if not path.startswith(start):
            continue
        name, sep, _ = path[len(start) :].partition("/")
        if sep:
            entries[name] = (b"40000", _git_tree_sha1(files, start + name))
        else:
            entries[name] = (b"100644", git_blob_sha1(files[path]))
    body = b"".join(
        mode + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
        for name, (mode, oid) in sorted(
            entries.items(), key=lambda kv: kv[0] + ("/" if kv[1][0] == b"40000" else "")
        )
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def _format_date(value: datetime) -> str:
    """The Hub's date format; the client only parses ``...SS.fffZ`` (``+00:00`` breaks it)."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_str_list(value: Any) -> list[str]:
    """Card fields may hold one value or a list; tags are built from both forms."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list):
        return [
            str(item)
            for item in value
            if isinstance(item, (str, int, float)) and not isinstance(item, bool)
        ]
    return []


def _parse_front_matter(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return (metadata, error) of a README; (None, None) when there is no front matter."""
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None, None
    try:
        data = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        return None, f"Invalid YAML in README.md front matter: {exc}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return None, f"README.md front matter must be a YAML mapping, got {type(data).__name__}"
    return {str(key): value for key, value in data.items()}, None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


def _encode_cursor(key: Iterable[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise _HubError(400, "Invalid pagination cursor") from exc
    if not isinstance(value, list):
        raise _HubError(400, "Invalid pagination cursor")
    return value


class _Server(ThreadingHTTPServer):
    """Threaded server that remembers open sockets so :meth:`FakeHub.stop` can cut keep-alives."""

    daemon_threads = True

    def __init__(self, hub: FakeHub) -> None:
        super().__init__((_HOST, 0), _Handler)
        self.hub = hub
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall
        # for seconds on machines without a network; the name is never needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops a connection mid-response is normal in fault tests: log, don't print.
        logger.debug("FakeHub connection error from %s", client_address, exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._sockets_lock:
            self._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self._sockets.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads the whole request, then hands it to the hub; keep-alive needs every body drained."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    timeout = 60  # idle keep-alive connections end on their own
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        response = self.server.hub._handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(response.status)
        headers = {"X-Request-Id": uuid.uuid4().hex, **response.headers}
        headers.setdefault("Content-Length", str(len(response.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)


class FakeHub:
    """A Hugging Face Hub look-alike on ``127.0.0.1`` for tests that run the real client.

    Args:
        tokens: valid tokens mapped to user names, e.g. ``{"hf_test_write": "alice"}``. When given,
            write endpoints need a valid ``Authorization: Bearer`` token and users may only write to
            their own namespace. When empty or None, everything is open and anonymous callers act
            as ``default_user``.
        page_size: items per page for every paginated listing (models, datasets, tree, commits);
            change it at runtime through the attribute.
        default_user: the user that open mode (no tokens) attributes requests to.

    Example:
        >>> with FakeHub() as hub:
        ...     sha = hub.add_repo("alice/esm", {"README.md": "---\\ntags: [x]\\n---\\n"})
        ...     hub.file("alice/esm", "README.md")[:3]
        b'---'
    """

    def __init__(
        self,
        tokens: Mapping[str, str] | None = None,
        *,
        page_size: int = 1000,
        default_user: str = "user",
    ) -> None:
        self._tokens = dict(tokens or {})
        self.page_size = page_size
        self.default_user = default_user
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._log: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._latency = 0.0
        self._counter = itertools.count()
        self._card_cache: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
        self._redirects: dict[tuple[str, str], str] = {}
        self._server_errors: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeHub:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeHub is already running")
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeHub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. ``http://127.0.0.1:40123``."""
        if self._server is None:
            raise RuntimeError("FakeHub is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ fault injection

    @property
    def latency(self) -> float:
        """Seconds slept before answering each request (simulates a slow Hub)."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        retry_after: int | None = None,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (and ``Retry-After`` if given).

        ``path_contains`` is matched against the URL-decoded path plus ``?query``.
        """
        if n < 1 or not 400 <= status <= 599:
            raise ValueError("n must be >= 1 and status an HTTP error status")
        with self._lock:
            self._faults.append(_Fault(n, status, retry_after, path_contains, method))

    def malformed_next(
        self, n: int = 1, path_contains: str | None = None, method: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with 200 and a body that is not JSON."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._faults.append(_Fault(n, None, None, path_contains, method))

    def respond_next(
        self,
        body: Any,
        n: int = 1,
        *,
        status: int = 200,
        path_contains: str | None = None,
        method: str | None = None,
        echo_token: bool = False,
    ) -> None:
        """Answer the next ``n`` matching requests with ``body`` as JSON and ``status``.

        For answers of a valid JSON but the wrong shape (``{}`` where a list is due, an item
        without ``id``), and, with ``echo_token``, for a careless server that repeats the
        request's token in its error message (``X-Error-Message`` and the body).
        """
        if n < 1 or not 100 <= status <= 599:
            raise ValueError("n must be >= 1 and status an HTTP status")
        with self._lock:
            self._faults.append(
                _Fault(n, status, None, path_contains, method, body=body, echo_token=echo_token)
            )

    @property
    def pending_faults(self) -> int:
        """How many injected faults have not fired yet (lets a test check its rule matched)."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    # ------------------------------------------------------------------ request log

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first, injected failures included."""
        with self._lock:
            return list(self._log)

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many logged requests have this method and contain the text in ``path?query``."""
        with self._lock:
            return sum(
                1
                for record in self._log
                if (method is None or record.method == method.upper())
                and (path_contains is None or path_contains in _target(record.path, record.query))
            )

    def reset_log(self) -> None:
        """Forget logged requests, e.g. after seeding a repo through the client."""
        with self._lock:
            self._log.clear()

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of unexpected server exceptions (answered with 500); should stay empty."""
        with self._lock:
            return list(self._server_errors)

    # ------------------------------------------------------------------ direct state access

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str] | None = None,
        *,
        repo_type: str = "model",
        private: bool = False,
        gated: bool | str = False,
        message: str = "Upload files",
    ) -> str:
        """Create a repo without HTTP (fast seeding) and return the sha of ``main``."""
        namespace, _, name = repo_id.partition("/")
        if not _NAME_RE.match(namespace) or not _NAME_RE.match(name):
            raise ValueError(f"repo_id must look like 'namespace/name', got {repo_id!r}")
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id} already exists")
            self._create_repo(repo_type, repo_id, private).gated = gated
            if files:
                return self.add_commit(repo_id, files, repo_type=repo_type, message=message)
            return self._repos[(repo_type, repo_id)].branches["main"]

    def add_commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str] | None = None,
        *,
        delete: Iterable[str] = (),
        message: str = "Update files",
        repo_type: str = "model",
        branch: str = "main",
    ) -> str:
        """Commit files (str is UTF-8 encoded) and deletions without HTTP; return the new sha."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            snapshot = dict(repo.head(branch).files)
            for path in delete:
                snapshot.pop(path)
            for path, content in (files or {}).items():
                snapshot[path] = content.encode() if isinstance(content, str) else bytes(content)
            try:  # same path rules as a commit over HTTP, reported as a plain ValueError
                snapshot = _apply_operations(snapshot, [])
                for path in files or {}:
                    _clean_path(path)
            except _HubError as err:
                raise ValueError(err.message) from None
            commit = self._commit(
                repo, branch, snapshot, title=message, message="", author=repo.owner
            )
            return commit.oid

    def has_repo(self, repo_id: str, *, repo_type: str = "model") -> bool:
        """Whether the repo exists (regardless of visibility)."""
        with self._lock:
            return (repo_type, repo_id) in self._repos

    def commits(
        self, repo_id: str, *, repo_type: str = "model", branch: str = "main"
    ) -> list[HubCommit]:
        """History of ``branch``, newest first (like ``git log``)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return list(self._history(repo, repo.branches[branch]))

    def pull_requests(self, repo_id: str, *, repo_type: str = "model") -> list[dict[str, Any]]:
        """Pull requests opened on the repo, oldest first: ``num``, ``title``, ``author``,
        ``ref`` (the branch ``refs/pr/<n>``, readable with :meth:`file`) and ``url``."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return [dict(pr) for pr in repo.pull_requests]

    def file(
        self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model"
    ) -> bytes:
        """Content of ``path`` at ``revision`` (branch or sha); KeyError when absent."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            sha = repo.branches.get(revision, revision)
            return repo.commits[sha].files[path]

    def add_redirect(self, old_id: str, new_id: str, *, repo_type: str = "model") -> None:
        """Answer API requests for ``old_id`` with a 307 to the same request for ``new_id``.

        This is how the Hub serves a renamed repo, and a legacy id without a namespace
        (``bert-base-uncased`` -> ``google-bert/bert-base-uncased``): ``model_info(old_id)``
        follows the redirect and reports ``id == new_id``. ``old_id`` may have no namespace.
        """
        if not all(_NAME_RE.match(part) for part in old_id.split("/")) or old_id.count("/") > 1:
            raise ValueError(f"old_id must look like 'name' or 'namespace/name', got {old_id!r}")
        with self._lock:
            if (repo_type, new_id) not in self._repos:
                raise ValueError(f"{repo_type} repo {new_id} does not exist")
            self._redirects[(repo_type, old_id)] = new_id

    # ------------------------------------------------------------------ request handling

    def _handle(
        self, method: str, raw_target: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        """Log, delay, inject faults, route; never raises (bugs become 500 + ``server_errors``)."""
        split = urlsplit(raw_target)
        decoded_path = unquote(split.path)
        target = _target(decoded_path, split.query)
        with self._lock:
            self._log.append(RequestRecord(method, decoded_path, split.query))
            latency = self._latency
            fault = next((f for f in self._faults if f.matches(method, target)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
        if latency:
            time.sleep(latency)
        if fault is not None:
            return _fault_response(fault, headers)
        try:
            call = _Call(
                method=method,
                params=parse_qsl(split.query, keep_blank_values=True),
                headers={key.lower(): value for key, value in headers.items()},
                body=body,
            )
            call.user = self._identify(call.headers)
            return self._route(call, split.path)
        except _HubError as err:
            return _error_response(err)
        except Exception:  # a server bug must not hang or kill the client's connection
            trace = traceback.format_exc()
            logger.error("FakeHub internal error on %s %s\n%s", method, raw_target, trace)
            with self._lock:
                self._server_errors.append(trace)
            return _Response.json({"error": "FakeHub internal error"}, 500)

    def _route(self, call: _Call, raw_path: str) -> _Response:
        # Split before decoding: revisions and tree paths arrive percent-encoded with safe="".
        segments = [unquote(segment) for segment in raw_path.split("/")[1:]]
        if segments and segments[-1] == "":
            segments.pop()
        if segments[:1] == ["api"]:
            moved = self._redirect(segments[1:], raw_path)
            if moved is not None:
                query = urlencode(call.params)
                location = f"{self.url}{moved}" + (f"?{query}" if query else "")
                return _Response(307, b"", {"Location": location})
            return self._route_api(call, segments[1:])
        repo_type = "model"
        if segments[:1] == ["datasets"]:
            repo_type, segments = "dataset", segments[1:]
        if len(segments) >= 5 and segments[2] == "resolve":
            call.allow("GET", "HEAD")
            ref = _Ref(repo_type, f"{segments[0]}/{segments[1]}")
            return self._resolve(call, ref, segments[3], "/".join(segments[4:]))
        raise _not_implemented(call.method, raw_path)

    def _redirect(self, parts: list[str], raw_path: str) -> str | None:
        """The raw path a renamed repo's API request moves to (see :meth:`add_redirect`)."""
        if not parts or parts[0] not in _TYPE_FROM_PLURAL:
            return None
        repo_type = _TYPE_FROM_PLURAL[parts[0]]
        raw = raw_path.split("/")  # ["", "api", plural, ...]: keep the rest percent-encoded
        with self._lock:
            for width in (2, 1):
                old_id = "/".join(parts[1 : 1 + width])
                new_id = self._redirects.get((repo_type, old_id))
                if new_id is not None and len(parts) >= 1 + width:
                    rest = raw[3 + width :]
                    return "/".join(["", "api", parts[0], new_id, *rest])
        return None

    def _route_api(self, call: _Call, parts: list[str]) -> _Response:
        match parts:
            case ["whoami-v2"]:
                call.allow("GET")
                return self._whoami(call)
            case ["agent-harnesses"]:
                return _Response.json({"standardEnvVars": [], "harnesses": {}})
            case ["repos", "create"]:
                call.allow("POST")
                return self._create(call)
            case ["repos", "delete"]:
                call.allow("DELETE")
                return self._delete(call)
            case ["validate-yaml"]:
                call.allow("POST")
                return _validate_yaml(call.body)
            case [plural] if plural in _TYPE_FROM_PLURAL:
                call.allow("GET")
                return self._list(call, _TYPE_FROM_PLURAL[plural])
            case [plural, namespace, name, *rest] if plural in _TYPE_FROM_PLURAL:
                ref = _Ref(_TYPE_FROM_PLURAL[plural], f"{namespace}/{name}")
                return self._route_repo(call, ref, rest)
            case [plural, name] if plural in _TYPE_FROM_PLURAL:
                # An id without namespace that no redirect knows (legacy ids are redirects).
                call.allow("GET")
                raise _HubError(
                    404, f"Repository Not Found: {_TYPE_FROM_PLURAL[plural]} {name}", "RepoNotFound"
                )
        raise _not_implemented(call.method, "/api/" + "/".join(parts))

    def _route_repo(self, call: _Call, ref: _Ref, rest: list[str]) -> _Response:
        match rest:
            case []:
                call.allow("GET")
                return self._info(call, ref, "main")
            case ["revision", *revision] if revision:
                call.allow("GET")
                return self._info(call, ref, "/".join(revision))
            case ["tree", revision, *path]:
                call.allow("GET")
                return self._tree(call, ref, revision, "/".join(path))
            case ["commits", revision]:
                call.allow("GET")
                return self._commit_list(call, ref, revision)
            case ["preupload", revision]:
                call.allow("POST")
                return self._preupload(call, ref, revision)
            case ["commit", revision]:
                call.allow("POST")
                return self._commit_post(call, ref, revision)
        raise _not_implemented(call.method, f"{ref.api_path}/" + "/".join(rest))

    # ------------------------------------------------------------------ auth and lookups

    def _identify(self, headers: Mapping[str, str]) -> str | None:
        """User behind the request; None for anonymous; 401 for a token the hub does not know."""
        if not self._tokens:
            return self.default_user
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = self._tokens.get(token.strip())
        if user is None:
            raise _HubError(401, _INVALID_CREDENTIALS)
        return user

    def _can_write(self, user: str, namespace: str) -> bool:
        return not self._tokens or user == namespace

    def _visible_repo(self, ref: _Ref, user: str | None) -> _Repo:
        """The repo if this user may see it, else 404 RepoNotFound (private repos included)."""
        repo = self._repos.get((ref.repo_type, ref.repo_id))
        if repo is None or not self._may_see(repo, user):
            raise _HubError(
                404, f"Repository Not Found: {ref.repo_type} {ref.repo_id}", "RepoNotFound"
            )
        return repo

    def _may_see(self, repo: _Repo, user: str | None) -> bool:
        return not repo.private or not self._tokens or user == repo.owner

    def _writable_repo(self, ref: _Ref, user: str | None) -> _Repo:
        writer = _require_user(user)
        repo = self._visible_repo(ref, writer)
        if not self._can_write(writer, repo.owner):
            raise _HubError(403, f"You don't have the rights to write to {ref.repo_id}")
        return repo

    def _history(self, repo: _Repo, sha: str | None) -> Iterator[HubCommit]:
        while sha is not None:
            commit = repo.commits[sha]
            yield commit
            sha = commit.parent

    def _url_of(self, ref: _Ref) -> str:
        return f"{self.url}{ref.web_prefix}/{ref.repo_id}"

    # ------------------------------------------------------------------ state changes

    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        repo = _Repo(repo_type, repo_id, private, _now(), uuid.uuid4().hex[:24])
        self._repos[(repo_type, repo_id)] = repo
        files = {".gitattributes": _GITATTRIBUTES}
        self._commit(repo, "main", files, title="initial commit", message="", author=repo.owner)
        return repo

    def _commit(
        self,
        repo: _Repo,
        branch: str,
        files: dict[str, bytes],
        *,
        title: str,
        message: str,
        author: str,
    ) -> HubCommit:
        parent = repo.branches.get(branch)
        date = _now()
        payload = (
            f"tree {_git_tree_sha1(files)}\nparent {parent}\nauthor {author} {date.timestamp()}\n"
            f"nonce {next(self._counter)}\n\n{title}\n\n{message}"
        ).encode()
        oid = hashlib.sha1(b"commit %d\0" % len(payload) + payload).hexdigest()
        commit = HubCommit(oid, parent, title, message, author, date, MappingProxyType(files))
        repo.commits[oid] = commit
        repo.branches[branch] = oid
        return commit

    # ------------------------------------------------------------------ endpoints

    def _whoami(self, call: _Call) -> _Response:
        """E2: the real Hub's shape, minus fields nobody reads."""
        name = _require_user(call.user)
        token_info = {"displayName": "fake-hub", "role": "write"}
        return _Response.json(
            {
                "type": "user",
                "name": name,
                "fullname": name,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": token_info},
            }
        )

    def _body_ref(self, call: _Call) -> _Ref:
        """Repo named by a create/delete body; ``organization`` None means the caller."""
        payload = call.json()
        name, organization = payload.get("name"), payload.get("organization")
        repo_type = payload.get("type") or "model"
        if repo_type not in _REPO_TYPES:
            raise _HubError(400, f"FakeHub serves model and dataset repos, not {repo_type!r}")
        namespace = organization or call.user
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise _HubError(400, "Body must carry a string 'name' (and optional 'organization')")
        if not _NAME_RE.match(name) or not _NAME_RE.match(namespace):
            raise _HubError(400, f"Invalid repo name: {namespace}/{name}")
        return _Ref(repo_type, f"{namespace}/{name}")

    def _create(self, call: _Call) -> _Response:
        """E3: a 409 carries ``url`` because ``exist_ok=True`` reads it from the conflict."""
        writer = _require_user(call.user)
        ref = self._body_ref(call)
        if not self._can_write(writer, ref.namespace):
            raise _HubError(
                403,
                f"You don't have the rights to create a {ref.repo_type} under the namespace"
                f' "{ref.namespace}"',
            )
        payload = call.json()
        private = payload.get("visibility") == "private" or payload.get("private") is True
        url = self._url_of(ref)
        with self._lock:
            if (ref.repo_type, ref.repo_id) in self._repos:
                raise _HubError(
                    409, f"You already created this {ref.repo_type} repo", extra={"url": url}
                )
            self._create_repo(ref.repo_type, ref.repo_id, private)
        return _Response.json({"url": url, "name": ref.repo_id, "id": ref.repo_id})

    def _delete(self, call: _Call) -> _Response:
        """E4."""
        writer = _require_user(call.user)
        ref = self._body_ref(call)
        with self._lock:
            self._writable_repo(ref, writer)
            del self._repos[(ref.repo_type, ref.repo_id)]
        return _Response.json({})

    def _preupload(self, call: _Call, ref: _Ref, revision: str) -> _Response:
        """E6: always ``regular`` so content goes inline; ``oid`` lets the client skip no-ops."""
        files = call.json().get("files")
        if not isinstance(files, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("path"), str) for entry in files
        ):
            raise _HubError(
                400, "Body must be {'files': [{'path': str, 'sample': str, 'size': int}]}"
            )
        with self._lock:
            if _truthy(call.first("create_pr")):  # proposing needs read access only
                repo = self._visible_repo(ref, _require_user(call.user))
            else:
                repo = self._writable_repo(ref, call.user)
            current = _resolve_revision(repo, revision).files
        answer = []
        for entry in files:
            path = entry["path"]
            item: dict[str, Any] = {"path": path, "uploadMode": "regular", "shouldIgnore": False}
            if path in current:
                item["oid"] = git_blob_sha1(current[path])
            answer.append(item)
        return _Response.json({"files": answer})

    def _commit_post(self, call: _Call, ref: _Ref, revision: str) -> _Response:
        """E7: apply ndjson operations to a branch; a stale ``parentCommit`` gets 412."""
        try:
            lines = [json.loads(line) for line in call.body.splitlines() if line.strip()]
        except ValueError as exc:
            raise _HubError(400, f"Commit body is not valid ndjson: {exc}") from exc
        if not lines or not isinstance(lines[0], dict) or lines[0].get("key") != "header":
            raise _HubError(400, "The first ndjson line must be the commit header")
        header = lines[0].get("value") or {}
        writer = _require_user(call.user)
        create_pr = _truthy(call.first("create_pr"))
        with self._lock:
            repo = (
                self._visible_repo(ref, writer) if create_pr else self._writable_repo(ref, writer)
            )
            if revision not in repo.branches:
                if revision in repo.commits:
                    raise _HubError(400, f"Commits must target a branch, not a sha ({revision})")
                raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            head = repo.head(revision)
            parent = header.get("parentCommit")
            branch = revision
            if create_pr:
                # The pull request starts from parentCommit: a moved head is no conflict.
                if parent is not None:
                    if parent not in repo.commits:
                        raise _HubError(400, f"Unknown parentCommit: {parent}")
                    head = repo.commits[parent]
                number = len(repo.pull_requests) + 1
                branch = f"refs/pr/{number}"
                repo.branches[branch] = head.oid
            elif parent is not None and parent != head.oid:
                raise _HubError(412, "A commit has happened since. Please refresh and try again.")
            title = str(header.get("summary") or "")
            commit = self._commit(
                repo,
                branch,
                _apply_operations(dict(head.files), lines[1:]),
                title=title,
                message=str(header.get("description") or ""),
                author=writer,
            )
            answer: dict[str, Any] = {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self._url_of(ref)}/commit/{commit.oid}",
                "hookOutput": "",
            }
            if create_pr:
                url = f"{self._url_of(ref)}/discussions/{number}"
                repo.pull_requests.append(
                    {"num": number, "title": title, "author": writer, "ref": branch, "url": url}
                )
                answer["pullRequestUrl"] = url
        return _Response.json(answer)

    def _card_data(self, commit: HubCommit) -> dict[str, Any] | None:
        """README front matter of a commit, cached by blob id (listings parse many cards)."""
        readme = commit.files.get("README.md")
        if readme is None:
            return None
        key = git_blob_sha1(readme)
        cached = self._card_cache.get(key)
        if cached is None:
            cached = _parse_front_matter(readme.decode("utf-8", errors="replace"))
            self._card_cache[key] = cached
        return cached[0]

    def _repo_fields(self, repo: _Repo, commit: HubCommit, *, blobs: bool) -> dict[str, Any]:
        """Every field this hub knows for a repo; each endpoint picks its subset."""
        card = self._card_data(commit)
        siblings: list[dict[str, Any]] = []
        for path, content in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(content), blobId=git_blob_sha1(content))
            siblings.append(sibling)
        fields: dict[str, Any] = {
            "_id": repo.mongo_id,
            "id": repo.repo_id,
            "author": repo.owner,
            "sha": commit.oid,
            "lastModified": _format_date(commit.date),
            "createdAt": _format_date(repo.created_at),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "downloadsAllTime": 0,
            "likes": 0,
            "trendingScore": 0,
            "tags": _derive_tags(repo.repo_type, commit, card or {}),
            "siblings": siblings,
            "usedStorage": sum(len(content) for content in commit.files.values()),
        }
        if card is not None:
            fields["cardData"] = card
        if repo.repo_type == "model":
            fields["modelId"] = repo.repo_id
            fields["spaces"] = []
            for key in ("library_name", "pipeline_tag"):
                if card is not None and isinstance(card.get(key), str):
                    fields[key] = card[key]
        return fields

    def _info(self, call: _Call, ref: _Ref, revision: str) -> _Response:
        """E11: ``sha`` is always present (snapshot_download and no-op commits need it)."""
        expand = call.all("expand") + call.all("expand[]")
        with self._lock:
            repo = self._visible_repo(ref, call.user)
            commit = _resolve_revision(repo, revision)
            fields = self._repo_fields(repo, commit, blobs=_truthy(call.first("blobs")))
        if expand:
            fields = {key: value for key, value in fields.items() if key in {"_id", "id", *expand}}
        return _Response.json(fields)

    def _list(self, call: _Call, repo_type: str) -> _Response:
        """E10: AND over tag filters, keyset cursor, absolute ``Link`` with every parameter."""
        filters = set(call.all("filter"))
        expand = call.all("expand") + call.all("expand[]")
        full, card_data = _truthy(call.first("full")), _truthy(call.first("cardData"))
        if expand and (full or card_data):
            raise _HubError(400, "'expand' cannot be combined with 'full' or 'cardData'")
        search, author = call.first("search"), call.first("author")
        pipeline_tag, gated = call.first("pipeline_tag"), call.first("gated")
        sort = call.first("sort") or "id"
        if sort not in _SORTS:
            raise _HubError(400, f"Unsupported sort: {sort}")
        page_size = self.page_size
        limit = call.first("limit")
        if limit is not None:
            if not limit.isdigit() or int(limit) < 1:
                raise _HubError(400, "limit must be a positive integer")
            page_size = min(page_size, int(limit))
        cursor = call.first("cursor")
        after = _decode_cursor(cursor) if cursor else None

        items: list[tuple[list[Any], dict[str, Any]]] = []
        with self._lock:
            for repo in self._repos.values():
                if repo.repo_type != repo_type or not self._may_see(repo, call.user):
                    continue
                if author is not None and repo.owner.lower() != author.lower():
                    continue
                if search is not None and search.lower() not in repo.repo_id.lower():
                    continue
                if _truthy(gated):
                    continue  # no repo of this hub is gated
                fields = self._repo_fields(repo, repo.head(), blobs=False)
                if not filters <= set(fields["tags"]):
                    continue
                if pipeline_tag is not None and fields.get("pipeline_tag") != pipeline_tag:
                    continue
                items.append((_sort_key(sort, repo, fields), fields))
        items.sort(key=lambda item: item[0])
        if after is not None:
            items = [item for item in items if item[0] > after]
        page = items[:page_size]

        keep = _listed_fields(repo_type, full=full, card_data=card_data, expand=expand)
        body = [{key: value for key, value in fields.items() if key in keep} for _, fields in page]
        headers = {}
        if len(items) > page_size:
            link = call.next_link(f"{self.url}/api/{_REPO_TYPES[repo_type]}", page[-1][0])
            headers["Link"] = link
        return _Response.json(body, headers=headers)

    def _tree(self, call: _Call, ref: _Ref, revision: str, folder: str) -> _Response:
        """E12: files carry the git blob ``oid`` (the client requires it); never ``xetHash``."""
        recursive, expand = _truthy(call.first("recursive")), _truthy(call.first("expand"))
        cursor = call.first("cursor")
        folder = folder.strip("/")
        with self._lock:
            repo = self._visible_repo(ref, call.user)
            commit = _resolve_revision(repo, revision)
            files = commit.files
            folders = {
                "/".join(path.split("/")[:depth])
                for path in files
                for depth in range(1, path.count("/") + 1)
            }
            if folder and folder not in folders:
                raise _HubError(
                    404,
                    f"Folder not found: {folder}",
                    "EntryNotFound",
                    headers={"X-Repo-Commit": commit.oid},
                )
            prefix = f"{folder}/" if folder else ""

            def wanted(path: str) -> bool:
                return path.startswith(prefix) and (
                    recursive or path.count("/") == prefix.count("/")
                )

            paths = sorted(
                [(path, True) for path in folders if wanted(path)]
                + [(path, False) for path in files if wanted(path)]
            )
            if cursor:
                paths = [entry for entry in paths if entry[0] > cursor]
            page = paths[: self.page_size]
            entries = []
            for path, is_folder in page:
                entry: dict[str, Any]
                if is_folder:
                    oid = _git_tree_sha1(files, path)
                    entry = {"type": "directory", "oid": oid, "size": 0, "path": path}
                else:
                    content = files[path]
                    oid = git_blob_sha1(content)
                    entry = {"type": "file", "oid": oid, "size": len(content), "path": path}
                if expand:
                    last = self._last_commit_touching(repo, commit, path, is_folder=is_folder)
                    entry["lastCommit"] = {
                        "id": last.oid,
                        "title": last.title,
                        "date": _format_date(last.date),
                    }
                entries.append(entry)
        headers = {}
        if len(paths) > self.page_size:
            base = f"{self.url}{ref.api_path}/tree/{_quote_segment(revision)}"
            if folder:
                base += f"/{_quote_segment(folder)}"
            headers["Link"] = call.next_link(base, page[-1][0])
        return _Response.json(entries, headers=headers)

    def _last_commit_touching(
        self, repo: _Repo, start: HubCommit, path: str, *, is_folder: bool
    ) -> HubCommit:
        def view(commit: HubCommit | None) -> dict[str, bytes]:
            if commit is None:
                return {}
            if is_folder:
                return {p: c for p, c in commit.files.items() if p.startswith(path + "/")}
            return {path: commit.files[path]} if path in commit.files else {}

        last = start
        for commit in self._history(repo, start.oid):
            parent = repo.commits[commit.parent] if commit.parent else None
            if view(commit) != view(parent):
                return commit
            last = commit
        return last

    def _commit_list(self, call: _Call, ref: _Ref, revision: str) -> _Response:
        """``list_repo_commits``: newest first; the cursor is the last commit already shown."""
        formatted = "formatted" in call.all("expand") + call.all("expand[]")
        cursor = call.first("cursor")
        with self._lock:
            repo = self._visible_repo(ref, call.user)
            start: str | None = _resolve_revision(repo, revision).oid
            if cursor:
                if cursor not in repo.commits:
                    raise _HubError(400, "Invalid pagination cursor")
                start = repo.commits[cursor].parent
            history = list(itertools.islice(self._history(repo, start), self.page_size + 1))
        page = history[: self.page_size]
        body = []
        for commit in page:
            item: dict[str, Any] = {
                "id": commit.oid,
                "title": commit.title,
                "message": commit.message,
                "authors": [{"user": commit.author}],
                "date": _format_date(commit.date),
            }
            if formatted:
                item["formatted"] = {"title": commit.title, "message": commit.message}
            body.append(item)
        headers = {}
        if len(history) > self.page_size:
            base = f"{self.url}{ref.api_path}/commits/{_quote_segment(revision)}"
            headers["Link"] = call.next_link(base, page[-1].oid)
        return _Response.json(body, headers=headers)

    def _resolve(self, call: _Call, ref: _Ref, revision: str, path: str) -> _Response:
        """E13: ETag = git blob sha1, X-Repo-Commit = resolved sha; the client cache needs both."""
        with self._lock:
            repo = self._visible_repo(ref, call.user)
            commit = _resolve_revision(repo, revision)
            content = commit.files.get(path)
        if content is None:
            raise _HubError(
                404,
                f"Entry not found: {path}",
                "EntryNotFound",
                headers={"X-Repo-Commit": commit.oid},
            )
        out = {
            "X-Repo-Commit": commit.oid,
            "ETag": f'"{git_blob_sha1(content)}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        size = len(content)
        byte_range = _parse_range(call.headers.get("range"), size) if call.method == "GET" else None
        if byte_range is None:
            return _Response(200, content, {**out, "Content-Length": str(size)})
        start, end = byte_range
        if start >= size or start > end:
            return _Response(416, b"", {**out, "Content-Range": f"bytes */{size}"})
        out["Content-Range"] = f"bytes {start}-{end}/{size}"
        return _Response(206, content[start : end + 1], out)


@dataclass(frozen=True)
class _Ref:
    """A repo as addressed by a request: its type and ``namespace/name``."""

    repo_type: str
    repo_id: str

    @property
    def namespace(self) -> str:
        return self.repo_id.split("/", 1)[0]

    @property
    def api_path(self) -> str:
        return f"/api/{_REPO_TYPES[self.repo_type]}/{self.repo_id}"

    @property
    def web_prefix(self) -> str:
        return "" if self.repo_type == "model" else f"/{_REPO_TYPES[self.repo_type]}"


@dataclass
class _Call:
    """One parsed request: what every endpoint handler receives."""

    method: str
    params: list[tuple[str, str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    user: str | None = None

    def first(self, key: str) -> str | None:
        return next((value for name, value in self.params if name == key), None)

    def all(self, key: str) -> list[str]:
        return [value for name, value in self.params if name == key]

    def json(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise _HubError(400, "Request body must be JSON") from exc
        if not isinstance(payload, dict):
            raise _HubError(400, "Request body must be a JSON object")
        return payload

    def allow(self, *methods: str) -> None:
        if self.method not in methods:
            raise _HubError(
                405, f"Method {self.method} not allowed here", headers={"Allow": ", ".join(methods)}
            )

    def next_link(self, base_url: str, cursor_key: Any) -> str:
        """``Link`` header for the next page: absolute, with every parameter plus the cursor."""
        cursor = cursor_key if isinstance(cursor_key, str) else _encode_cursor(cursor_key)
        params = [(key, value) for key, value in self.params if key != "cursor"]
        params.append(("cursor", cursor))
        return f'<{base_url}?{urlencode(params)}>; rel="next"'


def _require_user(user: str | None) -> str:
    if user is None:
        raise _HubError(401, _INVALID_CREDENTIALS)
    return user


def _resolve_revision(repo: _Repo, revision: str) -> HubCommit:
    """A branch name or a full 40-hex sha, like the Hub; anything else is RevisionNotFound."""
    sha = repo.branches.get(revision)
    if sha is None and _SHA_RE.match(revision) and revision in repo.commits:
        sha = revision
    if sha is None:
        raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
    return repo.commits[sha]


def _fault_response(fault: _Fault, request_headers: Mapping[str, str]) -> _Response:
    if fault.status is None:
        return _Response(200, b"<html>\x00not json{", {"Content-Type": "application/json"})
    if fault.echo_token:
        auth = {k.lower(): v for k, v in request_headers.items()}.get("authorization", "")
        message = f"Invalid token: {auth.removeprefix('Bearer ').strip()}"
        return _Response.json({"error": message}, fault.status, {"X-Error-Message": message})
    if fault.body is not _NO_BODY:
        return _Response.json(fault.body, fault.status, {})
    message = f"FakeHub injected {fault.status}"
    headers = {"X-Error-Message": message}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    return _Response.json({"error": message}, fault.status, headers)


def _validate_yaml(body: bytes) -> _Response:
    """E5: JSON at every status, because the client parses the body before checking it."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), str):
        errors = [{"message": "Body must be {'content': str, 'repoType': str}"}]
        return _Response.json({"errors": errors, "warnings": []}, 400)
    _, error = _parse_front_matter(payload["content"])
    if error is not None:
        return _Response.json({"errors": [{"message": error}], "warnings": []}, 400)
    return _Response.json({"errors": [], "warnings": []})


def _derive_tags(repo_type: str, commit: HubCommit, card: Mapping[str, Any]) -> list[str]:
    """Tags the Hub derives from the card (and, for ``safetensors``, from the files)."""
    tags = _as_str_list(card.get("tags"))
    if repo_type == "model":
        tags += _as_str_list(card.get("library_name")) + _as_str_list(card.get("pipeline_tag"))
        relation = card.get("base_model_relation")
        relation = relation if isinstance(relation, str) else "finetune"
        for base in _as_str_list(card.get("base_model")):
            tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
        tags += [f"dataset:{dataset}" for dataset in _as_str_list(card.get("datasets"))]
        tags += [f"license:{license_id}" for license_id in _as_str_list(card.get("license"))]
        tags += _as_str_list(card.get("language"))
        if any(path.endswith(".safetensors") for path in commit.files):
            tags.append("safetensors")
    else:
        for key in _DATASET_TAG_FIELDS:
            tags += [f"{key}:{value}" for value in _as_str_list(card.get(key))]
    tags.append("region:us")
    return list(dict.fromkeys(tags))


def _apply_operations(files: dict[str, bytes], operations: list[Any]) -> dict[str, bytes]:
    """Apply commit ndjson operations to a snapshot; unknown or LFS operations are a 400."""
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("value"), dict):
            raise _HubError(400, f"Malformed commit operation: {operation!r}")
        key, value = operation.get("key"), operation["value"]
        if key == "file":
            path = _clean_path(value.get("path"))
            content = value.get("content", "")
            if not isinstance(content, str):
                raise _HubError(400, f"File content must be a string for {path}")
            if value.get("encoding", "base64") == "base64":
                try:
                    files[path] = base64.b64decode(content, validate=True)
                except ValueError as exc:
                    raise _HubError(400, f"Invalid base64 content for {path}") from exc
            else:
                files[path] = content.encode()
        elif key == "deletedFile":
            path = _clean_path(value.get("path"))
            if files.pop(path, None) is None:
                raise _HubError(
                    404, f"A file with this name doesn't exist: {path}", "EntryNotFound"
                )
        elif key == "deletedFolder":
            folder = _clean_path(str(value.get("path", "")).rstrip("/"))
            doomed = [p for p in files if p.startswith(folder + "/")]
            if not doomed:
                raise _HubError(
                    404, f"A folder with this name doesn't exist: {folder}", "EntryNotFound"
                )
            for path in doomed:
                del files[path]
        elif key == "lfsFile":
            raise _HubError(
                400, "FakeHub stores regular files only (preupload never answers 'lfs')"
            )
        else:
            raise _HubError(400, f"Unsupported commit operation: {key!r}")
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in files:
                raise _HubError(400, f"{path} conflicts with the file {'/'.join(parts[:i])}")
    return files


def _clean_path(path: Any) -> str:
    if not isinstance(path, str) or not path or path.startswith("/") or path.endswith("/"):
        raise _HubError(400, f"Invalid path in repo: {path!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or parts[0] == ".git":
        raise _HubError(400, f"Invalid path in repo: {path!r}")
    return path


def _listed_fields(repo_type: str, *, full: bool, card_data: bool, expand: list[str]) -> set[str]:
    """Which fields a listing returns, following the real Hub's defaults per repo type."""
    if expand:
        return {"_id", "id", *expand}
    keep = set(_LIST_FIELDS[repo_type]) | (_FULL_FIELDS[repo_type] if full else set())
    if card_data:
        keep.add("cardData")
    return keep


def _sort_key(sort: str, repo: _Repo, fields: Mapping[str, Any]) -> list[Any]:
    """Keyset-pagination key: descending metric (as the Hub sorts), then ascending id."""
    if sort == "id":
        return [repo.repo_id]
    if sort == "lastModified":
        metric = int(repo.head().date.timestamp() * 1_000_000)
    elif sort == "createdAt":
        metric = int(repo.created_at.timestamp() * 1_000_000)
    else:
        metric = int(fields.get(sort) or 0)
    return [-metric, repo.repo_id]


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as inclusive (start, end); None means "send everything"."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    start_text, _, end_text = value[len("bytes=") :].strip().partition("-")
    try:
        if not start_text:
            suffix = int(end_text)
            return max(size - suffix, 0), size - 1
        start = int(start_text)
        end = int(end_text) if end_text else size - 1
    except ValueError:
        return None
    return start, min(end, size - 1)


def _target(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _quote_segment(value: str) -> str:
    """Percent-encode a path segment the way the client does (``safe=""``)."""
    return quote(value, safe="")


def _not_implemented(method: str, path: str) -> _HubError:
    # 501 is not in the client's retry list: an unsupported call fails fast, without backoff.
    return _HubError(501, f"FakeHub does not implement {method} {path}")


def _error_response(err: _HubError) -> _Response:
    headers = {"X-Error-Message": err.message.replace("\r", " ").replace("\n", " "), **err.headers}
    if err.code is not None:
        headers["X-Error-Code"] = err.code
    return _Response.json({"error": err.message, **err.extra}, err.status, headers)


@pytest.fixture
def fake_hub(request: pytest.FixtureRequest) -> Iterator[FakeHub]:
    """A running :class:`FakeHub` for one test; fails the test if the server hit an internal error.

    Open mode (no tokens) by default. Pass constructor arguments with indirect parametrisation:
    ``@pytest.mark.parametrize("fake_hub", [{"tokens": {"hf_x": "alice"}}], indirect=True)``.
    """
    kwargs: dict[str, Any] = dict(getattr(request, "param", None) or {})
    with FakeHub(**kwargs) as hub:
        yield hub
    if hub.server_errors:
        pytest.fail("FakeHub internal errors:\n" + "\n".join(hub.server_errors))
