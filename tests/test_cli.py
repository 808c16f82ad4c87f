"""The esm-registry command: exit codes, output formats, render/parse/schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from registry.card import render_card
from registry.cli import main
from registry.metadata import load_metadata, to_config
from registry.schema import metadata_schema_text

from cli_runner import run


@pytest.fixture
def esm_dir(tmp_path: Path, repo_root: Path) -> Path:
    meta = load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")
    folder = tmp_path / "esm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(to_config(meta)))
    (folder / "README.md").write_text(render_card(meta))
    return folder


def test_validate_valid_directory(esm_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["card", "validate", str(esm_dir.parent)], capsys)
    assert code == 0
    assert out.endswith("1 card(s) checked: 1 valid, 0 invalid\n")


def test_validate_invalid_card_exits_1_with_line(
    esm_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = esm_dir / "README.md"
    card.write_text(card.read_text().replace("- embedding_space_map\n", ""))
    code, out, _ = run(["card", "validate", str(card)], capsys)
    assert code == 1
    number = card.read_text().split("\n").index("tags:") + 1
    assert f"{card}:{number}: error [tags]: tag 'embedding_space_map' is missing" in out


def test_validate_github_format(esm_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = esm_dir / "README.md"
    card.write_text(card.read_text().replace("- **Text Column:** sentence", "- **Text Column:** x"))
    code, out, _ = run(["card", "validate", "--format", "github", str(card)], capsys)
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("::error"))
    number = card.read_text().split("\n").index("- **Text Column:** x") + 1
    assert line.startswith(f"::error file={card},line={number},title=ESM card%3A body-mismatch::")
    assert "task.text_column" in line


def test_github_format_escapes_newlines_and_separators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "a,b:c"
    odd.mkdir()
    (odd / "README.md").write_text("no front matter\n")
    # Named explicitly, so validated although it does not look like an ESM card.
    code, out, _ = run(["card", "validate", "--format", "github", str(odd / "README.md")], capsys)
    assert code == 1
    assert "file=" + str(odd).replace(":", "%3A").replace(",", "%2C") + "/README.md" in out


def test_validate_json_format(esm_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["card", "validate", "--format", "json", "--strict", str(esm_dir)], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["valid"] is True
    assert payload["cards"][0]["path"].endswith("README.md")


def test_validate_strict_turns_placeholders_into_errors(
    tmp_path: Path, legacy_card_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text(legacy_card_text)
    assert run(["card", "validate", str(tmp_path)], capsys)[0] == 0
    code, out, _ = run(["card", "validate", "--strict", str(tmp_path)], capsys)
    assert code == 1
    assert "placeholder" in out


def test_validate_directory_without_cards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["card", "validate", str(tmp_path)], capsys)
    assert code == 1
    assert "no card (README.md or *.card.md) found" in out


@pytest.mark.parametrize(
    "args",
    [
        ["card", "validate"],
        ["card", "validate", "--format", "xml", "x"],
        ["card"],
        ["nonsense"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["card", "validate", str(tmp_path / "nope")], capsys)
    assert code == 2
    assert "no such file or directory" in err
    assert "Traceback" not in err


def test_render_from_esm_dir_and_metadata_file(
    esm_dir: Path, repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["card", "render", str(esm_dir)], capsys)
    assert code == 0
    assert out == (esm_dir / "README.md").read_text()
    target = tmp_path / "out" / "README.md"
    example = repo_root / "metadata/examples/amz20-dumbbell.yaml"
    assert run(["card", "render", str(example), "-o", str(target)], capsys)[0] == 0
    assert target.read_text() == out
    assert not list(target.parent.glob(".*.tmp"))


def test_render_invalid_metadata_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_model: 'no spaces allowed'\ntask: {task_id: ok}\n")
    code, _, err = run(["card", "render", str(bad)], capsys)
    assert code == 1
    assert "base_model" in err and "is not a Hub repo id" in err
    assert "Traceback" not in err
    assert run(["card", "render", str(tmp_path / "missing.yaml")], capsys)[0] == 2


def test_parse_prints_metadata_json(
    tmp_path: Path, legacy_card_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "README.md"
    card.write_text(legacy_card_text)
    code, out, _ = run(["card", "parse", str(card)], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["task"]["subset"] == "Dumbbell"
    card.write_bytes(b"\x00\x01")
    code, out, err = run(["card", "parse", str(card)], capsys)
    assert code == 1
    assert "binary" in err


def test_schema_command_prints_the_checked_in_schema(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["schema"], capsys)
    assert code == 0
    assert out == metadata_schema_text()


def test_python_dash_m_entry_point(esm_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "registry", "card", "validate", str(esm_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 valid" in result.stdout


def test_stdin_card(esm_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "registry", "card", "validate", "-"],
        input=(esm_dir / "README.md").read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_parse_reads_stdin_like_validate(esm_dir: Path, legacy_card_text: str) -> None:
    for text, expected in [
        ((esm_dir / "README.md").read_text(), "Dumbbell"),
        (legacy_card_text, "Dumbbell"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "registry", "card", "parse", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["task"]["subset"] == expected
    result = subprocess.run(
        [sys.executable, "-m", "registry", "card", "parse", "-"],
        input="no front matter here\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("<stdin>")
