"""The composite GitHub Action's validation step, run as GitHub would run it (bash)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from registry.card import render_card
from registry.metadata import EsmMetadata, to_config

ACTION = Path(__file__).resolve().parent.parent / ".github/actions/validate-esm-cards/action.yml"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the action runs in bash")


def _step() -> dict[str, object]:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "validate"]
    return step


def _defaults() -> dict[str, str]:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}


def _run_action(repo: Path, tmp_path: Path, **inputs: str) -> tuple[int, str, str]:
    """Run the step's script in ``repo`` with the action's inputs (defaults filled in)."""
    values = {**_defaults(), **inputs}
    step = _step()
    env_spec = step["env"]
    assert isinstance(env_spec, dict)
    env = dict(os.environ)
    for name, expression in env_spec.items():
        key = str(expression).removeprefix("${{ inputs.").removesuffix(" }}")
        env[name] = values[key]
    shims = tmp_path / "bin"
    shims.mkdir(exist_ok=True)
    shim = shims / "esm-registry"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m registry "$@"\n')
    shim.chmod(0o755)
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    output = tmp_path / "github-output"
    output.write_text("")
    env["GITHUB_OUTPUT"] = str(output)
    done = subprocess.run(
        ["bash", "-e", "-c", str(step["run"])],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, output.read_text()


def _esm(folder: Path) -> None:
    meta = EsmMetadata.model_validate(
        {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    )
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(render_card(meta))
    (folder / "config.json").write_text(json.dumps(to_config(meta)))


def test_defaults_pass_on_a_repository_whose_readme_is_not_an_esm_card(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# A project\n\nNot an ESM.\n")
    _esm(repo / "esms" / "imdb")
    code, out, outputs = _run_action(repo, tmp_path)
    assert code == 0, out
    assert "valid=true" in outputs


def test_paths_with_spaces_one_per_line_and_excludes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _esm(repo / "my esms" / "first one")
    broken = repo / "my esms" / "broken"
    _esm(broken)
    (broken / "README.md").write_text("---\ntags: [embedding_space_map]\n---\n")
    paths = f"\n  {repo / 'my esms' / 'first one' / 'README.md'}  \n\n"
    code, out, outputs = _run_action(repo, tmp_path, paths=paths)
    assert code == 0, out
    assert "1 card(s) checked: 1 valid" in out
    code, out, outputs = _run_action(repo, tmp_path, paths="my esms")
    assert code == 1
    assert "::error file=" in out and "broken" in out
    assert "valid=false" in outputs
    code, out, _ = _run_action(repo, tmp_path, paths="my esms", exclude="broken/*\n")
    assert code == 0, out
