"""``esm-registry card validate|render|parse`` and ``esm-registry schema``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from .._io import atomic_write
from ..card import CardReport, Problem, find_cards, parse_card, render_card
from ..card.parse import MAX_CARD_BYTES, decode_card, read_card
from ..card.validate import validate_cards, validate_text
from ..errors import UsageError
from ..metadata import load_metadata
from ..paths import CONFIG_NAME, README_NAME
from ..schema import metadata_schema_text
from ._common import EXIT_INVALID, EXIT_OK, Parser, positive_int

__all__ = ["add_card_commands", "add_schema_command"]

logger = logging.getLogger(__name__)


def _github_escape(value: str, *, property_value: bool = False) -> str:
    """Escape text for a GitHub Actions workflow command (``::error ...::message``)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def _summary(reports: list[CardReport]) -> str:
    checked = [r for r in reports if not r.skipped]
    invalid = sum(not r.valid for r in checked)
    skipped = len(reports) - len(checked)
    line = f"{len(checked)} card(s) checked: {len(checked) - invalid} valid, {invalid} invalid"
    return line + (f"; {skipped} README.md file(s) skipped (not ESM cards)" if skipped else "")


def _print_text(reports: list[CardReport], out: TextIO, *, verbose: bool = False) -> None:
    for report in reports:
        name = str(report.path)
        if report.skipped:
            if verbose:
                out.write(f"{name}: skipped: {report.skipped}\n")
            continue
        for p in report.problems:
            where = f"{name}:{p.line}" if p.line else name
            field = f" [{p.field}]" if p.field else ""
            out.write(f"{where}: {p.severity}{field}: {p.message} ({p.code})\n")
        if report.valid:
            extra = f" ({len(report.warnings)} warning(s))" if report.warnings else ""
            out.write(f"{name}: valid{extra}\n")
    out.write(_summary(reports) + "\n")


def _print_github(reports: list[CardReport], out: TextIO) -> None:
    for report in reports:
        for p in report.problems:
            props = [f"file={_github_escape(str(report.path), property_value=True)}"]
            if p.line:
                props.append(f"line={p.line}")
            props.append(f"title={_github_escape(f'ESM card: {p.code}', property_value=True)}")
            message = f"{p.field}: {p.message}" if p.field else p.message
            out.write(f"::{p.severity} {','.join(props)}::{_github_escape(message)}\n")
    out.write(_summary(reports) + "\n")


def _cmd_card_validate(args: argparse.Namespace) -> int:
    reports: list[CardReport] = []
    found: list[tuple[Path, bool]] = []  # (card, found by a directory scan)
    scans: list[tuple[Path, int, int]] = []  # (folder, first card, card count)
    for raw in args.paths:
        if raw == "-":
            report = validate_text(sys.stdin.buffer.read(MAX_CARD_BYTES + 1), strict=args.strict)
            report.path = Path("<stdin>")
            reports.append(report)
            continue
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"no such file or directory: {_one_line(raw)}")
        if not path.is_dir():
            if args.only_esm_cards:
                card = _card_of(path)
                if card is None:
                    reports.append(CardReport(path, skipped="no README.md beside this config.json"))
                elif all(card != seen for seen, _ in found):
                    found.append((card, True))  # judged like a card a directory scan found
                continue
            found.append((path, False))
            continue
        cards = list(find_cards(path, exclude=args.exclude))
        scans.append((path, len(found), len(cards)))
        found.extend((card, True) for card in cards)

    def validate(paths: list[Path], *, only_esm_cards: bool) -> list[CardReport]:
        return validate_cards(
            paths,
            strict=args.strict,
            check_config=args.config,
            only_esm_cards=only_esm_cards,
            jobs=args.jobs,
        )

    named = validate([p for p, scanned in found if not scanned], only_esm_cards=False)
    scanned_reports = validate([p for p, scanned in found if scanned], only_esm_cards=True)
    named_iter, scanned_iter = iter(named), iter(scanned_reports)
    results = [next(scanned_iter) if scanned else next(named_iter) for _, scanned in found]
    reports.extend(results)
    for folder, first, count in scans:
        checked = results[first : first + count]
        if all(report.skipped for report in checked):
            reports.append(_no_cards_report(folder, len(checked)))
    if args.format == "json":
        payload = {
            "valid": all(r.valid for r in reports),
            "cards": [r.to_dict() for r in reports if not r.skipped],
            "skipped": [{"path": str(r.path), "reason": r.skipped} for r in reports if r.skipped],
        }
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "github":
        _print_github(reports, sys.stdout)
    else:
        _print_text(reports, sys.stdout, verbose=args.verbose > 0)
    return EXIT_OK if all(r.valid for r in reports) else EXIT_INVALID


