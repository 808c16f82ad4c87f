"""What every registry store offers: the protocol shared by the Hub and the local folder.

A *registry store* holds ESM repos the way the Hugging Face Hub does: ``namespace/name``
repos whose files change only through commits. The publisher writes through
:meth:`RegistryStore.commit`; the catalog reads through :meth:`RegistryStore.list_esms`,
:meth:`RegistryStore.repo_info` and :meth:`RegistryStore.read_file`. Keeping the protocol
this small is what lets the local folder stand in for the Hub offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from huggingface_hub.utils import HFValidationError, validate_repo_id

from ..errors import UsageError
from ..metadata import ESM_TAG

__all__ = [
    "ESM_TAG",
    "CommitResult",
    "RegistryStore",
    "RepoFile",
    "RepoInfo",
    "check_repo_id",
    "derive_tags",
    "file_matches",
    "git_blob_sha1",
]


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
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UsageError(f"{repo_id!r} is not a valid repo id: {exc}") from None
    if repo_id.count("/") != 1:
        raise UsageError(f"{repo_id!r} is not a full repo id; use 'namespace/name'")
    return repo_id


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
        files: path -> file, when the store was asked for files (``repo_info``);
            ``None`` in listings.
    """

    repo_id: str
    sha: str | None
    last_modified: datetime | None = None
    tags: tuple[str, ...] = ()
    card_data: Mapping[str, Any] = field(default_factory=dict)
    private: bool = False
    files: Mapping[str, RepoFile] | None = None


@dataclass(frozen=True)
class CommitResult:
    """The outcome of :meth:`RegistryStore.commit`.

    Attributes:
        commit_id: The new commit, or the current head when nothing changed.
        url: Where a person can look at the repo (a web URL or a local path).
        created: False when the content was already there and no commit was made.
    """

    commit_id: str
    url: str
    created: bool


@runtime_checkable
class RegistryStore(Protocol):
    """Where ESM repos live. Implemented by :class:`~registry.stores.hub.HubStore` and
    :class:`~registry.stores.local.LocalStore`.

    Every method raises :class:`~registry.errors.StoreError` subclasses for store failures:
    :class:`~registry.errors.RepoNotFoundError` for a missing repo, revision or file,
    :class:`~registry.errors.StoreAuthError` for credentials, and so on.
    """

    @property
    def location(self) -> str:
        """The endpoint URL or folder, for messages and logs (never with credentials)."""
        ...

    def repo_url(self, repo_id: str) -> str:
        """Where a person can look at the repo (a web URL or a folder)."""
        ...

    def list_esms(
        self, *, tags: Iterable[str] = (), author: str | None = None
    ) -> Iterator[RepoInfo]:
        """Repos tagged :data:`ESM_TAG` and every tag in ``tags``, optionally by ``author``."""
        ...

    def repo_info(self, repo_id: str, revision: str | None = None) -> RepoInfo:
        """One repo at ``revision`` (default: the main branch), with its files."""
        ...

    def read_file(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """The content of ``path`` at ``revision`` (default: the main branch)."""
        ...

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        message: str,
        *,
        private: bool | None = None,
        parent: str | None = None,
    ) -> CommitResult:
        """Add or replace ``files`` in one atomic commit, creating the repo when needed.

        Args:
            repo_id: ``namespace/name``.
            files: path in the repo -> content. Other files of the repo are kept.
            message: The commit title.
            private: Visibility of a repo created by this call (``None``: store default);
                an existing repo keeps its visibility.
            parent: The commit the change was prepared against. When given, the repo must
                exist and the commit fails with :class:`~registry.errors.StoreConflictError`
                if the head moved on.

        Returns:
            The commit; ``created`` is False (and no commit is made) when every file already
            has this content.
        """
        ...

    def exists(self, repo_id: str) -> bool:
        """Whether the repo exists (and is visible to the caller)."""
        ...

    def delete(self, repo_id: str, *, missing_ok: bool = False) -> None:
        """Delete the repo and its history."""
        ...

    def default_namespace(self) -> str:
        """The namespace new repos go to when the caller names none."""
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
