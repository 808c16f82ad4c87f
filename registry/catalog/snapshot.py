"""Catalog snapshots: export to parquet/CSV, publish as a dataset repo, bootstrap from one.

A snapshot is one parquet file, ``data/catalog.parquet``: one row per entry with the flat
columns of :data:`~registry.catalog.entries.FLAT_COLUMNS` plus ``metadata`` (the complete
metadata as JSON, so that nothing is lost), and the file's key-value metadata under
``esm_registry_catalog`` (format, source, time, unusable repos, learned aliases). One
download of that file replaces a full sync; the shas it carries make the next sync
incremental.

Published snapshots are *dataset* repos of a registry store (``repo_type="dataset"`` on
every store call): on the Hub (any Hub-compatible server) a dataset repo next to the ESMs;
in a local store a repo under ``<root>/datasets/<namespace>/<name>``.

Example:
    >>> import tempfile
    >>> from registry.catalog import Catalog
    >>> folder = tempfile.mkdtemp()
    >>> with Catalog(f"{folder}/catalog.sqlite") as catalog:
    ...     catalog.export(f"{folder}/esms.csv")
    0
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._json import load_json
from .._version import __version__
from .._yaml import dump_yaml
from ..errors import CatalogError, UsageError
from ..metadata import MAX_METADATA_BYTES, EsmMetadata
from ..stores.base import check_repo_id
from .entries import FLAT_COLUMNS, FLAT_KINDS, CatalogEntry, EntryProblem, UnusableRepo, flat_row

if TYPE_CHECKING:
    import pyarrow  # type: ignore[import-untyped]

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_PATH",
    "Snapshot",
    "arrow_table",
    "read_snapshot",
    "write_csv",
    "write_parquet",
]

logger = logging.getLogger(__name__)

#: Path of the parquet file inside a snapshot dataset repo.
SNAPSHOT_PATH = "data/catalog.parquet"
#: Version of the snapshot layout; a reader refuses formats it does not know.
SNAPSHOT_FORMAT = 1
_META_KEY = b"esm_registry_catalog"
_SNAPSHOT_COLUMNS = (
    "repo_id",
    "sha",
    "last_modified",
    "base_model_canonical",
    "problems",
    "source",
    "private",
    "metadata",
)
#: Columns that snapshots written by older versions lack (read as False).
_OPTIONAL_COLUMNS = ("gated",)
#: Most rows read from a snapshot (ten times the largest registry expected).
MAX_SNAPSHOT_ROWS = 1_000_000
_MAX_TEXT = 1_000
_MAX_INFO_BYTES = 64_000_000  # the header lists unusable repos and aliases
_EXPORT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def _pyarrow() -> Any:
    try:
        # Optional (the `catalog` extra) and slow to import: only parquet files need it.
        import pyarrow  # noqa: PLC0415
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(
            "parquet files need pyarrow; install it with `pip install pyarrow` (or export to .csv)"
        ) from exc
    return pyarrow


def export_format(path: str | os.PathLike[str]) -> str:
    """``parquet`` or ``csv``, from the file name.

    Raises:
        UsageError: another extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _EXPORT_SUFFIXES:
        raise UsageError(
            f"cannot tell the export format of {str(path)!r}: name the file *.parquet or *.csv"
        )
    return _EXPORT_SUFFIXES[suffix]


def _arrow_type(pa: Any, kind: str) -> Any:
    return {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
        "datetime": pa.timestamp("us", tz="UTC"),
        "problems": pa.list_(
            pa.struct([("code", pa.string()), ("message", pa.string()), ("field", pa.string())])
        ),
    }[kind]


