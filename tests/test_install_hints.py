"""Install hints: one line that works, never a ModuleNotFoundError traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from registry import _install
from registry.card import render_card
from registry.errors import MissingExtraError
from registry.metadata import EsmMetadata


def test_the_fallback_repository_is_the_one_pyproject_declares(repo_root: Path) -> None:
    pyproject = (repo_root / "pyproject.toml").read_text()
    declared = re.search(r'^Repository = "([^"]+)"$', pyproject, re.MULTILINE)
    assert declared is not None
    assert declared.group(1) == _install.FALLBACK_REPOSITORY
    assert _install.repository_url().startswith("https://")


def test_install_command_names_the_repository_until_the_package_is_on_the_index() -> None:
    command = _install.install_command("rank")
    if _install.ON_PACKAGE_INDEX:
        assert command == 'pip install "esm-registry[rank]"'
    else:
        assert command == f'pip install "esm-registry[rank] @ git+{_install.repository_url()}"'
    assert "[" not in _install.install_command().split('"')[1].split(" @")[0]


def test_cards_point_to_an_install_that_works() -> None:
    meta = EsmMetadata.model_validate(
        {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    )
    card = render_card(meta)
    assert _install.install_command("rank") in card
    assert 'pip install "esm-registry[rank]"\n' not in card or _install.ON_PACKAGE_INDEX


def test_require_extra_raises_one_line_with_the_install() -> None:
    missing = {"torch": None}
    with pytest.MonkeyPatch.context() as patch:
        for module, value in missing.items():
            patch.setitem(sys.modules, module, value)
        assert _install.missing_modules("rank")[0] == "torch"
        with pytest.raises(MissingExtraError) as info:
            _install.require_extra("rank", "'rank'")
    assert info.value.extra == "rank" and info.value.name == "torch"
    assert isinstance(info.value, ImportError)
    assert "\n" not in str(info.value)
    assert _install.install_command("rank") in str(info.value)
    assert _install.extra_of_module("transformers.models.bert") == "rank"
    assert _install.extra_of_module("numpy") is None


def _run_without(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``esm-registry ARGS`` in a fresh interpreter where ``module`` cannot be imported."""
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None\n"
        "from registry.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("module", ["torch", "transformers", "datasets", "pandas"])
@pytest.mark.parametrize(
    "args",
    [
        ["rank", "--base-model", "x/y", "--file", "data.csv"],
        [
            "train",
            "--base-model",
            "x/y",
            "--fine-tune",
            "--task",
            "wordnet/noun-supersense",
            "-o",
            "o",
        ],
        ["quickstart", "--workspace", "ws"],
    ],
    ids=["rank", "train", "quickstart"],
)
def test_heavy_commands_without_their_extra_print_one_line_and_exit_2(
    tmp_path: Path, module: str, args: list[str]
) -> None:
    (tmp_path / "data.csv").write_text("text,label\na,x\nb,y\n")
    done = _run_without(module, args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"'{args[0]}' needs the ranking extra ({module} is not installed)" in lines[0]
    assert _install.install_command("rank") in lines[0]
    assert not (tmp_path / "o").exists() and not (tmp_path / "ws").exists()


def test_a_missing_extra_found_mid_command_is_a_hint_too(tmp_path: Path) -> None:
    """A command that reaches an optional module without checking first still gets the hint."""
    code = (
        "import sys\n"
        "import registry.cli.card as card\n"
        "def broken(args):\n"
        "    import torch  # the extra is missing\n"
        "card._cmd_schema = broken\n"
        "from registry.cli import main\n"
        "sys.modules['torch'] = None\n"
        "sys.exit(main(['schema']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "'schema' needs the ranking extra (torch is not installed)" in done.stderr
