"""The pre-commit hook: its definition, and its entry run on the files a commit changes.

``pre-commit try-repo`` installs the hook from the repository with pip, which needs the
package index, so CI runs it (``.ci/run``); these tests run the hook's own command on the
file lists pre-commit would pass, offline.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from registry.card import render_card
from registry.metadata import load_metadata, to_config

from cli_runner import run


@pytest.fixture
def hook(repo_root: Path) -> dict[str, object]:
    hooks = yaml.safe_load((repo_root / ".pre-commit-hooks.yaml").read_text())
    (found,) = [h for h in hooks if h["id"] == "validate-esm-cards"]
    return dict(found)


@pytest.fixture
def repo(tmp_path: Path, repo_root: Path) -> Path:
    """A repository with an ESM, its own README, a package config.json and a broken ESM."""
    meta = load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")
    esm = tmp_path / "esms" / "amz20"
    esm.mkdir(parents=True)
    (esm / "README.md").write_text(render_card(meta))
    (esm / "config.json").write_text(json.dumps(to_config(meta)))
    (tmp_path / "README.md").write_text("# My project\n\nNot an ESM card.\n")
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "config.json").write_text('{"indent": 2}')
    (tool / "README.md").write_text("# The tool\n")
    broken = tmp_path / "esms" / "broken"
    broken.mkdir()
    card = render_card(meta).replace("- embedding_space_map\n", "")
    (broken / "README.md").write_text(card)
    (broken / "config.json").write_text(json.dumps(to_config(meta)))
    return tmp_path


def _selected(hook: dict[str, object], paths: list[str]) -> list[str]:
    """The files pre-commit passes to the hook (its ``files`` pattern)."""
    pattern = re.compile(str(hook["files"]))
    return [path for path in paths if pattern.search(path)]


def test_the_hook_is_defined_for_cards_and_configs(hook: dict[str, object]) -> None:
    assert hook["language"] == "python"
    assert str(hook["entry"]).startswith("esm-registry card validate")
    files = [
        "README.md",
        "esms/a/README.md",
        "esms/a/config.json",
        "cards/x.card.md",
        "docs/guide.md",
        "README.md.bak",
        "my_config.json",
        "src/app.py",
    ]
    assert _selected(hook, files) == [
        "README.md",
        "esms/a/README.md",
        "esms/a/config.json",
        "cards/x.card.md",
    ]


def _run_hook(
    hook: dict[str, object], repo: Path, changed: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = shlex.split(str(hook["entry"]))[1:] + _selected(hook, changed)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        code, out, _ = run(argv, capsys)
    return code, out


def test_changed_cards_and_configs_are_validated_other_readmes_skipped(
    hook: dict[str, object], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run_hook(
        hook,
        repo,
        ["README.md", "esms/amz20/config.json", "tool/config.json", "tool/README.md", "x.py"],
        capsys,
    )
    assert code == 0, out
    assert "esms/amz20/README.md: valid" in out  # the card beside the changed config
    assert "1 card(s) checked: 1 valid, 0 invalid; 2 README.md file(s) skipped" in out

    # The README and the config of one ESM both changed: the card is checked once.
    code, out = _run_hook(hook, repo, ["esms/amz20/README.md", "esms/amz20/config.json"], capsys)
    assert code == 0 and out.count("esms/amz20/README.md: valid") == 1


def test_a_broken_card_fails_the_commit(
    hook: dict[str, object], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run_hook(hook, repo, ["esms/broken/config.json", "README.md"], capsys)
    assert code == 1
    assert "esms/broken/README.md" in out and "embedding_space_map" in out


def test_a_config_without_a_card_beside_it_is_skipped(
    hook: dict[str, object], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lone = repo / "lone"
    lone.mkdir()
    (lone / "config.json").write_text("{}")
    code, out = _run_hook(hook, repo, ["lone/config.json"], capsys)
    assert code == 0
    assert "0 card(s) checked" in out


def test_ci_tries_the_hook_from_the_repository(repo_root: Path) -> None:
    ci = (repo_root / ".ci" / "run").read_text()
    assert "pre-commit try-repo" in ci
    assert "validate-esm-cards" in ci
