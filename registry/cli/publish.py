"""``esm-registry publish`` and ``esm-registry refresh-cards``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import EsmRegistryError, PublishInterrupted, UsageError
from ._common import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, Parser, positive_int
from ._options import add_progress_option, add_registry_options, progress_from_args

if TYPE_CHECKING:
    from ..publish import PublishSummary

__all__ = ["add_publish_commands"]


def _print_results(summary: PublishSummary, out: TextIO, *, dry_run: bool) -> None:
    """Dry-run details, then one table row per ESM and a count line."""
    if dry_run:
        for result in summary:
            if not result.ok:
                continue
            out.write(f"{result.repo_id}: {result.status}\n")
            for f in result.files:
                mark = {True: "changed", False: "same", None: "new"}[f.changed]
                out.write(f"  {f.path:<20} {f.size:>12} B  sha256 {f.sha256[:16]}  {mark}\n")
            if result.card_diff:
                out.write(result.card_diff)
        out.write("\n")
    rows = [("REPO ID", "STATUS", "COMMIT", "URL / ERROR")]
    for result in summary:
        detail = result.error if not result.ok else result.url
        rows.append(
            (
                result.repo_id or result.source or "?",
                result.status,
                (result.commit_id or "")[:8] or "-",
                " ".join((detail or "").split()) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        out.write("  ".join([*cells, row[3]]).rstrip() + "\n")
    out.write(f"{summary.describe()}\n")


def _cmd_publish(args: argparse.Namespace) -> int:
    # Imported here: numpy, safetensors and the Hub client would slow down `card validate`.
    from ..publish import PublishResult, PublishSummary, publish_esm, publish_many  # noqa: PLC0415
    from ..stores import open_store  # noqa: PLC0415

    if args.repo_id is not None and len(args.paths) != 1:
        raise UsageError("--repo-id names one repo: give exactly one PATH with it")
    for raw in args.paths:
        if not Path(raw).is_dir():
            raise UsageError(f"no such ESM folder: {raw}")
    if args.create_pr and args.private:
        raise UsageError("--private sets the visibility of new repos; --create-pr needs one")
    store = open_store(args.registry, token=args.token)
    private = True if args.private else None
    if args.repo_id is not None:
        try:
            result = publish_esm(
                args.paths[0],
                store,
                repo_id=args.repo_id,
                private=private,
                dry_run=args.dry_run,
                template=args.template,
                create_pr=args.create_pr,
            )
        except UsageError:
            raise
        except (EsmRegistryError, OSError) as exc:
            result = PublishResult(args.repo_id, "failed", source=args.paths[0], error=str(exc))
        summary = PublishSummary((result,))
    else:
        try:
            summary = publish_many(
                args.paths,
                store,
                jobs=args.jobs,
                namespace=args.namespace,
                private=private,
                dry_run=args.dry_run,
                template=args.template,
                progress=progress_from_args(args),
                create_pr=args.create_pr,
            )
        except PublishInterrupted as stop:
            return _interrupted(stop, args.dry_run)
    _print_results(summary, sys.stdout, dry_run=args.dry_run)
    return EXIT_OK if summary.ok else EXIT_INVALID


def _interrupted(stop: PublishInterrupted, dry_run: bool) -> int:
    """What was done before Ctrl-C, what was not, and how to go on."""
    _print_results(stop.summary, sys.stdout, dry_run=dry_run)
    done = stop.summary.describe()
    sys.stderr.write(
        f"esm-registry: interrupted: {done}; {stop.not_reached} not reached. Run the same "
        "command again to resume: what is done is unchanged and costs no commit.\n"
    )
    return EXIT_INTERRUPTED


def _cmd_refresh_cards(args: argparse.Namespace) -> int:
    from ..publish import refresh_cards  # noqa: PLC0415
    from ..stores import open_store  # noqa: PLC0415

    if args.all == bool(args.repo_ids):
        raise UsageError("name the repos to refresh, or pass --all (not both)")
    store = open_store(args.registry, token=args.token)
    try:
        summary = refresh_cards(
            store,
            None if args.all else args.repo_ids,
            dry_run=args.dry_run,
            template=args.template,
            jobs=args.jobs,
            progress=progress_from_args(args),
            create_pr=args.create_pr,
        )
    except PublishInterrupted as stop:
        return _interrupted(stop, args.dry_run)
    _print_results(summary, sys.stdout, dry_run=args.dry_run)
    return EXIT_OK if summary.ok else EXIT_INVALID


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    add_registry_options(parser)
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=4,
        metavar="N",
        help="ESMs processed at the same time (default 4)",
    )
    parser.add_argument(
        "--template",
        metavar="FILE",
        help="a Jinja2 card template to use instead of the bundled one",
    )
    parser.add_argument(
        "--create-pr",
        action="store_true",
        help="open a pull request per changed repo instead of committing (Hub registries; "
        "for repos you may read but not write)",
    )
    add_progress_option(parser)


def add_publish_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """Register ``publish`` and ``refresh-cards``."""
    publish = commands.add_parser(
        "publish",
        help="publish ESM folders to a registry (one commit per ESM)",
        description="Validate ESM folders (config.json + model.safetensors), render and "
        "validate their cards, and publish each as one commit of README.md, config.json and "
        "model.safetensors. Unchanged ESMs are skipped. Exit 0 when all succeeded, 1 when "
        "any failed, 2 for usage errors.",
    )
    publish.add_argument("paths", nargs="+", metavar="PATH", help="ESM folders")
    target = publish.add_mutually_exclusive_group()
    target.add_argument("--repo-id", metavar="ID", help="target repo (only with one PATH)")
    target.add_argument(
        "--namespace",
        metavar="NS",
        help="namespace of the default repo ids (default: the token's user on the Hub, "
        "'local' in a folder)",
    )
    publish.add_argument("--private", action="store_true", help="create new repos as private")
    publish.add_argument(
        "--dry-run", action="store_true", help="write nothing; show the files and the card diff"
    )
    _add_store_options(publish)
    publish.set_defaults(func=_cmd_publish)

    refresh = commands.add_parser(
        "refresh-cards",
        help="re-render the cards of published ESMs from their config.json",
        description="Re-render published cards with the current template (migrating legacy "
        "hfselect cards); one commit per changed card, none for up-to-date ones.",
    )
    refresh.add_argument("repo_ids", nargs="*", metavar="REPO_ID", help="repos to refresh")
    refresh.add_argument("--all", action="store_true", help="every ESM in the registry")
    refresh.add_argument(
        "--dry-run", action="store_true", help="write nothing; print the diff of each card"
    )
    _add_store_options(refresh)
    refresh.set_defaults(func=_cmd_refresh_cards)
