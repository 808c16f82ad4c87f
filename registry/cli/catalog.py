"""``esm-registry catalog …``: sync the ESM catalog and query it from the shell.

Registered on the main parser by :func:`add_catalog_commands`. Every command reads the
catalog named by ``--catalog PATH``, else ``$ESM_REGISTRY_CATALOG``, else
``$HF_HOME/esm-registry/catalog.sqlite``. Tables are for people; ``--format json`` and
``--format csv`` are for programs. Exit codes as for the other commands: 0 success, 1 a
failure (missing catalog, unknown repo id, a repo that could not be read), 2 usage errors.

Example::

    esm-registry catalog sync --registry hub
    esm-registry catalog search --base-model bert-base-uncased --language en --limit 10
    esm-registry catalog show alice/ESM_bert-base-uncased_stanfordnlp__imdb --format json
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import CatalogError, EsmRegistryError
from ._common import EXIT_INVALID, EXIT_OK, positive_int
from ._options import (
    add_catalog_option,
    add_filter_options,
    add_format_option,
    add_progress_option,
    add_registry_options,
    filters_from_args,
    progress_from_args,
)

if TYPE_CHECKING:
    from ..catalog import Catalog, CatalogEntry, SyncSummary

__all__ = ["add_catalog_commands"]

_TABLE_LIMIT = 50
_MAX_CELL = 60

Command = Callable[[argparse.Namespace], int]


# --- helpers ------------------------------------------------------------------------------


def _sqlite_errors(func: Command) -> Command:
    """A locked or damaged catalog file is an error message, not a traceback."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except sqlite3.Error as exc:
            raise CatalogError(f"catalog database error: {exc}") from exc

    return wrapper


def _open(args: argparse.Namespace, *, create: bool = False) -> Catalog:
    from ..catalog import Catalog  # noqa: PLC0415 - keeps `card validate` fast

    catalog = Catalog(args.catalog, create=create, force=getattr(args, "force", False))
    if not create and catalog.last_sync is None:
        catalog.close()
        raise CatalogError(
            f"the catalog {catalog.path} has never been synced; run "
            "`esm-registry catalog sync --registry REG` first"
        )
    return catalog


