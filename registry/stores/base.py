"""What every registry store offers: the protocol shared by the Hub and the local folder.

A *registry store* holds repos the way the Hugging Face Hub does: ``namespace/name`` repos
whose files change only through commits. ESMs are *model* repos; catalog snapshots are
*dataset* repos (``repo_type="dataset"``), a separate name space, so a model and a dataset
may share an id. The publisher writes through :meth:`RegistryStore.commit` (which can also
open a pull request, on the Hub); the catalog reads through
:meth:`RegistryStore.list_esms`, :meth:`RegistryStore.repo_info` and
:meth:`RegistryStore.read_file`; the ranker opens ESM files in place through
:meth:`RegistryStore.local_path`; people download a repo into a folder with
:meth:`RegistryStore.download` and read its :meth:`RegistryStore.history`. Callers never
need to know which store they hold: what a store is made of stays inside
:mod:`registry.stores`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from huggingface_hub.utils import HFValidationError, validate_repo_id

from ..errors import UsageError
from ..metadata import ESM_TAG

__all__ = [
    "ESM_TAG",
    "CommitResult",
    "RegistryStore",
    "RepoCommit",
    "RepoFile",
    "RepoInfo",
    "RepoType",
    "check_repo_id",
    "check_repo_type",
    "derive_tags",
    "file_matches",
    "git_blob_sha1",
]

#: The kinds of repo a store holds: ESMs are models, catalog snapshots are datasets.
RepoType = Literal["model", "dataset"]
_REPO_TYPES: tuple[str, ...] = ("model", "dataset")


def git_blob_sha1(content: bytes) -> str:
    """Git's blob id of ``content``: the ``oid`` the Hub reports for a regular file."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)  # no copy of the content (weights are megabytes)
    return digest.hexdigest()


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it is a full ``namespace/name`` Hub repo id.

    Raises:
        UsageError: the id has no namespace or breaks the Hub's naming rules.
    """
    if not isinstance(repo_id, str):
        raise UsageError(f"a repo id must be a string, not {type(repo_id).__name__}")
    shown = repr(repo_id[:120])  # repr: a newline in an id cannot split the message
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        reason = " ".join(str(exc).replace(repo_id, "<id>").split())
        raise UsageError(f"{shown} is not a valid repo id: {reason}") from None
    if repo_id.count("/") != 1:
        raise UsageError(f"{shown} is not a full repo id; use 'namespace/name'")
    return repo_id


def check_repo_type(repo_type: str) -> RepoType:
    """Return ``repo_type`` if a store holds repos of that kind.

    Raises:
        UsageError: neither ``model`` nor ``dataset``.
    """
    if repo_type == "model":
        return "model"
    if repo_type == "dataset":
        return "dataset"
    raise UsageError(f"unknown repo type {repo_type!r}; use one of {', '.join(_REPO_TYPES)}")


@dataclass(frozen=True)
class RepoFile:
    """One file of a repo revision.

    Attributes:
        path: Path inside the repo.
        size: Size in bytes (``None`` when the store did not say).
        blob_id: Git blob sha1 of the content (for LFS files on the Hub: of the pointer).
        sha256: sha256 of the content when the store knows it (LFS files, local stores).
    """

    path: str
    size: int | None = None
    blob_id: str | None = None
    sha256: str | None = None


def file_matches(remote: RepoFile | None, content: bytes) -> bool:
    """Whether ``remote`` certainly holds ``content`` (False when unknown).

    LFS files are compared by sha256, regular files by their git blob id, as the Hub does.
    """
    if remote is None:
        return False
    if remote.size is not None and remote.size != len(content):
        return False
    if remote.sha256 is not None:
        return remote.sha256 == hashlib.sha256(content).hexdigest()
    if remote.blob_id is not None:
        return remote.blob_id == git_blob_sha1(content)
    return False


@dataclass(frozen=True)
class RepoInfo:
    """A repo at one revision, as listings and ``repo_info`` describe it.

    Attributes:
        repo_id: ``namespace/name``.
        sha: Commit id of the revision described.
        last_modified: When that commit was made (None if unknown).
        tags: Tags as the Hub derives them from the card (``embedding_space_map``,
            ``base_model:…``, ``dataset:…``, …).
        card_data: The card's YAML front matter (empty without a card).
        private: Whether the repo is private.
        gated: Whether the repo is gated (users must accept conditions to read it).
        files: path -> file, when the store was asked for files (``repo_info``);
            ``None`` in listings.
    """

    repo_id: str
    sha: str | None
    last_modified: datetime | None = None
    tags: tuple[str, ...] = ()
    card_data: Mapping[str, Any] = field(default_factory=dict)
    private: bool = False
    gated: bool = False
    files: Mapping[str, RepoFile] | None = None


@dataclass(frozen=True)
class CommitResult:
    """The outcome of :meth:`RegistryStore.commit`.

    Attributes:
        commit_id: The new commit, or the current head when nothing changed.
        url: Where a person can look at the repo (a web URL or a local path), or at the
            pull request when one was opened.
        created: False when the content was already there and no commit was made.
        pr_url: The pull request opened by ``commit(..., create_pr=True)``, else ``None``.
    """

    commit_id: str
    url: str
    created: bool
    pr_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class RepoCommit:
    """One commit of a repo's main branch, as :meth:`RegistryStore.history` lists it.

    Attributes:
        id: The commit id (40 hex digits).
        message: The commit title.
        date: When it was made (UTC), when the store says.
        authors: Who made it, when the store says (the Hub does; a local folder does not).
        description: The rest of the commit message (the Hub's commit description).
        parent: The previous commit of the branch, when the store records it.
    """

    id: str
    message: str
    date: datetime | None = None
    authors: tuple[str, ...] = ()
    description: str = ""
    parent: str | None = None


@runtime_checkable
class RegistryStore(Protocol):
    """Where ESM repos (and catalog snapshots) live; obtain one with
    :func:`~registry.stores.open_store`.

    Every method raises :class:`~registry.errors.StoreError` subclasses for store failures,
    already translated from whatever the store is made of (HTTP, files):
    :class:`~registry.errors.RepoNotFoundError` for a missing repo, revision or file,
    :class:`~registry.errors.StoreAuthError` for credentials,
    :class:`~registry.errors.StoreConflictError` when the repo changed under a commit,
    :class:`~registry.errors.StoreUnavailableError` when the store cannot be reached
    (after the store's own retries). Bad arguments raise
    :class:`~registry.errors.UsageError`.

    ``repo_type`` selects model repos (ESMs, the default) or dataset repos (catalog
    snapshots); the two are separate, so ``alice/x`` may be both a model and a dataset.
    """

    @property
    def location(self) -> str:
        """The endpoint URL or folder, for messages and logs (never with credentials)."""
        ...

    def repo_url(self, repo_id: str, *, repo_type: RepoType = "model") -> str:
        """Where a person can look at the repo: a web URL or a folder. No request is made."""
        ...

    def list_esms(
        self, *, tags: Iterable[str] = (), author: str | None = None
    ) -> Iterator[RepoInfo]:
        """Model repos tagged :data:`ESM_TAG` and every tag in ``tags``.

        Args:
            tags: More tags every repo must carry (``base_model:<id>``, ``BaseLM:<id>``, ...).
            author: Only repos of this namespace (case-insensitive).

        Returns:
            A lazy iterator of :class:`RepoInfo` without files (``files`` is ``None``); each
            carries the head ``sha``, so a caller can tell which repos changed.
        """
        ...

    def repo_info(
        self, repo_id: str, revision: str | None = None, *, repo_type: RepoType = "model"
    ) -> RepoInfo:
        """One repo at ``revision`` (a commit id or ``main``; default the main branch).

        Returns:
            The repo with ``files`` filled in (size and blob id of every file), so a caller
            can compare content without downloading it (see :func:`file_matches`).

        Raises:
            RepoNotFoundError: no such repo (or not visible) or no such revision.
        """
        ...

    def read_file(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> bytes:
        """The content of ``path`` at ``revision`` (default: the main branch).

        Raises:
            RepoNotFoundError: no such repo, revision or file.
        """
        ...

    def local_path(
        self,
        repo_id: str,
        path: str,
        revision: str | None = None,
        *,
        repo_type: RepoType = "model",
    ) -> Path:
        """A file on this machine that holds ``path`` at ``revision``, without a copy.

        Hub stores download into (or find in) the huggingface_hub cache, so a file of a
        commit that is already cached costs no request when ``revision`` is a commit id;
        local stores return the commit's own snapshot file. Treat the file as read-only:
        it is shared with the store or cache.

        Returns:
            The path of an existing file.

        Raises:
            RepoNotFoundError: no such repo, revision or file.
        """
        ...

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
        """Add or replace ``files`` in one atomic commit, creating the repo when needed.

        Idempotent: when the repo already holds every file with this content, no commit is
        made. A commit whose answer was lost in transit is not repeated when retried.

        Args:
            repo_id: ``namespace/name``.
            files: path in the repo -> content. Other files of the repo are kept.
            message: The commit title.
            private: Visibility of a repo created by this call (``None``: store default);
                an existing repo keeps its visibility.
            parent: The commit the change was prepared against. When given, the repo must
                exist and the commit fails with :class:`~registry.errors.StoreConflictError`
                if the head moved on.
            repo_type: ``model`` (ESMs) or ``dataset`` (catalog snapshots).
            create_pr: Propose the change as a pull request against the main branch instead
                of committing to it (for repos one may read but not write). The repo must
                exist; no pull request is opened when the files are already in place.

        Returns:
            The commit; ``created`` is False (and no commit is made) when every file already
            has this content, and ``commit_id`` is then the current head. With
            ``create_pr``, ``pr_url`` (and ``url``) is the pull request.

        Raises:
            RepoNotFoundError: ``parent`` or ``create_pr`` was given and the repo does not
                exist.
            StoreConflictError: ``parent`` is not the head any more, or the repo kept
                changing under the commit.
            StoreAuthError: no right to create or write the repo.
            UsageError: ``create_pr`` on a store without pull requests (a local folder).
        """
        ...

    def history(self, repo_id: str, *, repo_type: RepoType = "model") -> Sequence[RepoCommit]:
        """The commits of the repo's main branch, newest first (like ``git log``).

        Raises:
            RepoNotFoundError: no such repo.
        """
        ...

    def download(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        local_dir: str | os.PathLike[str] | None = None,
        repo_type: RepoType = "model",
    ) -> Path:
        """Every file of the repo at ``revision`` (default: the main branch), in a folder.

        Without ``local_dir`` the folder is the store's own read-only copy (the Hub's
        download cache, a local registry's snapshot); with it, the files are written into
        ``local_dir`` (created if needed; files of the same name are replaced, others are
        left alone), through the cache on the Hub.

        Returns:
            The folder that holds the files.

        Raises:
            RepoNotFoundError: no such repo or revision.
        """
        ...

    def exists(self, repo_id: str, *, repo_type: RepoType = "model") -> bool:
        """Whether the repo exists and is visible to the caller."""
        ...

    def delete(
        self, repo_id: str, *, missing_ok: bool = False, repo_type: RepoType = "model"
    ) -> None:
        """Delete the repo and its history.

        Raises:
            RepoNotFoundError: no such repo, unless ``missing_ok``.
        """
        ...

    def default_namespace(self) -> str:
        """The namespace new repos go to when the caller names none.

        Raises:
            StoreAuthError: the store needs credentials to tell (the Hub: a valid token).
        """
        ...

    def canonical_model_id(self, model_id: str) -> str | None:
        """The id under which the store knows the model ``model_id``.

        On the Hub this follows renames and legacy ids without a namespace
        (``bert-base-uncased`` -> ``google-bert/bert-base-uncased``).

        Returns:
            The canonical id, or ``None`` when the store cannot tell (local stores).

        Raises:
            RepoNotFoundError: the store knows no such model.
        """
        ...


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


def derive_tags(card_data: Mapping[str, Any], paths: Iterable[str] = ()) -> tuple[str, ...]:
    """The tags the Hub derives from a model card's front matter (and its files).

    Stores without a Hub behind them use this so that tag filters behave the same:
    the card's ``tags``, ``library_name``, ``pipeline_tag``, ``base_model:<id>`` (plus
    ``base_model:<relation>:<id>``), ``dataset:<id>``, ``license:<id>``, the language codes,
    and ``safetensors`` when a ``.safetensors`` file is present.
    """
    tags = _as_str_list(card_data.get("tags"))
    tags += _as_str_list(card_data.get("library_name"))
    tags += _as_str_list(card_data.get("pipeline_tag"))
    relation = card_data.get("base_model_relation")
    relation = relation if isinstance(relation, str) else "finetune"
    for base in _as_str_list(card_data.get("base_model")):
        tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
    tags += [f"dataset:{name}" for name in _as_str_list(card_data.get("datasets"))]
    tags += [f"license:{name}" for name in _as_str_list(card_data.get("license"))]
    tags += _as_str_list(card_data.get("language"))
    if any(path.endswith(".safetensors") for path in paths):
        tags.append("safetensors")
    return tuple(dict.fromkeys(tags))
