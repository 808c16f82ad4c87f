"""Registry stores: where published ESMs live (the Hugging Face Hub, or a local folder).

Everything outside this package works through the :class:`RegistryStore` protocol and
obtains stores from :func:`open_store`; only this package knows what a store is made of.

:func:`open_store` turns the ``--registry`` argument into a store:

* ``hub``: the Hub at ``HF_ENDPOINT`` (default ``https://huggingface.co``);
* an ``http://`` or ``https://`` URL: any Hub-compatible server;
* a folder (``./registry``, ``/srv/esms``, ``~/esms``, ``file:///srv/esms``): a
  :class:`~registry.stores.local.LocalStore`. A bare word such as ``hubb`` is refused
  rather than silently becoming a folder; write ``./hubb`` to mean one.

The embedded default, used when no registry is named, is a local store in
``$ESM_REGISTRY_HOME/local``; ``ESM_REGISTRY_HOME`` defaults to ``$HF_HOME/esm-registry``
(``~/.cache/huggingface/esm-registry`` when ``HF_HOME`` is unset too).

To build a store with options of its own, import its class from its module
(:mod:`registry.stores.hub`, :mod:`registry.stores.local`) or from :mod:`registry`.

Example:
    >>> import tempfile
    >>> open_store(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    LocalStore('...')
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import UsageError
from ..paths import default_local_registry
from . import hub as _hub
from . import local as _local
from .base import (
    ESM_TAG,
    CommitResult,
    RegistryStore,
    RepoCommit,
    RepoFile,
    RepoInfo,
    RepoType,
    derive_tags,
    file_matches,
    git_blob_sha1,
)

__all__ = [
    "ESM_TAG",
    "CommitResult",
    "RegistryStore",
    "RepoCommit",
    "RepoFile",
    "RepoInfo",
    "RepoType",
    "derive_tags",
    "file_matches",
    "git_blob_sha1",
    "open_store",
    "supports_pull_requests",
]


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "~", "/"))
        or os.sep in spec
        or "/" in spec
        or (os.altsep is not None and os.altsep in spec)
        or Path(spec).is_dir()
    )


def open_store(spec: str | None = None, *, token: str | None = None) -> RegistryStore:
    """The store named by ``spec``; see the module docstring for the accepted forms.

    Args:
        spec: ``hub``, an ``http(s)://`` URL, a folder or ``file://`` URL; ``None`` or an
            empty string mean the embedded local store.
        token: Hub access token (ignored by local stores). Default: what huggingface_hub
            finds (``HF_TOKEN``, ``hf auth login``).

    Raises:
        UsageError: ``spec`` is none of these.

    Example:
        >>> open_store("https://hub.example.org/")
        HubStore(endpoint='https://hub.example.org')
    """
    if spec is None or not spec.strip():
        return _local.LocalStore(default_local_registry())
    spec = spec.strip()
    if spec == "hub":
        return _hub.HubStore(token=token)
    if "://" in spec:
        parts = urlsplit(spec)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.netloc:
                raise UsageError(f"registry URL {spec!r} has no host")
            if parts.query or parts.fragment:
                raise UsageError(f"registry URL {spec!r} must not carry a query or fragment")
            return _hub.HubStore(endpoint=spec.rstrip("/"), token=token)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise UsageError(f"file URL {spec!r} names a remote host; use a local folder")
            path = unquote(parts.path)
            if not path:
                raise UsageError(f"file URL {spec!r} names no folder")
            return _local_store(path)
        raise UsageError(
            f"unsupported registry {spec!r}: use 'hub', an http(s):// URL of a Hub-compatible "
            "server, or a folder (a path or file:// URL)"
        )
    if _looks_like_path(spec):
        return _local_store(spec)
    raise UsageError(
        f"unknown registry {spec!r}: use 'hub', an http(s):// URL, or a folder "
        f"(write './{spec}' for a folder of that name)"
    )


def _local_store(path: str) -> _local.LocalStore:
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise UsageError(f"registry folder {root} is a file, not a folder")
    return _local.LocalStore(root)


def supports_pull_requests(store: RegistryStore) -> bool:
    """Whether ``store.commit(..., create_pr=True)`` can work: on the Hub, not in a folder.

    Lets callers refuse ``create_pr`` before any work rather than once per repo.
    """
    return isinstance(store, _hub.HubStore)