def _cell(value: Any, *, shorten: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    text = " ".join(str(value).split())
    return text if not shorten or len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


#: Columns of ids, which people copy into the next command: never shortened.
_ID_COLUMNS = frozenset({"REPO ID", "BASE MODEL"})


def _print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    shorten = [name not in _ID_COLUMNS for name in header]
    cells = [list(header)] + [
        [_cell(value, shorten=cut) for value, cut in zip(row, shorten, strict=True)] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _csv_rows(header: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])


# --- sync ---------------------------------------------------------------------------------


def _print_summary(summary: SyncSummary, path: Path, out: TextIO) -> None:
    out.write(f"synced {summary.source} into {path} in {summary.seconds:.1f} s\n")
    out.write(summary.describe() + "\n")
    if summary.aliases:
        out.write("learned base-model aliases:\n")
        for alias, canonical in summary.aliases:
            out.write(f"  {alias} -> {canonical}\n")
    if summary.unusable:
        out.write(f"unusable ({len(summary.unusable)}; not indexed):\n")
        for repo in summary.unusable:
            out.write(f"  {repo.repo_id}: {repo.reason}\n")
    if summary.failed:
        out.write(f"failed ({len(summary.failed)}; the next sync tries again):\n")
        for failed in summary.failed:
            out.write(f"  {failed.repo_id}: {' '.join(failed.error.split())}\n")


@_sqlite_errors
def _cmd_sync(args: argparse.Namespace) -> int:
    from ..stores import open_store  # noqa: PLC0415

    store = open_store(args.registry, token=args.token)
    with _open(args, create=True) as catalog:
        if args.from_snapshot:
            snapshot = catalog.load_snapshot(store, args.from_snapshot)
            taken = snapshot.info.get("created_at", "?")
            sys.stdout.write(
                f"loaded {len(snapshot.entries)} entries from the snapshot "
                f"{args.from_snapshot} (taken {taken})\n"
            )
        summary = catalog.sync(store, jobs=args.jobs, progress=progress_from_args(args))
        if args.format == "json":
            payload = {
                "catalog": str(catalog.path),
                "source": summary.source,
                "listed": summary.listed,
                "added": list(summary.added),
                "updated": list(summary.updated),
                "removed": list(summary.removed),
                "unchanged": summary.unchanged,
                "indexed": summary.indexed,
                "with_problems": summary.with_problems,
                "unusable": [repo.model_dump(mode="json") for repo in summary.unusable],
                "failed": [{"repo_id": f.repo_id, "error": f.error} for f in summary.failed],
                "aliases": [list(pair) for pair in summary.aliases],
                "seconds": round(summary.seconds, 3),
            }
            json.dump(payload, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            _print_summary(summary, catalog.path, sys.stdout)
    return EXIT_OK if summary.ok else EXIT_INVALID


# --- search, show, coverage ---------------------------------------------------------------

_SEARCH_HEADER = ("REPO ID", "BASE MODEL", "TASK", "ARCH", "DIM", "EXAMPLES", "LANG", "PROBLEMS")


def _search_row(entry: CatalogEntry) -> list[Any]:
    return [
        entry.repo_id,
        entry.base_model_canonical,
        entry.display_name,
        entry.architecture,
        entry.embedding_dim,
        entry.num_examples,
        entry.language,
        len(entry.problems) or "-",
    ]


@_sqlite_errors
def _cmd_search(args: argparse.Namespace) -> int:
    from ..catalog.snapshot import write_csv  # noqa: PLC0415

    filters = filters_from_args(args)
    with _open(args) as catalog:
        results = catalog.search(
            filters,
            limit=args.limit,
            order_by=f"-{args.order_by.lstrip('-')}" if args.desc else args.order_by,
        )
        if args.format == "json":
            sys.stdout.write(results.to_json() + "\n")
        elif args.format == "csv":
            write_csv(results, sys.stdout)
        else:
            shown = results[: args.limit or _TABLE_LIMIT]
            if not shown:
                sys.stdout.write("no ESM matches\n")
                return EXIT_OK
            _print_table(_SEARCH_HEADER, [_search_row(entry) for entry in shown], sys.stdout)
            more = len(results) - len(shown)
            tail = f" (showing {len(shown)}; --limit N shows more)" if more > 0 else ""
            if args.limit is not None and len(results) == args.limit:
                tail = " (--limit reached)"
            sys.stdout.write(f"{len(results)} ESM(s){tail}\n")
    return EXIT_OK


@_sqlite_errors
def _cmd_coverage(args: argparse.Namespace) -> int:
    with _open(args) as catalog:
        coverage = catalog.coverage()
    if args.format == "json":
        json.dump(coverage, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        _csv_rows(("base_model", "esms"), list(coverage.items()), sys.stdout)
    else:
        if not coverage:
            sys.stdout.write("the catalog holds no ESM\n")
            return EXIT_OK
        _print_table(("BASE MODEL", "ESMS"), list(coverage.items()), sys.stdout)
        total = sum(coverage.values())
        sys.stdout.write(f"{total} ESM(s) for {len(coverage)} base model(s)\n")
    return EXIT_OK


@_sqlite_errors
def _cmd_show(args: argparse.Namespace) -> int:
    from ..catalog.entries import FLAT_COLUMNS, flat_row  # noqa: PLC0415

    with _open(args) as catalog:
        entry = catalog[args.repo_id]
    if args.format == "json":
        sys.stdout.write(entry.model_dump_json(indent=2) + "\n")
        return EXIT_OK
    row = flat_row(entry)
    width = max(len(name) for name in FLAT_COLUMNS)
    for name in FLAT_COLUMNS:
        value = row[name]
        if name == "problems" or value is None or value == []:
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if "\n" in shown:
            shown = shown.replace("\n", "\n" + " " * (width + 2))
        sys.stdout.write(f"{name.ljust(width)}  {shown}\n")
    if entry.metadata.extra:
        extra = json.dumps(entry.metadata.extra, ensure_ascii=False)
        sys.stdout.write(f"{'extra'.ljust(width)}  {extra}\n")
    if entry.problems:
        sys.stdout.write(f"problems ({len(entry.problems)}):\n")
        for problem in entry.problems:
            sys.stdout.write(f"  [{problem.code}] {problem.message}\n")
    return EXIT_OK


# --- export, publish-snapshot ---------------------------------------------------------------


@_sqlite_errors
def _cmd_export(args: argparse.Namespace) -> int:
    from ..catalog.snapshot import export_format  # noqa: PLC0415

    export_format(args.output)  # a usage error before the catalog is opened
    with _open(args) as catalog:
        try:
            count = catalog.export(args.output)
        except EsmRegistryError:
            raise
        except OSError as exc:
            raise CatalogError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    sys.stdout.write(f"exported {count} entries to {args.output}\n")
    return EXIT_OK


@_sqlite_errors
def _cmd_publish_snapshot(args: argparse.Namespace) -> int:
    from ..stores import open_store  # noqa: PLC0415
    from ..stores.base import check_repo_id  # noqa: PLC0415

    check_repo_id(args.repo_id)
    store = open_store(args.registry, token=args.token)
    with _open(args) as catalog:
        result = catalog.publish_snapshot(
            store,
            args.repo_id,
            private=args.private or None,
            include_restricted=args.include_private,
        )
        count = sum(1 for e in catalog.entries() if args.include_private or not e.restricted)
    sys.stdout.write(f"published a snapshot of {count} entries: {result.url}\n")
    return EXIT_OK


# --- the parser -----------------------------------------------------------------------------


def add_catalog_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``catalog sync|search|coverage|show|export|publish-snapshot``.

    Args:
        commands: The sub-command action of the ``esm-registry`` parser; its parser
            class (exit code 2 on usage errors) is used for the new parsers too.
    """
    catalog = commands.add_parser(
        "catalog",
        help="sync the catalog of published ESMs and search it",
        description="A local SQLite catalog of a registry's ESMs: sync it (only changed "
        "repos are read), then search it offline.",
    )
    actions = catalog.add_subparsers(
        dest="catalog_command", metavar="ACTION", parser_class=type(catalog)
    )
    actions.required = True

    sync = actions.add_parser(
        "sync",
        help="index a registry's ESMs (incremental)",
        description="List the registry's ESMs once and read config.json only for new or "
        "changed repos. Exit 0 when every repo was read, 1 when some could not be.",
    )
    add_registry_options(sync)
    add_catalog_option(sync)
    sync.add_argument(
        "--jobs",
        type=positive_int,
        default=8,
        metavar="N",
        help="repos read at the same time (default 8)",
    )
    sync.add_argument(
        "--force",
        action="store_true",
        help="if the catalog file is not a catalog, move it aside and start a new one "
        "(without: refuse and leave it alone)",
    )
    sync.add_argument(
        "--from-snapshot",
        metavar="REPO_ID",
        help="first load a published snapshot (a dataset repo of the registry; one "
        "download), then sync only what changed since",
    )
    add_progress_option(sync)
    add_format_option(sync, ("text", "json"))
    sync.set_defaults(func=_cmd_sync)

    search = actions.add_parser(
        "search",
        help="find ESMs by base model, architecture, task, language, size or text",
        description="Filters combine with AND. Base-model aliases match: bert-base-uncased "
        "and google-bert/bert-base-uncased are the same model.",
    )
    add_filter_options(search)
    search.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help=f"at most N results (tables show {_TABLE_LIMIT} unless given)",
    )
    search.add_argument(
        "--order-by",
        default="repo_id",
        metavar="FIELD",
        help="repo_id, base_model, task_id, architecture, embedding_dim, num_examples, "
        "last_modified or problems (default repo_id)",
    )
    search.add_argument("--desc", action="store_true", help="descending order")
    add_catalog_option(search)
    add_format_option(search, ("table", "json", "csv"))
    search.set_defaults(func=_cmd_search)

    coverage = actions.add_parser("coverage", help="ESMs per base model")
    add_catalog_option(coverage)
    add_format_option(coverage, ("table", "json", "csv"))
    coverage.set_defaults(func=_cmd_coverage)

    show = actions.add_parser("show", help="everything the catalog knows about one ESM")
    show.add_argument("repo_id", metavar="REPO_ID")
    add_catalog_option(show)
    add_format_option(show, ("table", "json"))
    show.set_defaults(func=_cmd_show)

    export = actions.add_parser(
        "export",
        help="write the catalog to a parquet or CSV file",
        description="The format follows the extension: .parquet (a complete snapshot, "
        "needs pyarrow) or .csv.",
    )
    export.add_argument("output", metavar="OUT", help="*.parquet or *.csv")
    add_catalog_option(export)
    export.set_defaults(func=_cmd_export)

    publish = actions.add_parser(
        "publish-snapshot",
        help="publish the catalog as a dataset repo of a registry",
        description="Publish the catalog (parquet + dataset card) as a dataset repo, so "
        "that others start with `catalog sync --from-snapshot REPO_ID`.",
    )
    publish.add_argument("repo_id", metavar="REPO_ID", help="dataset repo, namespace/name")
    add_registry_options(publish)
    add_catalog_option(publish)
    publish.add_argument("--private", action="store_true", help="create the repo as private")
    publish.add_argument(
        "--include-private",
        action="store_true",
        help="include private and gated ESMs (left out by default); the snapshot repo must "
        "then be private",
    )
    publish.set_defaults(func=_cmd_publish_snapshot)
