"""The ``esm-registry`` command (also ``python -m registry``).

One module per command group; this one builds the parser and maps errors to exit codes:
0 success, 1 invalid input or a failed operation, 2 usage errors (unknown options, missing
files), 70 an internal error (a bug), 130 interrupted. A user mistake never prints a
traceback, and nothing printed or logged ever shows a token.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._install import extra_of_module, missing_extra_error
from .._secrets import redact
from .._version import __version__
from ..errors import EsmRegistryError, MissingExtraError, UsageError
from ._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, Parser
from .batch import add_batch_commands
from .card import add_card_commands, add_schema_command
from .catalog import add_catalog_commands
from .publish import add_publish_commands
from .quickstart import add_quickstart_command
from .rank import add_rank_command
from .repo import add_repo_commands
from .train import add_train_command

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


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
    add_repo_commands(commands)
    add_catalog_commands(commands)
    add_rank_command(commands)
    add_train_command(commands)
    add_batch_commands(commands)
    return parser


class _RedactingFormatter(logging.Formatter):
    """Every log line, traceback included, with tokens replaced by ``***``."""

    def __init__(self, fmt: str, secrets: Sequence[str]) -> None:
        super().__init__(fmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


#: Libraries that give their root logger a console handler of their own. huggingface_hub
#: and datasets still propagate to the root, so each of their warnings printed twice (once
#: unredacted); transformers propagates only when ``CI`` is set.
_SELF_PRINTING = ("huggingface_hub", "datasets", "transformers")


def _is_console(handler: logging.Handler) -> bool:
    """A library's own ``StreamHandler`` (file handlers and ours are left alone)."""
    return type(handler) is logging.StreamHandler and not isinstance(
        handler.formatter, _RedactingFormatter
    )


class _AdoptedLogger(logging.Logger):
    """A library root logger whose records are printed by the root handler only.

    The library may configure it whenever it is imported (transformers does so lazily):
    its console handler is not attached and propagation stays on, so every record goes
    through the one redacting handler, once. Its level is the library's to set.
    """

    @property
    def propagate(self) -> bool:
        return True

    @propagate.setter
    def propagate(self, value: bool) -> None:
        pass  # the library's wish to stop propagating would hide its records

    def addHandler(self, hdlr: logging.Handler) -> None:
        if not _is_console(hdlr):
            super().addHandler(hdlr)


def _adopt_library_loggers() -> None:
    """Route the self-printing libraries' records through the root handler (see above)."""
    manager = logging.Logger.manager
    for name in _SELF_PRINTING:
        existing = manager.loggerDict.get(name)
        if isinstance(existing, logging.Logger):
            existing.__class__ = _AdoptedLogger
            for handler in list(existing.handlers):
                if _is_console(handler):
                    existing.removeHandler(handler)
            continue
        previous = manager.loggerClass
        manager.setLoggerClass(_AdoptedLogger)
        try:
            logging.getLogger(name)  # created now, so the library finds it adopted
        finally:
            manager.loggerClass = previous


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record comes, not as it was at set-up, so
    that a caller who redirects stderr (or closes the stream it had) never loses a line."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def _configure_logging(verbose: int, secrets: Sequence[str]) -> None:
    """One redacting handler on stderr prints every record and warning, each once."""
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    for old in list(root.handlers):  # main() may run more than once in one process
        if isinstance(old.formatter, _RedactingFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING - 10 * min(verbose, 2))
    _adopt_library_loggers()
    logging.captureWarnings(True)  # warnings go through the same redacting handler


def _error(message: str, secrets: Sequence[str]) -> None:
    """One line on stderr: newlines in ids and messages cannot split it, tokens never show."""
    line = " ".join(redact(message, secrets).split())
    sys.stderr.write(f"esm-registry: error: {line}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if any("\x00" in argument for argument in arguments):  # no OS passes one; refuse early
        sys.stderr.write("esm-registry: error: an argument contains a NUL byte\n")
        return EXIT_USAGE
    args = parser.parse_args(arguments)
    secrets = [args.token] if isinstance(getattr(args, "token", None), str) else []
    _configure_logging(args.verbose, secrets)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (UsageError, MissingExtraError) as exc:
        _error(str(exc), secrets)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        extra = extra_of_module(exc.name or "")
        if extra is None:
            return _internal_error(exc, args.verbose, secrets)
        # An optional extra that a command reached without checking for it first.
        _error(str(missing_extra_error(extra, _command(args), exc.name or "")), secrets)
        return EXIT_USAGE
    except EsmRegistryError as exc:
        _error(str(exc), secrets)
        return EXIT_INVALID
    except KeyboardInterrupt:
        sys.stderr.write("esm-registry: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
    except OSError as exc:  # the file system said no: a path given or an environment
        where = f" ({exc.filename})" if exc.filename else ""
        _error(f"{exc.strerror or exc}{where}", secrets)
        return EXIT_INVALID
    except Exception as exc:  # a bug: one line, the traceback only in the (redacted) log
        return _internal_error(exc, args.verbose, secrets)


def _command(args: argparse.Namespace) -> str:
    """The command as typed, e.g. ``'card validate'``, for messages."""
    words = [args.command]
    words += [getattr(args, name, None) for name in ("card_command", "catalog_command")]
    return "'" + " ".join(word for word in words if isinstance(word, str)) + "'"


def _internal_error(exc: Exception, verbose: int, secrets: Sequence[str]) -> int:
    """A bug: one line, the traceback only in the (redacted) log."""
    logger.debug("internal error", exc_info=exc)
    _error(
        f"internal error: {type(exc).__name__}: {exc}. Please report it; -v shows the traceback",
        secrets,
    )
    if verbose:
        logger.error("traceback of the internal error", exc_info=exc)
    return EXIT_INTERNAL
