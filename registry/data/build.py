"""Rebuild the task suite from Debian packages, or check it: ``python -m registry.data.build``.

::

    apt-get install wordnet-base fortunes dict-jargon dict-foldoc dict-gcide dict-vera
    python -m registry.data.build                   # rewrites registry/data/ (and the home)
    python -m registry.data.build --source fortunes # one source; the others stay as they are
    python -m registry.data.build --check           # compare, write nothing

``--check`` exits with

* 0 when every source checked gives the recorded files;
* 1 when a source gives other files from the *same* input (a bug, or a stale index);
* 3 when a source's Debian package is not installed (nothing to compare);
* 4 when the installed package differs from the one ``tasks.json`` was built from
  (another Debian release; nothing to compare);

the worst outcome wins (1, then 4, then 3). A build exits 3 when a package is missing.
Each source's input is identified by the SHA-256 of the files it reads, recorded in
``tasks.json`` with the package version; see :mod:`registry.data.inputs`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .inputs import InputMissingError
from .sources import SOURCES
from .suite import PACKAGE_DIR, BuildError, Status, build, check

__all__ = ["EXIT_CODES", "main"]

logger = logging.getLogger(__name__)

#: Exit code of ``--check`` for each outcome.
EXIT_CODES = {
    Status.SAME: 0,
    Status.DIFFERS: 1,
    Status.INPUT_MISSING: 3,
    Status.OTHER_INPUT: 4,
}
_SEVERITY = (Status.SAME, Status.INPUT_MISSING, Status.OTHER_INPUT, Status.DIFFERS)


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m registry.data.build") -> int:
    """Command line: rebuild (default) or ``--check`` the suite or some sources."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--source",
        action="append",
        choices=[s.name for s in SOURCES],
        help="only this source (repeatable); default: all",
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the recorded files; write nothing"
    )
    parser.add_argument(
        "--input-dir",
        type=Path,
        help="read the source's files from here instead of where Debian installs them "
        "(with a single --source)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=PACKAGE_DIR,
        help="where tasks.json and the shipped task files are (default: the package)",
    )
    args = parser.parse_args(argv)
    if args.input_dir is not None and len(args.source or []) != 1:
        parser.error("--input-dir needs exactly one --source")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        results = check(args.source, package_dir=args.output_dir, input_dir=args.input_dir)
        for result in results:
            log = logger.info if result.status is Status.SAME else logger.error
            log("%s", result.detail)
        worst = max((r.status for r in results), key=_SEVERITY.index, default=Status.SAME)
        return EXIT_CODES[worst]
    try:
        written = build(args.source, package_dir=args.output_dir, input_dir=args.input_dir)
    except InputMissingError as exc:
        logger.error("%s", exc)
        return EXIT_CODES[Status.INPUT_MISSING]
    except BuildError as exc:
        logger.error("%s", exc)
        return 1
    for path in written:
        logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
