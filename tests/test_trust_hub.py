"""A Hub that answers wrongly, or echoes the token: clear errors, nothing deleted, no leak."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from catalog_support import esm_files, hub_store

from registry.catalog import Catalog
from registry.errors import StoreError

from cli_runner import run
from hub_server import FakeHub

TOKEN = "hf_TheSecretTokenOfAlice_1234567890"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "expected a JSON list of repos, got a JSON object"),
        ([None], "expected a JSON object for a repo, got a JSON null"),
        ([{"sha": "0" * 40}], "expected the repo id as a string for 'id'"),
        ([{"id": "alice/esm0", "tags": "embedding_space_map"}], "a list of strings for 'tags'"),
        ([{"id": "alice/esm0", "private": "no"}], "true or false for 'private'"),
        ([{"id": "bad id\nwith newline"}], "not a valid repo id"),
        ("not a list", "got a JSON string"),
    ],
)
def test_a_malformed_listing_fails_the_sync_and_deletes_nothing(
    fake_hub: FakeHub, tmp_path: Path, body: Any, expected: str
) -> None:
    for index in range(2):
        fake_hub.add_repo(f"alice/esm{index}", esm_files(index))
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.sync(store, progress=False)
        fake_hub.respond_next(body, path_contains="/api/models")
        with pytest.raises(StoreError, match=expected) as info:
            catalog.sync(store, progress=False)
        assert "\n" not in str(info.value)
        assert len(catalog) == 2  # an answer of the wrong shape never empties the catalog


def test_a_malformed_repo_answer_is_one_clear_line(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo("alice/esm0", esm_files(0))
    fake_hub.respond_next({"id": 3, "siblings": "none"}, 5, path_contains="/api/models/alice")
    code, out, err = run(
        ["refresh-cards", "alice/esm0", "--registry", fake_hub.url, "--no-progress"], capsys
    )
    assert code == 1
    assert "unexpected shape" in out + err and "Traceback" not in out + err


@pytest.mark.parametrize("fake_hub", [{"tokens": {TOKEN: "alice"}}], indirect=True)
def test_tokens_never_appear_in_output_at_any_verbosity(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo("alice/esm0", esm_files(0))
    env = {
        **os.environ,
        "HF_TOKEN": TOKEN,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "HF_HOME": str(tmp_path / "hf"),
    }
    runs = []
    for verbosity in ([], ["-v"], ["-vv"]):
        # The server echoes the token in its error (message, header and body), twice.
        fake_hub.respond_next(None, 10, status=401, echo_token=True)
        for command in (
            ["catalog", "sync", "--catalog", str(tmp_path / "c.sqlite")],
            ["refresh-cards", "--all"],
        ):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "registry",
                    *verbosity,
                    *command,
                    "--registry",
                    fake_hub.url,
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
            runs.append((verbosity, command[0], done.returncode, done.stdout + done.stderr))
    assert any(verbosity == ["-vv"] and "DEBUG" in output for verbosity, _, _, output in runs)
    for verbosity, command, code, output in runs:
        assert code != 0, (verbosity, command, output)
        assert TOKEN not in output, (verbosity, command)
        assert TOKEN[:20] not in output
