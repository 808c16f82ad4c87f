"""``esm-registry rank``: rank intermediate tasks for a target dataset from the shell.

Kept apart from :mod:`registry.cli` so that the command line stays quick to start: torch,
transformers and datasets are imported only when ``rank`` runs. Exit codes as for every
command: 0 success, 1 when no ESM could be ranked (or the target, registry, catalog or
model cannot be used), 2 for usage errors.

Example::

    esm-registry rank --base-model google-bert/bert-base-uncased --file reviews.csv \\
        --text-column review --label-column stars --registry hub --top 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._install import require_extra
from ..embedding.options import EmbeddingOptions
from ..errors import UsageError
from ..ranker.options import ScoringOptions, TargetOptions
from ._common import EXIT_INVALID, EXIT_OK, positive_int
from ._options import (
    EMBEDDING_FLAGS,
    SCORING_FLAGS,
    TARGET_FLAGS,
    add_catalog_option,
    add_filter_options,
    add_option_group,
    add_progress_option,
    add_registry_options,
    filters_from_args,
    options_from_args,
    progress_from_args,
)

__all__ = ["FORMATS", "add_rank_command"]

#: Output formats of ``esm-registry rank``.
FORMATS = ("table", "json", "markdown", "csv")

_TABLE_TOP = 10


def _cmd_rank(args: argparse.Namespace) -> int:
    require_extra("rank", "'rank'")
    # Imported here: the ranker pulls in numpy, the Hub client and (when embedding) torch.
    from ..ranker import OptionGroups, rank  # noqa: PLC0415

    if args.file is not None and not Path(args.file).is_file():
        raise UsageError(f"no such file: {args.file}")
    options = OptionGroups(
        target=options_from_args(TargetOptions, TARGET_FLAGS, args),
        embedding=options_from_args(EmbeddingOptions, EMBEDDING_FLAGS, args),
        scoring=options_from_args(ScoringOptions, SCORING_FLAGS, args),
    )
    ranking = rank(
        args.file if args.file is not None else args.dataset,
        args.base_model,
        registry=args.registry,
        catalog=args.catalog,
        esms=args.esm or None,
        filters=filters_from_args(args),
        options=options,
        token=args.token,
        progress=progress_from_args(args),
    )
    _write(ranking, args.format, args.top)
    return EXIT_OK if len(ranking) else EXIT_INVALID


def _write(ranking: Any, fmt: str, top: int | None) -> None:
    out = sys.stdout
    if fmt == "json":
        out.write(ranking.to_json(top) + "\n")
    elif fmt == "markdown":
        out.write(ranking.to_markdown(top))
    elif fmt == "csv":
        out.write(ranking.to_csv(top))
    else:
        out.write(ranking.to_table(top if top is not None else _TABLE_TOP) + "\n")
        for note in ranking.notes:
            out.write(f"note: {note}\n")


def add_rank_command(commands: Any) -> argparse.ArgumentParser:
    """Register ``rank`` on the subcommands of the ``esm-registry`` parser.

    Args:
        commands: What ``parser.add_subparsers()`` returned.

    Returns:
        The ``rank`` parser.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        "rank",
        help="rank intermediate tasks for a target dataset (ESM-LogME)",
        description="Embed a target dataset with the base model, score every ESM of that "
        "model with LogME, and print the intermediate tasks best first. Exit 0 when at "
        "least one ESM was ranked, 1 when none could be, 2 for usage errors.",
    )
    parser.add_argument(
        "--base-model", required=True, metavar="ID", help="Hub id of the base language model"
    )
    source = parser.add_argument_group("target")
    where = source.add_mutually_exclusive_group(required=True)
    where.add_argument("--dataset", metavar="D", help="Hub dataset id of the target")
    where.add_argument(
        "--file",
        metavar="PATH",
        help="local target file (.csv, .tsv, .json, .jsonl, .parquet, optionally .gz)",
    )
    add_option_group(source, TargetOptions, TARGET_FLAGS)
    esms = parser.add_argument_group("ESMs")
    add_registry_options(
        esms,
        registry_help="'hub', an http(s):// URL of a Hub-compatible server, or a folder; "
        "default: the registry the catalog mirrors, else the local registry",
    )
    add_catalog_option(esms, help="search this catalog for the ESMs (default: list the registry)")
    add_filter_options(esms, base_model=False)
    esms.add_argument(
        "--esm",
        action="append",
        metavar="ESM",
        help="rank this ESM (repo id or folder) instead of searching; repeatable",
    )
    add_option_group(parser.add_argument_group("scoring"), ScoringOptions, SCORING_FLAGS)
    add_option_group(
        parser.add_argument_group("embedding"),
        EmbeddingOptions,
        EMBEDDING_FLAGS,
        aliases={"batch_size": ("--batch-size",)},
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--top",
        type=positive_int,
        metavar="K",
        help="show the K best (default: 10 in the table, all in the other formats)",
    )
    output.add_argument("--format", choices=FORMATS, default="table", help="output format")
    add_progress_option(output)
    parser.set_defaults(func=_cmd_rank)
    return parser
