"""``esm-registry download``, ``history`` and ``delete``: one repo at a time, as ``hf`` does.

They work on any registry (``--registry``: the Hub, a Hub-compatible URL, or a folder;
default the local registry), on ESMs (model repos) or, with ``--repo-type dataset``, on
catalog snapshots. Exit codes as for every command: 0 done, 1 a failure (no such repo, a
deletion not confirmed), 2 usage errors.

Example::

    esm-registry download alice/ESM_bert-base-uncased_stanfordnlp__imdb --local-dir esm
    esm-registry history alice/ESM_bert-base-uncased_stanfordnlp__imdb --registry hub
    esm-registry delete alice/ESM_bert-base-uncased_stanfordnlp__imdb --registry hub --yes
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from .._progress import library_bars
from ._common import EXIT_INVALID, EXIT_OK, Parser, positive_int
from ._options import add_progress_option, add_registry_options, progress_from_args

if TYPE_CHECKING:
    from ..stores import RegistryStore

__all__ = ["add_repo_commands"]

_TABLE_LIMIT = 20


def _store(args: argparse.Namespace) -> RegistryStore:
    from ..stores import open_store  # noqa: PLC0415 - keeps `card validate` fast

    return open_store(args.registry, token=args.token)


def _cmd_download(args: argparse.Namespace) -> int:
    store = _store(args)
    with library_bars(progress_from_args(args)):
        folder = store.download(
            args.repo_id,
            revision=args.revision,
            local_dir=args.local_dir,
            repo_type=args.repo_type,
        )
    sys.stdout.write(f"{folder}\n")  # the folder alone, for $(esm-registry download ...)
    return EXIT_OK


def _cmd_history(args: argparse.Namespace) -> int:
    commits = list(_store(args).history(args.repo_id, repo_type=args.repo_type))
    shown = commits[: args.limit] if args.limit else commits
    out = sys.stdout
    if args.format == "json":
        payload: list[dict[str, Any]] = [
            {
                "id": commit.id,
                "date": commit.date.isoformat() if commit.date else None,
                "authors": list(commit.authors),
                "message": commit.message,
                "description": commit.description,
                "parent": commit.parent,
            }
            for commit in shown
        ]
        out.write(json.dumps(payload, indent=2) + "\n")
        return EXIT_OK
    limit = args.limit or _TABLE_LIMIT
    rows = [("COMMIT", "DATE", "AUTHOR", "MESSAGE")]
    for commit in commits[:limit]:
        date = commit.date.strftime("%Y-%m-%d %H:%M:%S") if commit.date else "-"
        author = ", ".join(commit.authors) or "-"
        rows.append((commit.id, date, author, " ".join(commit.message.split()) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        out.write("  ".join([*cells, row[3]]).rstrip() + "\n")
    if len(commits) > limit:
        out.write(f"({len(commits)} commits; --limit N shows more)\n")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """Ask on stderr, read one answer from stdin; no answer (EOF) is a no."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def _cmd_delete(args: argparse.Namespace) -> int:
    from ..errors import RepoNotFoundError  # noqa: PLC0415

    store = _store(args)
    kind = "" if args.repo_type == "model" else f"{args.repo_type} "
    where = f"{kind}{args.repo_id} in {store.location}"
    if not store.exists(args.repo_id, repo_type=args.repo_type):
        raise RepoNotFoundError(f"no {where} (or this token may not see it)")
    if not args.yes and not _confirmed(
        f"Delete {where} with its whole history? This cannot be undone."
    ):
        sys.stderr.write(
            "esm-registry: not confirmed; nothing was deleted (--yes deletes without asking)\n"
        )
        return EXIT_INVALID
    store.delete(args.repo_id, repo_type=args.repo_type)
    sys.stdout.write(f"deleted {where}\n")
    return EXIT_OK


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo_id", metavar="REPO_ID", help="namespace/name")
    add_registry_options(parser)
    parser.add_argument(
        "--repo-type",
        choices=("model", "dataset"),
        default="model",
        help="model: an ESM (default); dataset: a catalog snapshot",
    )


def add_repo_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """Register ``download``, ``history`` and ``delete``."""
    download = commands.add_parser(
        "download",
        help="download an ESM (every file of its repo) into a folder",
        description="Download every file of a repo at a revision and print the folder. With "
        "--local-dir the files are written there (through the Hugging Face cache for a Hub "
        "registry); without it the folder is the cache's (or the local registry's) own "
        "read-only copy.",
    )
    _add_common(download)
    download.add_argument(
        "--revision", metavar="R", help="branch, tag or commit id (default: main)"
    )
    download.add_argument("--local-dir", metavar="DIR", help="write the files into DIR")
    add_progress_option(download)
    download.set_defaults(func=_cmd_download)

    history = commands.add_parser(
        "history",
        help="list the commits of a repo, newest first",
        description="List the commits of a repo's main branch, newest first: commit id (to "
        "pass to download --revision), date, author and message.",
    )
    _add_common(history)
    history.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help=f"show the N newest (default: {_TABLE_LIMIT} in the table, all in json)",
    )
    history.add_argument("--format", choices=("table", "json"), default="table")
    history.set_defaults(func=_cmd_history)

    delete = commands.add_parser(
        "delete",
        help="delete a repo and its history (asks first)",
        description="Delete a repo with its whole history. Asks for confirmation on the "
        "terminal unless --yes is given; exit 1 when not confirmed.",
    )
    _add_common(delete)
    delete.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    delete.set_defaults(func=_cmd_delete)
