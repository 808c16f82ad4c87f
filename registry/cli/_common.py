"""What every ``esm-registry`` command shares: exit codes, argument types, the parser class."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "non_negative_int",
    "positive_int",
]

#: 0 success, 1 invalid input or a failed operation, 2 a usage error.
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
#: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: A bug of esm-registry (EX_SOFTWARE of sysexits.h).
EXIT_INTERNAL = 70


def positive_int(text: str) -> int:
    """An argparse type for counts (1 or more)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type for seeds and offsets (0 or more)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


class Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and one clear line for every usage error."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")
