"""The ESM catalog: sync a registry into an embedded SQLite file and query it.

* :class:`Catalog` — open (or create) the catalog, :meth:`~Catalog.sync` it from any
  registry store, :meth:`~Catalog.search` it, :meth:`~Catalog.coverage`, export it, and
  publish or load snapshots.
* :class:`CatalogEntry` — one indexed ESM (its full metadata, commit, problems).
* :class:`SyncSummary` — what a sync did.
* :func:`default_catalog_path` — ``$ESM_REGISTRY_CATALOG``, else
  ``$HF_HOME/esm-registry/catalog.sqlite``.

Example:
    >>> import tempfile
    >>> from registry.catalog import Catalog
    >>> from registry.stores import open_store
    >>> folder = tempfile.mkdtemp()
    >>> with Catalog(f"{folder}/catalog.sqlite") as catalog:
    ...     summary = catalog.sync(open_store(f"{folder}/registry"), progress=False)
    ...     len(catalog), summary.ok
    (0, True)
"""

from ..aliases import BUILTIN_ALIASES
from .catalog import Catalog
from .db import SCHEMA_VERSION, default_catalog_path
from .entries import CatalogEntry, EntryProblem, SearchResults, UnusableRepo, entries_to_pandas
from .snapshot import SNAPSHOT_PATH, Snapshot
from .sync import FailedRepo, SyncSummary

__all__ = [
    "BUILTIN_ALIASES",
    "SCHEMA_VERSION",
    "SNAPSHOT_PATH",
    "Catalog",
    "CatalogEntry",
    "EntryProblem",
    "FailedRepo",
    "SearchResults",
    "Snapshot",
    "SyncSummary",
    "UnusableRepo",
    "default_catalog_path",
    "entries_to_pandas",
]
