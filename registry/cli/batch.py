"""``esm-registry rank-batch`` and ``esm-registry train-batch``: many targets, many ESMs.

Both read a SPEC file (:mod:`registry.batch.spec`) and run on an executor: ``local`` (this
process, the default) or ``ray`` (a local Ray instance, or the cluster at
``--ray-address``). Exit codes: 0 when every target or task succeeded, 1 when any failed
(the others still complete; the table says why each failed), 2 for usage errors (a bad
spec, an unknown option).

Example::

    esm-registry rank-batch targets.yaml --output-dir rankings --executor ray
    esm-registry train-batch tasks.yaml --registry hub --namespace my-org --publish
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import UsageError
from ._common import EXIT_INVALID, EXIT_OK, positive_int
from ._options import (
    add_catalog_option,
    add_progress_option,
    add_registry_options,
    progress_from_args,
)

if TYPE_CHECKING:
    from ..batch import Executor, RankBatchReport, TrainBatchReport

__all__ = ["add_batch_commands"]

_EXECUTORS = ("local", "ray")


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number >= 0")
    return value


def _executor(args: argparse.Namespace) -> Executor:
    from ..batch import open_executor  # noqa: PLC0415 - Ray loads only when asked for

    kind = args.executor or ("ray" if args.ray_address else "local")
    return open_executor(kind, address=args.ray_address)


def _table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    """Aligned columns; the last one is free text."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


def _cmd_rank_batch(args: argparse.Namespace) -> int:
    from ..batch import load_rank_spec, rank_batch  # noqa: PLC0415

    jobs = load_rank_spec(args.spec).to_jobs(
        registry=args.registry,
        catalog=args.catalog,
        token=args.token,
        shard_size=args.shard_size,
    )
    output = Path(args.output_dir)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output-dir {output} is a file, not a folder")
    with _executor(args) as executor:
        report = rank_batch(
            jobs,
            output,
            executor,
            force=args.force,
            top=args.top,
            progress=progress_from_args(args),
        )
    _print_rank_report(report, sys.stdout)
    return EXIT_OK if report.ok else EXIT_INVALID


def _print_rank_report(report: RankBatchReport, out: TextIO) -> None:
    rows: list[tuple[str, ...]] = [("TARGET", "STATUS", "RANKED", "SKIPPED", "TIME", "DETAIL")]
    for result in report.results:
        rows.append(
            (
                result.name,
                result.status,
                str(result.ranked) if result.ok else "-",
                str(result.skipped) if result.ok else "-",
                f"{result.seconds:.1f}s" if result.seconds else "-",
                result.error or (str(result.path) if result.path else ""),
            )
        )
    _table(rows, out)
    failed = len(report.failed)
    counts = f"{len(report.results) - failed} of {len(report.results)} targets ranked"
    out.write(f"{counts}{f', {failed} failed' if failed else ''}; summary: {report.summary_path}\n")


def _cmd_train_batch(args: argparse.Namespace) -> int:
    from ..batch import Resources, StoreSpec, load_train_spec, train_batch  # noqa: PLC0415

    jobs = load_train_spec(args.spec).to_jobs()
    plan_only = not args.publish and args.output_dir is None
    if args.namespace is not None and not (args.publish or plan_only):
        raise UsageError("--namespace names the repos of --publish")
    registry = None
    if args.publish or plan_only:
        registry = StoreSpec(_registry(args.registry), token=args.token)
    with _executor(args) as executor:
        resources = None
        if args.cpus_per_task is not None or args.gpus_per_task is not None:
            gpus = args.gpus_per_task
            if gpus is None:
                gpus = 1.0 if executor.gpus() > 0 else 0.0
            resources = Resources(num_cpus=float(args.cpus_per_task or 1), num_gpus=gpus)
        report = train_batch(
            jobs,
            executor,
            registry=registry,
            namespace=args.namespace,
            output_dir=args.output_dir,
            resources=resources,
            plan_only=plan_only,
            progress=progress_from_args(args),
        )
    _print_train_report(report, sys.stdout)
    if plan_only:
        sys.stdout.write("nothing was trained: pass --publish and/or --output-dir to train\n")
    return EXIT_OK if report.ok else EXIT_INVALID


def _registry(spec: str | None) -> str:
    """The registry as a string every worker can open (the default made explicit)."""
    if spec is None or not spec.strip():
        from ..paths import default_local_registry  # noqa: PLC0415

        return str(default_local_registry())
    spec = spec.strip()
    if spec == "hub" or "://" in spec:
        return spec
    return str(Path(spec).expanduser().resolve())


