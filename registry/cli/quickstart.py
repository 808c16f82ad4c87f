"""``esm-registry quickstart``: the whole loop offline, on the shipped tasks and MiniLM."""

from __future__ import annotations

import argparse
import sys

from .._install import require_extra
from ._common import EXIT_OK, Parser, non_negative_int, positive_int

__all__ = ["add_quickstart_command"]


def _cmd_quickstart(args: argparse.Namespace) -> int:
    require_extra("rank", "'quickstart'")
    from ..quickstart import QuickstartSettings, run_quickstart  # noqa: PLC0415 - heavy

    settings = QuickstartSettings(
        lm_max_steps=args.lm_max_steps,
        num_examples=args.num_examples,
        task_examples=args.task_examples,
        seed=args.seed,
    )
    result = run_quickstart(
        workspace=args.workspace,
        settings=settings,
        fresh=args.fresh,
        progress=False if args.no_progress else None,
    )
    out = sys.stdout
    if args.format == "table":
        out.write(f"workspace: {result.workspace}\n")
        if result.trained:
            out.write(f"trained:   {', '.join(result.trained)}\n")
        if result.reused:
            out.write(f"reused:    {', '.join(result.reused)} (from an earlier run)\n")
        statuses = sorted(set(result.published.values()))
        counts = ", ".join(
            f"{sum(s == status for s in result.published.values())} {status}" for status in statuses
        )
        out.write(f"published: {counts} (local registry {result.registry})\n")
        out.write(f"catalog:   {result.catalog}\n\n")
        out.write(result.to_table() + "\n")
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        out.write(f"\ntimings: {timings}\n")
        out.write("\nnext, with these ESMs:\n")
        for command in result.next_commands():
            out.write(f"  {command}\n")
    elif args.format == "markdown":
        out.write(result.ranking.to_markdown() + "\n")
    elif args.format == "json":
        out.write(result.ranking.to_json() + "\n")
    else:
        out.write(result.ranking.to_csv())
    return EXIT_OK


def add_quickstart_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Register ``quickstart``."""
    quickstart = commands.add_parser(
        "quickstart",
        help="train, publish, index and rank on the shipped tasks, offline",
        description="Train one ESM per shipped WordNet intermediate task on "
        "sentence-transformers/all-MiniLM-L6-v2 (or reuse those of an earlier run), publish "
        "them into the local registry, sync the catalog and rank the intermediate tasks for "
        "the shipped target task, then print the commands to go on with. Needs no Hub access.",
    )
    quickstart.add_argument(
        "--workspace",
        metavar="DIR",
        help="folder for the ESMs, their registry and catalog (default: the ESMs in "
        "$ESM_REGISTRY_HOME/quickstart, published into the local registry and catalog that "
        "the other commands use)",
    )
    quickstart.add_argument(
        "--fresh", action="store_true", help="retrain the ESMs even if an earlier run left them"
    )
    quickstart.add_argument(
        "--lm-max-steps",
        type=positive_int,
        default=30,
        metavar="N",
        help="fine-tuning steps per intermediate task (default 30)",
    )
    quickstart.add_argument(
        "--num-examples",
        type=positive_int,
        default=1000,
        metavar="N",
        help="target examples to rank with (default 1000)",
    )
    quickstart.add_argument(
        "--task-examples",
        type=positive_int,
        default=1000,
        metavar="N",
        help="examples per intermediate task to train on (default 1000)",
    )
    quickstart.add_argument(
        "--seed", type=non_negative_int, default=42, metavar="S", help="seed (default 42)"
    )
    quickstart.add_argument(
        "--format", choices=("table", "markdown", "json", "csv"), default="table"
    )
    quickstart.add_argument("--no-progress", action="store_true", help="no progress bars")
    quickstart.set_defaults(func=_cmd_quickstart)
