"""The ``esm-registry`` command (also ``python -m registry``).

One module per command group; this one builds the parser and maps errors to exit codes:
0 success, 1 invalid input or a failed operation, 2 usage errors (unknown options, missing
files). A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import EsmRegistryError, UsageError
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Parser
from .batch import add_batch_commands
from .card import add_card_commands, add_schema_command
from .catalog import add_catalog_commands
from .publish import add_publish_commands
from .quickstart import add_quickstart_command
from .rank import add_rank_command
from .train import add_train_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The complete ``esm-registry`` argument parser."""
    parser = Parser(
        prog="esm-registry",
        description="Publish, validate, catalog and rank Embedding Space Maps (ESMs).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    add_quickstart_command(commands)
    add_card_commands(commands)
    add_schema_command(commands)
    add_publish_commands(commands)
    add_catalog_commands(commands)
    add_rank_command(commands)
    add_train_command(commands)
    add_batch_commands(commands)
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