def _card_of(path: Path) -> Path | None:
    """The card a changed file stands for: itself, or the README.md beside a config.json."""
    if path.name != CONFIG_NAME:
        return path
    card = path.parent / README_NAME
    return card if card.is_file() else None


def _no_cards_report(folder: Path, skipped: int) -> CardReport:
    """A folder scan that found no ESM card: an error when it found no candidate at all
    (probably a wrong path), a warning when every README.md in it is not an ESM card."""
    if skipped:
        message = (
            f"no ESM card found under this directory ({skipped} README.md file(s) skipped: "
            "not ESM cards)"
        )
        return CardReport(folder, [Problem(message, code="no-cards", severity="warning")])
    message = "no card (README.md or *.card.md) found under this directory"
    return CardReport(folder, [Problem(message, code="no-cards")])


def _one_line(text: str) -> str:
    """``text`` quoted so that newlines and control characters cannot split a message."""
    return repr(text) if any(not char.isprintable() for char in text) else text


# --- card render / parse, schema ----------------------------------------------------------


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.is_dir():
        path = path / README_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)  # never leave a half-written card behind
    except OSError as exc:
        raise UsageError(f"cannot write {_one_line(str(path))}: {exc.strerror or exc}") from None
    logger.info("wrote %s", path)


def _cmd_card_render(args: argparse.Namespace) -> int:
    try:
        metadata = load_metadata(args.source)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    _write_output(render_card(metadata, template=args.template), args.output)
    return EXIT_OK


def _cmd_card_parse(args: argparse.Namespace) -> int:
    if args.card == "-":  # as `card validate -` does
        name = "<stdin>"
        text, problems = decode_card(sys.stdin.buffer.read(MAX_CARD_BYTES + 1))
    else:
        path = Path(args.card)
        if not path.is_file():
            raise UsageError(f"no such file: {_one_line(args.card)}")
        name = str(path)
        text, problems = read_card(path)
    card = parse_card(text) if text is not None else None
    problems = card.problems if card is not None else problems
    for p in problems:
        where = f"{name}:{p.line}" if p.line else name
        sys.stderr.write(f"{where}: {p.severity}: {p.message} ({p.code})\n")
    if card is None or card.metadata is None:
        return EXIT_INVALID
    sys.stdout.write(card.metadata.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    _write_output(metadata_schema_text(), args.output)
    return EXIT_OK


def add_card_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """Register ``card validate``, ``card render`` and ``card parse``."""
    card = commands.add_parser("card", help="render, parse and validate ESM model cards")
    card_commands = card.add_subparsers(dest="card_command", metavar="ACTION", parser_class=Parser)
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
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths under a scanned directory that match GLOB (relative to it, e.g. "
        "'docs/*'); repeatable",
    )
    validate.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes for large card sets (default: one per CPU)",
    )
    validate.add_argument(
        "--only-esm-cards",
        action="store_true",
        help="judge named files as a directory scan does: skip a README.md that is not an ESM "
        "card, and check the README.md beside a named config.json (for pre-commit, which "
        "names the changed files)",
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
    parse.add_argument("card", metavar="CARD", help="the card file; '-' reads it from stdin")
    parse.set_defaults(func=_cmd_card_parse)


def add_schema_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Register ``schema``."""
    schema = commands.add_parser("schema", help="print the JSON Schema of ESM metadata")
    schema.add_argument("-o", "--output", metavar="OUT")
    schema.set_defaults(func=_cmd_schema)