def arrow_table(
    entries: Iterable[CatalogEntry], info: Mapping[str, Any] | None = None
) -> pyarrow.Table:
    """The entries as an Arrow table with a fixed schema (flat columns + ``metadata`` JSON).

    Args:
        entries: What to write.
        info: Stored as JSON in the schema metadata (key ``esm_registry_catalog``).
    """
    pa = _pyarrow()
    columns: dict[str, list[Any]] = {name: [] for name in (*FLAT_COLUMNS, "metadata")}
    for entry in entries:
        row = flat_row(entry)
        for name in FLAT_COLUMNS:
            columns[name].append(row[name])
        columns["metadata"].append(entry.metadata.model_dump_json())
    fields = [pa.field(name, _arrow_type(pa, kind)) for name, kind in FLAT_KINDS.items()]
    fields.append(pa.field("metadata", pa.string()))
    schema = pa.schema(fields)
    if info is not None:
        schema = schema.with_metadata({_META_KEY: json.dumps(dict(info), default=str).encode()})
    try:
        return pa.Table.from_pydict(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise CatalogError(f"cannot convert the catalog to parquet: {exc}") from exc


def write_parquet(
    entries: Iterable[CatalogEntry],
    path: str | os.PathLike[str] | io.BytesIO,
    info: Mapping[str, Any] | None = None,
) -> None:
    """Write a parquet file (see :func:`arrow_table`)."""
    table = arrow_table(entries, info)
    _pyarrow().parquet.write_table(table, path, compression="zstd")


def _csv_value(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "list":
        return ", ".join(str(item) for item in value)
    if kind == "problems":
        return json.dumps(value, ensure_ascii=False) if value else ""
    if kind == "datetime":
        return value.isoformat() if isinstance(value, datetime) else str(value)
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def write_csv(entries: Iterable[CatalogEntry], handle: io.TextIOBase | Any) -> int:
    """Write the flat rows as CSV (lists joined by ``", "``, problems as JSON); rows written."""
    writer = csv.writer(handle)
    writer.writerow(FLAT_COLUMNS)
    count = 0
    for entry in entries:
        row = flat_row(entry)
        writer.writerow([_csv_value(FLAT_KINDS[name], row[name]) for name in FLAT_COLUMNS])
        count += 1
    return count


# --- reading a snapshot -----------------------------------------------------------------------


class Snapshot:
    """A snapshot file read back: its entries, unusable repos, aliases and header."""

    def __init__(
        self,
        entries: list[CatalogEntry],
        unusable: list[UnusableRepo],
        aliases: list[tuple[str, str, str]],
        info: dict[str, Any],
    ) -> None:
        self.entries = entries
        self.unusable = unusable
        self.aliases = aliases
        self.info = info

    @property
    def source(self) -> str | None:
        """The store the snapshot's catalog was synced from."""
        source = self.info.get("source")
        return source if isinstance(source, str) else None


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value))


def read_snapshot(data: bytes, *, name: str = "snapshot") -> Snapshot:
    """Parse snapshot bytes (a parquet file written by :func:`write_parquet`).

    Raises:
        CatalogError: not a parquet file, not a catalog snapshot, or an unknown format.
    """
    pa = _pyarrow()
    try:
        table = pa.parquet.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise CatalogError(f"{name} is not a readable parquet file: {exc}") from exc
    raw = (table.schema.metadata or {}).get(_META_KEY)
    try:
        info = load_json(raw, max_bytes=_MAX_INFO_BYTES) if raw is not None else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise CatalogError(f"{name} is not an esm-registry catalog snapshot")
    if info.get("format") != SNAPSHOT_FORMAT:
        raise CatalogError(
            f"{name} has snapshot format {info.get('format')!r}; this esm-registry reads "
            f"format {SNAPSHOT_FORMAT} (upgrade esm-registry, or run a full sync instead)"
        )
    missing = [column for column in _SNAPSHOT_COLUMNS if column not in table.column_names]
    optional = [column for column in _OPTIONAL_COLUMNS if column in table.column_names]
    if missing:
        raise CatalogError(f"{name} is a damaged catalog snapshot: no column {', '.join(missing)}")
    if table.num_rows > MAX_SNAPSHOT_ROWS:
        raise CatalogError(f"{name} has {table.num_rows:,} rows; at most {MAX_SNAPSHOT_ROWS:,}")
    entries: list[CatalogEntry] = []
    unusable: list[UnusableRepo] = []
    for row in table.select([*_SNAPSHOT_COLUMNS, *optional]).to_pylist():
        try:
            entries.append(_entry_from_row(row))
        except Exception as exc:  # one stranger's row: record it, keep the others
            unusable.append(_bad_row(row, exc))
    for item in _list(info.get("unusable")):
        try:
            unusable.append(
                UnusableRepo(
                    repo_id=check_repo_id(item["repo_id"]),
                    reason=_text(item["reason"]),
                    sha=item.get("sha"),
                    last_modified=_parse_time(item.get("last_modified")),
                    private=bool(item.get("private")),
                    gated=bool(item.get("gated")),
                )
            )
        except Exception as exc:
            logger.warning("ignoring a damaged unusable-repo record of %s: %s", name, exc)
    aliases: list[tuple[str, str, str]] = []
    for item in _list(info.get("aliases")):
        try:
            alias, canonical, origin = item
            aliases.append((_text(alias), _text(canonical), _text(origin)))
        except Exception as exc:
            logger.warning("ignoring a damaged alias record of %s: %s", name, exc)
    if unusable:
        logger.info(
            "%s: %d row(s) could not be read; they are listed as unusable", name, len(unusable)
        )
    return Snapshot(entries, unusable, aliases, info)


