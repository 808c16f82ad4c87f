"""The command line prints every log record and warning once, through one redacting handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCENARIO = """
import logging, sys, warnings
from registry.cli import main
code = main(["schema", "-o", "schema.json"])  # configures logging like any command
logging.getLogger("huggingface_hub.hf_api").warning("hub says hf_secret_token_123")
logging.getLogger("datasets.load").warning("datasets says hi")
import transformers  # configures its logger lazily, after the command line did
transformers.utils.logging.get_logger("transformers.modeling_utils").warning("tf says hi")
import datasets
datasets.utils.logging.get_logger("datasets.builder").warning("builder says hi")
warnings.warn("a python warning")
"""


@pytest.mark.parametrize("ci", ["", "1"], ids=["terminal", "CI"])
def test_library_warnings_print_once_and_redacted(tmp_path: Path, ci: str) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("datasets")
    env = {**os.environ, "CI": ci, "HF_TOKEN": "hf_secret_token_123"}
    done = subprocess.run(
        [sys.executable, "-c", _SCENARIO],
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = done.stderr
    for message in ("hub says", "datasets says hi", "tf says hi", "builder says hi"):
        assert err.count(message) == 1, err
    assert err.count("a python warning") == 1, err
    assert "hf_secret_token_123" not in err
    assert "WARNING huggingface_hub.hf_api: hub says ***" in err
    assert "WARNING transformers.modeling_utils: tf says hi" in err


def test_running_the_command_line_twice_keeps_one_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from registry.cli import main

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["schema", "-o", "schema.json"]) == 0
    root = logging.getLogger()
    redacting = [h for h in root.handlers if type(h.formatter).__name__ == "_RedactingFormatter"]
    assert len(redacting) == 1
    for name in ("huggingface_hub", "datasets", "transformers"):
        library = logging.getLogger(name)
        assert library.propagate
        assert not [h for h in library.handlers if type(h) is logging.StreamHandler]
