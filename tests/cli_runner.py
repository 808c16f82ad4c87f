"""Run the ``esm-registry`` command in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from registry.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``esm-registry ARGS`` (argparse exits become codes)."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse reports usage errors and --help by exiting
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
