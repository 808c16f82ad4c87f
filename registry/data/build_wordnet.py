"""Rebuild the WordNet tasks only: ``python -m registry.data.build_wordnet [--check]``.

Kept for the command's users; it is ``python -m registry.data.build --source wordnet``
(see :mod:`registry.data.build` for the exit codes), with ``--wordnet-dir`` for
``--input-dir``. The tasks themselves are defined in :mod:`registry.data.sources.wordnet`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .build import main as _build_main
from .sources.wordnet import SOURCE, split_gloss

__all__ = ["DEFAULT_WORDNET_DIR", "main", "split_gloss"]

DEFAULT_WORDNET_DIR = SOURCE.input_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rebuild (default) or ``--check`` the WordNet tasks."""
    given = sys.argv[1:] if argv is None else list(argv)
    args = [
        "--input-dir" + arg[len("--wordnet-dir") :] if arg.startswith("--wordnet-dir") else arg
        for arg in given
    ]
    return _build_main(["--source", "wordnet", *args], prog="python -m registry.data.build_wordnet")


if __name__ == "__main__":
    sys.exit(main())