def _print_train_report(report: TrainBatchReport, out: TextIO) -> None:
    rows: list[tuple[str, ...]] = [("TASK", "STATUS", "ESM", "COMMIT", "MSE", "TIME", "DETAIL")]
    for outcome in report.outcomes:
        mse = outcome.validation_mse
        rows.append(
            (
                outcome.name,
                outcome.status,
                outcome.repo_id or outcome.path or "-",
                (outcome.commit_id or "")[:8] or "-",
                f"{mse:.4g}" if mse is not None else "-",
                f"{outcome.seconds:.1f}s" if outcome.seconds else "-",
                outcome.error or "",
            )
        )
    _table(rows, out)
    out.write(report.describe() + "\n")


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("executor")
    group.add_argument(
        "--executor",
        choices=_EXECUTORS,
        help="where tasks run: local (this process; the default) or ray (a local Ray "
        "instance, or the cluster at --ray-address)",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join this Ray cluster (ray://host:10001, host:6379 or auto); implies --executor ray",
    )


def add_batch_commands(commands: Any) -> None:
    """Register ``rank-batch`` and ``train-batch`` on the ``esm-registry`` subcommands."""
    rank = commands.add_parser(
        "rank-batch",
        help="rank intermediate tasks for many targets (local or on Ray)",
        description="Rank the registry's ESMs for every target of SPEC: each target is "
        "embedded once, its ESMs are scored in shards (by Ray tasks with --executor ray) "
        "and merged. Writes DIR/<name>.json per target (what `rank --format json` prints) "
        "and DIR/summary.md; a target whose result for the same inputs exists is skipped. "
        "Exit 0 when every target was ranked, 1 when any failed, 2 for usage errors.",
    )
    rank.add_argument("spec", metavar="SPEC", help="YAML file listing the targets")
    rank.add_argument(
        "--output-dir", required=True, metavar="DIR", help="where the results are written"
    )
    _add_executor_options(rank)
    esms = rank.add_argument_group("ESMs (replace the spec's top-level keys)")
    add_registry_options(
        esms,
        registry_help="'hub', an http(s):// URL of a Hub-compatible server, or a folder "
        "(default: the spec's registry, else the catalog's, else the local registry)",
    )
    add_catalog_option(esms, help="search this catalog for the ESMs (default: the spec's)")
    runs = rank.add_argument_group("run")
    runs.add_argument(
        "--shard-size", type=positive_int, metavar="N", help="ESMs per task (default 64)"
    )
    runs.add_argument(
        "--top", type=positive_int, default=10, metavar="K", help="tasks per target in the summary"
    )
    runs.add_argument(
        "--force", action="store_true", help="recompute targets whose results are up to date"
    )
    add_progress_option(runs)
    rank.set_defaults(func=_cmd_rank_batch)

    train = commands.add_parser(
        "train-batch",
        help="train (and publish) many ESMs (local or on Ray)",
        description="Train an ESM for every task of SPEC, one task per intermediate task "
        "(a Ray task with --executor ray, with a GPU each when the cluster has GPUs). With "
        "--publish each ESM is published as soon as it is trained, one commit each; with "
        "--output-dir it is saved there. Tasks whose ESM from the same inputs is already "
        "there are skipped, so a re-run resumes. Without --publish or --output-dir only the "
        "plan is shown. Exit 0 when no task failed, 1 when any did, 2 for usage errors.",
    )
    train.add_argument("spec", metavar="SPEC", help="YAML file listing the tasks")
    _add_executor_options(train)
    where = train.add_argument_group("output")
    add_registry_options(where)
    where.add_argument(
        "--publish", action="store_true", help="publish each ESM to --registry when trained"
    )
    where.add_argument(
        "--namespace", metavar="NS", help="namespace of the repos (default: the token's user)"
    )
    where.add_argument("--output-dir", metavar="DIR", help="also save each ESM as DIR/<name>")
    needs = train.add_argument_group("resources per task (Ray)")
    needs.add_argument("--cpus-per-task", type=positive_int, metavar="N", help="default 1")
    needs.add_argument(
        "--gpus-per-task",
        type=_non_negative_float,
        metavar="G",
        help="default: 1 when the cluster has GPUs, else 0",
    )
    add_progress_option(train)
    train.set_defaults(func=_cmd_train_batch)
