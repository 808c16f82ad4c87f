"""The ``esm-registry`` command (also ``python -m registry``).

Exit codes: 0 success, 1 invalid input (an invalid card, bad metadata), 2 usage errors
(unknown options, missing files). A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .card import CardReport, Problem, find_cards, parse_card, render_card
from .card.parse import MAX_CARD_BYTES, read_card
from .card.validate import validate_cards, validate_text
from .cli_catalog import add_catalog_commands
from .cli_rank import add_rank_command
from .cli_train import add_train_command
from .errors import EsmRegistryError, UsageError
from .metadata import load_metadata
from .schema import metadata_schema_text

if TYPE_CHECKING:
    from .publish import PublishSummary

__all__ = ["main"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


# --- card validate ------------------------------------------------------------------------


def _github_escape(value: str, *, property_value: bool = False) -> str:
    """Escape text for a GitHub Actions workflow command (``::error ...::message``)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def _print_text(reports: list[CardReport], out: TextIO) -> None:
    for report in reports:
        name = str(report.path)
        for p in report.problems:
            where = f"{name}:{p.line}" if p.line else name
            field = f" [{p.field}]" if p.field else ""
            out.write(f"{where}: {p.severity}{field}: {p.message} ({p.code})\n")
        if report.valid:
            extra = f" ({len(report.warnings)} warning(s))" if report.warnings else ""
            out.write(f"{name}: valid{extra}\n")
    invalid = sum(not r.valid for r in reports)
    out.write(
        f"{len(reports)} card(s) checked: {len(reports) - invalid} valid, {invalid} invalid\n"
    )


def _print_github(reports: list[CardReport], out: TextIO) -> None:
    for report in reports:
        for p in report.problems:
            props = [f"file={_github_escape(str(report.path), property_value=True)}"]
            if p.line:
                props.append(f"line={p.line}")
            props.append(f"title={_github_escape(f'ESM card: {p.code}', property_value=True)}")
            message = f"{p.field}: {p.message}" if p.field else p.message
            out.write(f"::{p.severity} {','.join(props)}::{_github_escape(message)}\n")
    invalid = sum(not r.valid for r in reports)
    out.write(
        f"{len(reports)} card(s) checked: {len(reports) - invalid} valid, {invalid} invalid\n"
    )


def _cmd_card_validate(args: argparse.Namespace) -> int:
    reports: list[CardReport] = []
    paths: list[Path] = []
    for raw in args.paths:
        if raw == "-":
            report = validate_text(sys.stdin.buffer.read(MAX_CARD_BYTES + 1), strict=args.strict)
            report.path = Path("<stdin>")
            reports.append(report)
            continue
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"no such file or directory: {path}")
        cards = list(find_cards(path))
        paths.extend(cards)
        if not cards:
            reports.append(
                CardReport(
                    path,
                    [
                        Problem(
                            "no card (README.md or *.card.md) found under this directory",
                            None,
                            None,
                            code="no-cards",
                        )
                    ],
                )
            )
    reports.extend(
        validate_cards(paths, strict=args.strict, check_config=args.config, jobs=args.jobs)
    )
    if args.format == "json":
        payload = {"valid": all(r.valid for r in reports), "cards": [r.to_dict() for r in reports]}
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "github":
        _print_github(reports, sys.stdout)
    else:
        _print_text(reports, sys.stdout)
    return EXIT_OK if all(r.valid for r in reports) else EXIT_INVALID


# --- card render / parse, schema ----------------------------------------------------------


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.is_dir():
        path = path / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never leave a half-written card behind
    logger.info("wrote %s", path)


def _cmd_card_render(args: argparse.Namespace) -> int:
    try:
        metadata = load_metadata(args.source)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    _write_output(render_card(metadata, template=args.template), args.output)
    return EXIT_OK