def _text(value: Any) -> str:
    """A short single-line string from a snapshot (written by a stranger)."""
    if not isinstance(value, str) or len(value) > _MAX_TEXT or not value.isprintable():
        raise ValueError(f"not a short single-line string: {str(value)[:60]!r}")
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _entry_from_row(row: Mapping[str, Any]) -> CatalogEntry:
    metadata = row["metadata"]
    if not isinstance(metadata, str) or len(metadata) > MAX_METADATA_BYTES:
        raise ValueError("the metadata column is not JSON text of a bounded size")
    return CatalogEntry(
        repo_id=check_repo_id(row["repo_id"]),
        sha=row["sha"],
        last_modified=_parse_time(row["last_modified"]),
        base_model_canonical=_text(row["base_model_canonical"]),
        metadata=EsmMetadata.model_validate(load_json(metadata), strict=False),
        problems=tuple(EntryProblem(**p) for p in row["problems"] or ()),
        source=row["source"],
        private=bool(row["private"]),
        gated=bool(row.get("gated")),
    )


def _bad_row(row: Mapping[str, Any], exc: Exception) -> UnusableRepo:
    repo_id = row.get("repo_id")
    try:
        repo_id = check_repo_id(repo_id) if isinstance(repo_id, str) else None
    except UsageError:
        repo_id = None
    reason = " ".join(f"snapshot row cannot be used: {type(exc).__name__}: {exc}".split())[:300]
    return UnusableRepo(repo_id=repo_id or "invalid/repo-id", reason=reason)


def dataset_card(info: Mapping[str, Any], repo_id: str) -> str:
    """README.md of a snapshot dataset repo (front matter written by the YAML library)."""
    front = {
        "tags": ["esm-registry-catalog", "embedding-space-maps"],
        "configs": [{"config_name": "default", "data_files": SNAPSHOT_PATH}],
    }
    return (
        f"---\n{dump_yaml(front)}---\n\n"
        "# ESM catalog snapshot\n\n"
        f"A snapshot of the esm-registry catalog of `{info.get('source')}`, taken "
        f"{info.get('created_at')}: {info.get('entries')} indexed Embedding Space Maps "
        f"and {len(info.get('unusable') or [])} repos that could not be indexed.\n\n"
        "Start a catalog from it with one download, then sync only what changed since:\n\n"
        "```\n"
        f"esm-registry catalog sync --from-snapshot {repo_id} --registry REGISTRY\n"
        "```\n\n"
        f"Each row of `{SNAPSHOT_PATH}` is one ESM: the flat `config.json` fields that "
        "hfselect uses, the repo's commit sha and date, problems found while indexing, and "
        "the complete metadata as JSON (`metadata`).\n"
    )


def snapshot_info(
    *,
    source: str | None,
    entries: int,
    unusable: list[UnusableRepo],
    aliases: list[tuple[str, str, str]],
    last_sync: str | None,
) -> dict[str, Any]:
    """The header stored in a snapshot file."""
    return {
        "format": SNAPSHOT_FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "created_by": f"esm-registry {__version__}",
        "source": source,
        "last_sync": last_sync,
        "entries": entries,
        "unusable": [item.model_dump(mode="json") for item in unusable],
        "aliases": [list(alias) for alias in aliases],
    }


def check_dataset_id(repo_id: str) -> str:
    """A full ``namespace/name`` id (snapshots are never created in a default namespace)."""
    return check_repo_id(repo_id)
