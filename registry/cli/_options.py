"""Command-line options that several commands take, defined once.

Each ``add_*`` function adds a group of options to a parser and the matching ``*_from_args``
turns the parsed values back into the library's objects, so that a flag means the same in
every command (``--registry``, ``--catalog``, the search filters, ``--no-progress``, …).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..filters import SearchFilters
from ._common import non_negative_int, positive_int

__all__ = [
    "add_catalog_option",
    "add_filter_options",
    "add_format_option",
    "add_progress_option",
    "add_registry_options",
    "filters_from_args",
    "progress_from_args",
]

REGISTRY_HELP = (
    "'hub' (the Hub at HF_ENDPOINT), an http(s):// URL of a Hub-compatible server, or a "
    "folder; default: the local registry in $ESM_REGISTRY_HOME/local"
)


def add_registry_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, registry_help: str = REGISTRY_HELP
) -> None:
    """``--registry REG`` and ``--token TOKEN``."""
    parser.add_argument("--registry", metavar="REG", help=registry_help)
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="Hub access token (default: HF_TOKEN or the saved login; prefer those, since "
        "command lines are visible to other users)",
    )


def add_catalog_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, help: str | None = None
) -> None:
    """``--catalog PATH``."""
    parser.add_argument(
        "--catalog",
        metavar="PATH",
        help=help
        or "the catalog file (default: $ESM_REGISTRY_CATALOG, else "
        "$ESM_REGISTRY_HOME/catalog.sqlite)",
    )


def add_filter_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, base_model: bool = True
) -> None:
    """The search filters of :class:`~registry.filters.SearchFilters`, as flags.

    Args:
        parser: Where to add them.
        base_model: Add ``--base-model`` too (``rank`` defines its own, required one).
    """
    if base_model:
        parser.add_argument("--base-model", metavar="X", help="base model id (aliases match)")
    parser.add_argument("--architecture", metavar="A", help="ESM architecture, e.g. linear")
    parser.add_argument("--task-id", metavar="T", help="intermediate task (Hub dataset id)")
    parser.add_argument("--language", metavar="L", help="language code of the task, e.g. en")
    parser.add_argument(
        "--embedding-dim", type=positive_int, metavar="D", help="embedding dimension"
    )
    parser.add_argument(
        "--min-examples", type=non_negative_int, metavar="N", help="at least N task examples"
    )
    parser.add_argument("--text", metavar="Q", help="words in the task id, subset or description")
    problems = parser.add_mutually_exclusive_group()
    problems.add_argument(
        "--with-problems", action="store_true", help="only ESMs indexed with problems"
    )
    problems.add_argument(
        "--without-problems", action="store_true", help="only ESMs indexed without problems"
    )


def filters_from_args(args: argparse.Namespace) -> SearchFilters:
    """The :class:`SearchFilters` that :func:`add_filter_options` flags describe."""
    has_problems = True if args.with_problems else False if args.without_problems else None
    return SearchFilters(
        base_model=args.base_model,
        architecture=args.architecture,
        embedding_dim=args.embedding_dim,
        task_id=args.task_id,
        language=args.language,
        min_examples=args.min_examples,
        text=args.text,
        has_problems=has_problems,
    )


def add_progress_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--no-progress`` (bars are shown only on a terminal anyway)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def progress_from_args(args: argparse.Namespace) -> bool | None:
    """``False`` with ``--no-progress``; else ``None``: bars only when stderr is a terminal."""
    return False if args.no_progress else None


def add_format_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, choices: Sequence[str]
) -> None:
    """``--format`` with ``choices``; the first is the default."""
    parser.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format (default {choices[0]})",
    )