def _cmd_card_parse(args: argparse.Namespace) -> int:
    path = Path(args.card)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    text, problems = read_card(path)
    card = parse_card(text) if text is not None else None
    problems = card.problems if card is not None else problems
    for p in problems:
        where = f"{path}:{p.line}" if p.line else str(path)
        sys.stderr.write(f"{where}: {p.severity}: {p.message} ({p.code})\n")
    if card is None or card.metadata is None:
        return EXIT_INVALID
    sys.stdout.write(card.metadata.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    _write_output(metadata_schema_text(), args.output)
    return EXIT_OK


# --- publish, refresh-cards ---------------------------------------------------------------


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None  # None: only when stderr is a terminal


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
    from .publish import PublishResult, PublishSummary, publish_esm, publish_many  # noqa: PLC0415
    from .stores import open_store  # noqa: PLC0415

    if args.repo_id is not None and len(args.paths) != 1:
        raise UsageError("--repo-id names one repo: give exactly one PATH with it")
    for raw in args.paths:
        if not Path(raw).is_dir():
            raise UsageError(f"no such ESM folder: {raw}")
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
            )
        except UsageError:
            raise
        except (EsmRegistryError, OSError) as exc:
            result = PublishResult(args.repo_id, "failed", source=args.paths[0], error=str(exc))
        summary = PublishSummary((result,))
    else:
        summary = publish_many(
            args.paths,
            store,
            jobs=args.jobs,
            namespace=args.namespace,
            private=private,
            dry_run=args.dry_run,
            template=args.template,
            progress=_progress(args),
        )
    _print_results(summary, sys.stdout, dry_run=args.dry_run)
    return EXIT_OK if summary.ok else EXIT_INVALID


def _cmd_refresh_cards(args: argparse.Namespace) -> int:
    from .publish import refresh_cards  # noqa: PLC0415
    from .stores import open_store  # noqa: PLC0415

    if args.all == bool(args.repo_ids):
        raise UsageError("name the repos to refresh, or pass --all (not both)")
    store = open_store(args.registry, token=args.token)
    summary = refresh_cards(
        store,
        None if args.all else args.repo_ids,
        dry_run=args.dry_run,
        template=args.template,
        jobs=args.jobs,
        progress=_progress(args),
    )
    _print_results(summary, sys.stdout, dry_run=args.dry_run)
    return EXIT_OK if summary.ok else EXIT_INVALID


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="REG",
        help="'hub' (the Hub at HF_ENDPOINT), an http(s):// URL of a Hub-compatible server, "
        "or a folder; default: the local registry in $ESM_REGISTRY_HOME/local "
        "($HF_HOME/esm-registry/local)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="Hub access token (default: HF_TOKEN or the saved login; prefer those, since "
        "command lines are visible to other users)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=4,
        metavar="N",
        help="ESMs processed at the same time (default 4)",
    )
    parser.add_argument(
        "--template",
        metavar="FILE",
        help="a Jinja2 card template to use instead of the bundled one",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# --- the parser ----------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and one clear line for every usage error."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="esm-registry",
        description="Publish, validate, catalog and rank Embedding Space Maps (ESMs).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    card = commands.add_parser("card", help="render, parse and validate ESM model cards")
    card_commands = card.add_subparsers(dest="card_command", metavar="ACTION", parser_class=_Parser)
    card_commands.required = True

    validate = card_commands.add_parser(
        "validate",
        help="validate cards (files, or directories searched for README.md)",
        description="Validate ESM cards. Exit 0 when all are valid, 1 when any is invalid, "
        "2 for usage errors.",
    )
    validate.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="card files or directories; '-' reads one card from stdin",
    )
    validate.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="github prints ::error annotations for GitHub Actions",
    )
    validate.add_argument(
        "--strict",
        action="store_true",
        help="placeholders on fields that identify the ESM are errors",
    )
    validate.add_argument(
        "--no-config",
        dest="config",
        action="store_false",
        help="do not compare cards with a config.json beside them",
    )
    validate.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes for large card sets (default: one per CPU)",
    )
    validate.set_defaults(func=_cmd_card_validate)

    render = card_commands.add_parser(
        "render", help="render a card from an ESM folder (config.json) or a metadata file"
    )
    render.add_argument(
        "source", metavar="SOURCE", help="ESM folder, config.json, or a YAML/JSON metadata file"
    )
    render.add_argument(
        "-o", "--output", metavar="OUT", help="output file or folder (default: standard output)"
    )
    render.add_argument(
        "--template",
        metavar="FILE",
        help="a Jinja2 card template to use instead of the bundled one",
    )
    render.set_defaults(func=_cmd_card_render)

    parse = card_commands.add_parser("parse", help="print a card's metadata as JSON")
    parse.add_argument("card", metavar="CARD")
    parse.set_defaults(func=_cmd_card_parse)

    schema = commands.add_parser("schema", help="print the JSON Schema of ESM metadata")
    schema.add_argument("-o", "--output", metavar="OUT")
    schema.set_defaults(func=_cmd_schema)
    add_catalog_commands(commands)
    add_train_command(commands)

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
    add_rank_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as exc:
        sys.stderr.write(f"esm-registry: error: {exc}\n")
        return EXIT_USAGE
    except EsmRegistryError as exc:
        sys.stderr.write(f"esm-registry: error: {exc}\n")
        return EXIT_INVALID
    except KeyboardInterrupt:
        sys.stderr.write("esm-registry: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
