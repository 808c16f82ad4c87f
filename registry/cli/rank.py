"""``esm-registry rank``: rank intermediate tasks for a target dataset from the shell.

Kept apart from :mod:`registry.cli` so that the command line stays quick to start: torch,
transformers and datasets are imported only when ``rank`` runs. Exit codes as for every
command: 0 success, 1 when no ESM could be ranked (or the registry, catalog or model
failed), 2 for usage errors.

Example::

    esm-registry rank --base-model google-bert/bert-base-uncased --file reviews.csv \\
        --text-column review --label-column stars --registry hub --top 5
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_INVALID, EXIT_OK, non_negative_int, positive_int
from ._options import add_filter_options, filters_from_args

__all__ = ["FORMATS", "add_rank_command"]

#: Output formats of ``esm-registry rank``.
FORMATS = ("table", "json", "markdown", "csv")

_TABLE_TOP = 10


def _cmd_rank(args: argparse.Namespace) -> int:
    # Imported here: the ranker pulls in numpy, the Hub client and (when embedding) torch.
    from ..errors import UsageError  # noqa: PLC0415
    from ..ranker import rank  # noqa: PLC0415

    if args.file is not None:
        from pathlib import Path  # noqa: PLC0415

        if not Path(args.file).is_file():
            raise UsageError(f"no such file: {args.file}")
    progress = False if args.no_progress else None
    ranking = rank(
        args.file if args.file is not None else args.dataset,
        args.base_model,
        registry=args.registry,
        catalog=args.catalog,
        esms=args.esm or None,
        filters=filters_from_args(args),
        text_column=args.text_column or None,
        label_column=args.label_column or None,
        regression=args.regression,
        num_examples=args.num_examples,
        seed=args.seed,
        subset=args.subset,
        split=args.split,
        batch_size=args.batch_size,
        max_length=args.max_length,
        device=args.device,
        model_path=args.model_path,
        pooling=args.pooling,
        jobs=args.jobs,
        embedding_cache=not args.no_cache,
        token=args.token,
        progress=progress,
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
        "--file", metavar="PATH", help="local target file (.csv, .tsv, .json, .jsonl, .parquet)"
    )
    source.add_argument("--subset", metavar="S", help="subset of the Hub dataset")
    source.add_argument("--split", metavar="SPLIT", help="split of the Hub dataset (train)")
    source.add_argument(
        "--text-column",
        action="append",
        metavar="C",
        help="text column (default 'text'); repeat to join several",
    )
    source.add_argument(
        "--label-column",
        action="append",
        metavar="L",
        help="label column (default 'label'); repeat for several regression targets",
    )
    source.add_argument(
        "--regression", action="store_true", help="the labels are real-valued targets"
    )
    source.add_argument(
        "--num-examples",
        type=positive_int,
        default=1000,
        metavar="N",
        help="target examples to sample (default 1000)",
    )
    source.add_argument(
        "--seed",
        type=non_negative_int,
        default=42,
        metavar="S",
        help="seed of the sample (default 42)",
    )
    esms = parser.add_argument_group("ESMs")
    esms.add_argument(
        "--registry",
        metavar="REG",
        help="'hub', an http(s):// URL of a Hub-compatible server, or a folder; default: the "
        "registry the catalog mirrors, else the local registry",
    )
    esms.add_argument(
        "--catalog",
        metavar="PATH",
        help="search this catalog for the ESMs (default: list the registry)",
    )
    add_filter_options(esms, base_model=False)
    esms.add_argument(
        "--esm",
        action="append",
        metavar="ESM",
        help="rank this ESM (repo id or folder) instead of searching; repeatable",
    )
    esms.add_argument(
        "--jobs", type=positive_int, default=8, metavar="N", help="parallel downloads (8)"
    )
    esms.add_argument("--token", metavar="TOKEN", help="Hub access token (default: HF_TOKEN)")
    model = parser.add_argument_group("embedding")
    model.add_argument(
        "--model-path", metavar="DIR", help="load the base model from this local copy"
    )
    model.add_argument(
        "--pooling",
        choices=("auto", "pooler", "mean", "cls"),
        default="auto",
        help="pooling of the embeddings (default: hfselect's rule for the model)",
    )
    model.add_argument(
        "--batch-size", type=positive_int, default=32, metavar="N", help="texts per batch (32)"
    )
    model.add_argument(
        "--max-length", type=positive_int, default=128, metavar="N", help="tokens per text (128)"
    )
    model.add_argument("--device", metavar="D", help="cpu, cuda, cuda:1, … (default: cuda if any)")
    model.add_argument("--no-cache", action="store_true", help="do not cache the embeddings")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--top",
        type=positive_int,
        metavar="K",
        help="show the K best (default: 10 in the table, all in the other formats)",
    )
    output.add_argument("--format", choices=FORMATS, default="table", help="output format")
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_cmd_rank)
    return parser
