"""A registry store in a local folder, laid out like Hub repos: for offline and air-gapped use.

Layout of the root folder (model repos, i.e. ESMs)::

    <root>/<namespace>/<name>            -> the current files of the repo (a symbolic link)
    <root>/.esm-registry/repos/<namespace>/<name>/
        refs/main                        id of the head commit: the single source of truth
        commits/<commit id>.json         parent, tree id, message, date, files, card data, tags
        snapshots/<commit id>/...        the complete, read-only files of each commit
        repo.json                        visibility and creation date
    <root>/.esm-registry/locks/<namespace>/<name>.lock

Dataset repos (catalog snapshots) have the same layout under ``<root>/datasets``, the way
the Hub puts them under ``/datasets/``; so, as on the Hub, ``datasets`` cannot be the
namespace of a model repo. :meth:`LocalStore.local_path` hands out the snapshot files
themselves (read-only), which is how the ranker reads ESMs without copying them.

Every commit writes a complete new snapshot into a hidden staging folder (files that did
not change are hard-linked from the previous snapshot), renames it into place, and only
then moves ``refs/main`` with one atomic rename; the ``<namespace>/<name>`` link is swapped
the same way. A crash at any point leaves the previous revision intact and visible, and
never a half-written ESM; leftovers are removed by the next commit to the repo.

Commit ids are sha1 digests over the git tree id of the files, the parent, the date and
the message (so two commits with the same files still differ); file ids are git blob
sha1s, as on the Hub. Tags and card data are derived from the ``README.md`` front matter
the way the Hub derives them, so tag filters give the same answers in both stores.

Example:
    >>> import tempfile
    >>> store = LocalStore(tempfile.mkdtemp())
    >>> store.commit("alice/esm", {"README.md": b"---\\ntags: [embedding_space_map]\\n---\\n"},
    ...              "Add card").created
    True
    >>> [repo.repo_id for repo in store.list_esms()]
    ['alice/esm']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from huggingface_hub.utils import WeakFileLock

from .._io import atomic_write, fsync_path
from ..card import parse_card
from ..errors import RepoNotFoundError, StoreConflictError, StoreError, UsageError
from ..paths import README_NAME
from .base import (
    ESM_TAG,
    CommitResult,
    RepoCommit,
    RepoFile,
    RepoInfo,
    RepoType,
    check_repo_id,
    check_repo_type,
    derive_tags,
)
from .base import git_blob_sha1 as _blob_sha1

__all__ = ["DATASETS_DIR", "META_DIR", "CommitRecord", "LocalStore"]

logger = logging.getLogger(__name__)

#: Hidden folder under the root that holds history, snapshots and locks.
META_DIR = ".esm-registry"
#: Folder under the root that holds the dataset repos, laid out like the root itself.
DATASETS_DIR = "datasets"
_STAGING_PREFIX = ".tmp-"
_MAIN = "main"


@dataclass(frozen=True, kw_only=True)
class CommitRecord(RepoCommit):
    """One commit of a local repo: a :class:`~registry.stores.base.RepoCommit` with its files.

    Attributes:
        id: The commit id (40 hex digits).
        parent: The previous commit, ``None`` for the first.
        tree: Git tree id of the files.
        message: The commit title.
        date: When the commit was made (UTC).
        files: path -> file (size, git blob id, sha256).
        card_data: The README front matter at this commit.
        tags: Tags derived from the card and files, as the Hub derives them.
    """

    date: datetime
    tree: str
    files: Mapping[str, RepoFile]
    card_data: Mapping[str, Any]
    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "tree": self.tree,
            "message": self.message,
            "date": self.date.isoformat(),
            "files": {
                path: {"size": f.size, "oid": f.blob_id, "sha256": f.sha256}
                for path, f in sorted(self.files.items())
            },
            "card_data": dict(self.card_data),
            "tags": list(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommitRecord:
        return cls(
            id=str(data["id"]),
            parent=data.get("parent"),
            tree=str(data["tree"]),
            message=str(data.get("message", "")),
            date=datetime.fromisoformat(str(data["date"])),
            files={
                path: RepoFile(path, entry.get("size"), entry.get("oid"), entry.get("sha256"))
                for path, entry in dict(data.get("files") or {}).items()
            },
            card_data=dict(data.get("card_data") or {}),
            tags=tuple(data.get("tags") or ()),
        )


class LocalStore:
    """ESM repos in a local folder; see the module docstring for the layout.

    Safe for concurrent writers: threads and processes that commit to the same repo take
    turns through a lock file; different repos are written in parallel.

    Args:
        root: The folder; created on first write.
        namespace: The namespace of repos whose id names none (default ``local``).
    """

    def __init__(self, root: str | os.PathLike[str], *, namespace: str = "local") -> None:
        self.root = Path(root).expanduser().absolute()
        self._namespace = namespace
        self._holds_datasets = False  # True for the store of dataset repos under the root
        self._datasets: LocalStore | None = None

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    @property
    def location(self) -> str:
        """The root folder."""
        return str(self.root)

    def default_namespace(self) -> str:
        """The namespace new repos go to when the caller names none."""
        return self._namespace

    def repo_url(self, repo_id: str, *, repo_type: RepoType = "model") -> str:
        """The folder that shows the repo's current files."""
        return str(self._area(repo_type)._view(repo_id))

    def canonical_model_id(self, model_id: str) -> str | None:
        """``None``: a local folder knows no renames (the catalog's alias table still does)."""
        return None

    # --- paths ---------------------------------------------------------------------------

    def _area(self, repo_type: str) -> LocalStore:
        """The store of ``repo_type`` repos: this one for models, ``<root>/datasets`` else."""
        if check_repo_type(repo_type) == "model":
            return self
        if self._datasets is None:
            datasets = LocalStore(self.root / DATASETS_DIR, namespace=self._namespace)
            datasets._holds_datasets = True
            self._datasets = datasets
        return self._datasets

    def _split(self, repo_id: str) -> tuple[str, str]:
        namespace, name = check_repo_id(repo_id).split("/")
        if namespace == DATASETS_DIR and not self._holds_datasets:
            raise UsageError(
                f"{repo_id!r}: '{DATASETS_DIR}' is reserved for dataset repos and cannot be "
                "the namespace of a model repo"
            )
        return namespace, name

    def _meta(self, repo_id: str) -> Path:
        namespace, name = self._split(repo_id)
        return self.root / META_DIR / "repos" / namespace / name

    def _view(self, repo_id: str) -> Path:
        namespace, name = self._split(repo_id)
        return self.root / namespace / name

    def _lock(self, repo_id: str) -> Path:
        namespace, name = self._split(repo_id)
        return self.root / META_DIR / "locks" / namespace / f"{name}.lock"

    # --- reading -------------------------------------------------------------------------

    def _head(self, repo_id: str) -> str | None:
        try:
            head = (self._meta(repo_id) / "refs" / _MAIN).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return head or None

    def _record(self, repo_id: str, commit_id: str) -> CommitRecord:
        path = self._meta(repo_id) / "commits" / f"{commit_id}.json"
        try:
            return CommitRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise RepoNotFoundError(f"{repo_id} has no revision {commit_id!r}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{path} is damaged: {exc}") from None

    def _resolve(self, repo_id: str, revision: str | None) -> CommitRecord:
        head = self._head(repo_id)
        if head is None:
            raise RepoNotFoundError(f"no repo {repo_id} in {self.root}")
        if revision in (None, _MAIN, head):
            return self._record(repo_id, head)
        assert revision is not None
        if len(revision) != 40 or any(c not in "0123456789abcdef" for c in revision):
            raise RepoNotFoundError(f"{repo_id} has no revision {revision!r}")
        return self._record(repo_id, revision)

    def history(self, repo_id: str, *, repo_type: RepoType = "model") -> list[CommitRecord]:
        """Every commit of the repo, newest first (like ``git log``)."""
        area = self._area(repo_type)
        if area is not self:
            return area.history(repo_id)
        commits = []
        commit_id = self._head(repo_id)
        if commit_id is None:
            raise RepoNotFoundError(f"no repo {repo_id} in {self.root}")
        while commit_id is not None:
            record = self._record(repo_id, commit_id)
            commits.append(record)
            commit_id = record.parent
        return commits

    def _private(self, repo_id: str) -> bool:
        try:
            data = json.loads((self._meta(repo_id) / "repo.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(data.get("private", False))

    def _info(self, repo_id: str, record: CommitRecord, *, files: bool) -> RepoInfo:
        return RepoInfo(
            repo_id=repo_id,
            sha=record.id,
            last_modified=record.date,
            tags=record.tags,
            card_data=record.card_data,
            private=self._private(repo_id),
            files=dict(record.files) if files else None,
        )

    def list_esms(
        self, *, tags: Iterable[str] = (), author: str | None = None
    ) -> Iterator[RepoInfo]:
        """ESM repos (tag ``embedding_space_map`` plus every tag in ``tags``), by repo id."""
        wanted = {ESM_TAG, *tags}
        repos = self.root / META_DIR / "repos"
        if not repos.is_dir():
            return
        for namespace in sorted(p for p in repos.iterdir() if p.is_dir()):
            if author is not None and namespace.name.lower() != author.lower():
                continue
            for folder in sorted(p for p in namespace.iterdir() if p.is_dir()):
                repo_id = f"{namespace.name}/{folder.name}"
                head = self._head(repo_id)
                if head is None:
                    continue
                record = self._record(repo_id, head)
                if wanted <= set(record.tags):
                    yield self._info(repo_id, record, files=False)

    def repo_info(
        self, repo_id: str, revision: str | None = None, *, repo_type: RepoType = "model"
    ) -> RepoInfo:
        """One repo with its files, at ``revision`` (a commit id) or the head."""
        area = self._area(repo_type)
        return area._info(repo_id, area._resolve(repo_id, revision), files=True)

    def local_path(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> Path:
        """The file in the snapshot of ``revision`` (a commit id) or the head: no copy.

        Snapshot files are read-only and never change, so the path stays valid for as long
        as the repo exists.
        """
        area = self._area(repo_type)
        record = area._resolve(repo_id, revision)
        if path not in record.files:
            raise RepoNotFoundError(f"{repo_id} has no file {path!r} at {record.id[:8]}")
        return area._meta(repo_id) / "snapshots" / record.id / path

    def read_file(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> bytes:
        """A file's content at ``revision`` (a commit id) or the head."""
        return self.local_path(repo_id, path, revision, repo_type=repo_type).read_bytes()

    def exists(self, repo_id: str, *, repo_type: RepoType = "model") -> bool:
        """Whether the repo has been committed to."""
        return self._area(repo_type)._head(repo_id) is not None

    def download(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        repo_type: RepoType = "model",
    ) -> Path:
        """The commit's snapshot folder itself (read-only), or a copy in ``local_dir``.

        A copy replaces files of the same name in ``local_dir`` (each written atomically)
        and leaves its other files alone, like a download from the Hub into a folder.
        """
        area = self._area(repo_type)
        record = area._resolve(repo_id, revision)
        snapshot = area._meta(repo_id) / "snapshots" / record.id
        if local_dir is None:
            return snapshot
        target = Path(local_dir).expanduser()
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target} is a file, not a folder to download into")
        for path in sorted(record.files):
            _check_path(path)  # the record is read from disk: never write outside the folder
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(destination, (snapshot / path).read_bytes())
        logger.info("copied %s at %s into %s", repo_id, record.id[:8], target)
        return target.absolute()

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
        """Add or replace ``files`` in one atomic commit; see :meth:`RegistryStore.commit`.

        ``create_pr`` is refused (:class:`~registry.errors.UsageError`): a folder has no
        pull requests.
        """
        if create_pr:
            raise UsageError(
                f"cannot open a pull request on {repo_id}: a local registry ({self.root}) has "
                "no pull requests; commit to it directly, or use a Hub registry"
            )
        area = self._area(repo_type)
        if area is not self:
            return area.commit(repo_id, files, message, private=private, parent=parent)
        check_repo_id(repo_id)
        if not files:
            raise UsageError("a commit needs at least one file")
        if not message.strip():
            raise UsageError("a commit needs a message")
        for path in files:
            _check_path(path)
        meta = self._meta(repo_id)
        lock = self._lock(repo_id)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with WeakFileLock(lock):
            self._check_view(repo_id)
            meta.mkdir(parents=True, exist_ok=True)
            _remove_staging(meta)
            head = self._head(repo_id)
            if parent is not None and parent != head:
                if head is None:
                    raise RepoNotFoundError(f"no repo {repo_id} in {self.root}")
                raise StoreConflictError(
                    f"{repo_id} moved on to {head[:8]} since {parent[:8]}; read it again and retry"
                )
            previous = self._record(repo_id, head) if head is not None else None
            entries = dict(previous.files) if previous is not None else {}
            for path, content in files.items():
                entries[path] = RepoFile(
                    path, len(content), _blob_sha1(content), hashlib.sha256(content).hexdigest()
                )
            _check_conflicts(entries)
            tree = _tree_sha1({path: entry.blob_id or "" for path, entry in entries.items()})
            if previous is not None and tree == previous.tree:
                self._point_view(repo_id, previous.id)  # repairs a view a crash left behind
                logger.debug("commit to %s: unchanged at %s", repo_id, previous.id)
                return CommitResult(previous.id, self.repo_url(repo_id), created=False)
            record = self._new_record(
                head=head,
                tree=tree,
                message=message,
                entries=entries,
                files=files,
                previous=previous,
                repo_id=repo_id,
            )
            self._write_snapshot(repo_id, record, files, previous)
            if previous is None:
                atomic_write(
                    meta / "repo.json",
                    json.dumps(
                        {"private": bool(private), "created_at": record.date.isoformat()}
                    ).encode(),
                )
            (meta / "refs").mkdir(exist_ok=True)
            atomic_write(meta / "refs" / _MAIN, record.id.encode("ascii") + b"\n")
            self._point_view(repo_id, record.id)
            self._collect_garbage(repo_id)
        logger.info("committed %s to %s in %s", record.id[:8], repo_id, self.root)
        return CommitResult(record.id, self.repo_url(repo_id), created=True)

    def _new_record(
        self,
        *,
        head: str | None,
        tree: str,
        message: str,
        entries: Mapping[str, RepoFile],
        files: Mapping[str, bytes],
        previous: CommitRecord | None,
        repo_id: str,
    ) -> CommitRecord:
        if README_NAME in files:
            readme: bytes | None = files[README_NAME]
        elif previous is not None and README_NAME in previous.files:
            readme = self.read_file(repo_id, README_NAME, previous.id)
        else:
            readme = None
        card_data: dict[str, Any] = {}
        if readme is not None:
            card_data = dict(parse_card(readme).front_matter or {})
        date = datetime.now(timezone.utc)
        header = f"tree {tree}\nparent {head or ''}\ndate {date.isoformat()}\n\n{message}"
        commit_id = hashlib.sha1(header.encode("utf-8"), usedforsecurity=False).hexdigest()
        return CommitRecord(
            id=commit_id,
            parent=head,
            tree=tree,
            message=message,
            date=date,
            files=dict(entries),
            card_data=_json_safe(card_data),
            tags=derive_tags(card_data, entries),
        )

    def _write_snapshot(
        self,
        repo_id: str,
        record: CommitRecord,
        files: Mapping[str, bytes],
        previous: CommitRecord | None,
    ) -> None:
        """Write the commit's complete snapshot and record, then rename them into place."""
        meta = self._meta(repo_id)
        staging = meta / f"{_STAGING_PREFIX}{secrets.token_hex(6)}"
        staging.mkdir()
        try:
            old = meta / "snapshots" / previous.id if previous is not None else None
            for path in sorted(record.files):
                target = staging / path
                target.parent.mkdir(parents=True, exist_ok=True)
                if path in files:
                    _write_file(target, files[path])
                else:
                    assert old is not None
                    _link_or_copy(old / path, target)
            _fsync(staging)
            commits = meta / "commits"
            commits.mkdir(exist_ok=True)
            payload = json.dumps(record.to_json(), indent=1, ensure_ascii=False).encode()
            atomic_write(commits / f"{record.id}.json", payload)
            snapshots = meta / "snapshots"
            snapshots.mkdir(exist_ok=True)
            staging.rename(snapshots / record.id)
            _fsync(snapshots)
        except BaseException:
            _rmtree(staging)
            raise

    def _check_view(self, repo_id: str) -> None:
        view = self._view(repo_id)
        if view.exists() and not view.is_symlink():
            raise StoreError(
                f"{view} exists and is not managed by esm-registry; move it away or use "
                "another registry folder"
            )

    def _point_view(self, repo_id: str, commit_id: str) -> None:
        """Make ``<root>/<ns>/<name>`` show ``commit_id`` (one atomic rename of a link)."""
        view = self._view(repo_id)
        namespace, name = repo_id.split("/")
        target = Path("..", META_DIR, "repos", namespace, name, "snapshots", commit_id)
        try:
            if view.is_symlink() and Path(os.readlink(view)) == target:
                return
            view.parent.mkdir(parents=True, exist_ok=True)
            temporary = view.parent / f".{name}{_STAGING_PREFIX}{secrets.token_hex(6)}"
            os.symlink(target, temporary, target_is_directory=True)
            try:
                os.replace(temporary, view)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as exc:  # no symlinks here (e.g. Windows without developer mode)
            logger.warning(
                "cannot link %s to the current files (%s); the store still works through its API",
                view,
                exc.strerror or exc,
            )

    def _collect_garbage(self, repo_id: str) -> None:
        """Remove snapshots and records that no commit reaches (left by crashed commits)."""
        meta = self._meta(repo_id)
        reachable = {record.id for record in self.history(repo_id)}
        for snapshot in (meta / "snapshots").iterdir():
            if snapshot.name not in reachable:
                _rmtree(snapshot)
        for record in (meta / "commits").glob("*.json"):
            if record.stem not in reachable:
                record.unlink(missing_ok=True)

    def delete(
        self, repo_id: str, *, missing_ok: bool = False, repo_type: RepoType = "model"
    ) -> None:
        """Delete the repo, its history and its view."""
        area = self._area(repo_type)
        if area is not self:
            area.delete(repo_id, missing_ok=missing_ok)
            return
        meta = self._meta(repo_id)
        lock = self._lock(repo_id)
        if not meta.exists():
            if missing_ok:
                return
            raise RepoNotFoundError(f"no repo {repo_id} in {self.root}")
        with WeakFileLock(lock):
            view = self._view(repo_id)
            if view.is_symlink():
                view.unlink()
            doomed = meta.parent / f"{_STAGING_PREFIX}deleted-{meta.name}-{secrets.token_hex(4)}"
            meta.rename(doomed)  # the repo disappears in one step
            _rmtree(doomed)
        logger.info("deleted %s from %s", repo_id, self.root)


# --- helpers ----------------------------------------------------------------------------------


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] in (".git", META_DIR)
    ):
        raise UsageError(f"invalid path in repo: {path!r}")


def _check_conflicts(entries: Mapping[str, RepoFile]) -> None:
    for path in entries:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in entries:
                raise UsageError(f"{path!r} conflicts with the file {prefix!r}")


def _tree_sha1(oids: Mapping[str, str], prefix: str = "") -> str:
    """Git tree id of folder ``prefix`` (empty for the root), like ``git write-tree``."""
    entries: dict[str, tuple[bytes, str]] = {}
    start = f"{prefix}/" if prefix else ""
    for path in oids:
        if not path.startswith(start):
            continue
        name, sep, _ = path[len(start) :].partition("/")
        if sep:
            entries[name] = (b"40000", _tree_sha1(oids, start + name))
        else:
            entries[name] = (b"100644", oids[path])
    body = b"".join(
        mode + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
        for name, (mode, oid) in sorted(
            entries.items(), key=lambda kv: kv[0] + ("/" if kv[1][0] == b"40000" else "")
        )
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    """Card data as JSON can store it (YAML dates and the like become strings)."""
    safe: dict[str, Any] = json.loads(json.dumps(dict(data), default=str))
    return safe


def _write_file(path: Path, content: bytes) -> None:
    """Write a new file, flush it to disk and make it read-only (snapshots never change)."""
    with path.open("xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _link_or_copy(source: Path, target: Path) -> None:
    """Share an unchanged file with the previous snapshot; copy where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        _write_file(target, source.read_bytes())


def _fsync(path: Path) -> None:
    """Flush a folder (and the files directly in it) so a power loss cannot undo a rename."""
    targets = [path]
    if path.is_dir():
        targets += [child for child in path.iterdir() if child.is_file()]
    for target in targets:
        fsync_path(target)


def _remove_staging(meta: Path) -> None:
    """Remove what crashed commits left behind (only called while holding the lock)."""
    for leftover in meta.glob(f"{_STAGING_PREFIX}*"):
        _rmtree(leftover)
    for folder in (meta / "commits", meta / "refs"):
        for leftover in folder.glob(".*.tmp-*") if folder.is_dir() else ():
            leftover.unlink(missing_ok=True)


def _rmtree(path: Path) -> None:
    """Remove a folder or file; best effort, since leftovers are retried on the next commit."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
