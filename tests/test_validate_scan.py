"""Card validation that fits real repositories: scans, skips, special files, root causes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from esm_factory import legacy_config_bytes

from registry.card import render_card
from registry.card.validate import validate_card, validate_text
from registry.metadata import EsmMetadata, to_config

from cli_runner import run

PROJECT_README = "# My project\n\nSome tools. See `docs/`.\n"


def _esm_folder(folder: Path) -> Path:
    meta = EsmMetadata.model_validate(
        {"base_model": "bert-base-uncased", "task": {"task_id": "stanfordnlp/imdb"}}
    )
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(render_card(meta))
    (folder / "config.json").write_text(json.dumps(to_config(meta)))
    return folder


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository whose own README is not an ESM card, with two ESMs and docs."""
    root = tmp_path / "repo"
    _esm_folder(root / "esms" / "imdb")
    _esm_folder(root / "esms" / "other")
    (root / "README.md").write_text(PROJECT_README)
    (root / "docs").mkdir()
    (root / "docs" / "README.md").write_text("# Docs\n")
    return root


def test_scan_skips_readmes_that_are_not_esm_cards(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["card", "validate", str(repository)], capsys)
    assert code == 0, out
    assert out.endswith(
        "2 card(s) checked: 2 valid, 0 invalid; 2 README.md file(s) skipped (not ESM cards)\n"
    )
    code, out, _ = run(["-v", "card", "validate", str(repository)], capsys)
    assert f"{repository / 'README.md'}: skipped: not an ESM card" in out
    code, out, _ = run(["card", "validate", "--format", "json", str(repository)], capsys)
    payload = json.loads(out)
    assert payload["valid"] is True
    assert len(payload["cards"]) == 2
    assert {Path(item["path"]).name for item in payload["skipped"]} == {"README.md"}


def test_a_file_named_explicitly_is_always_validated(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["card", "validate", str(repository / "README.md")], capsys)
    assert code == 1
    # One root cause, not three: no follow-on "base_model missing" errors.
    assert out.count("error") == 1
    assert "(no-front-matter)" in out


@pytest.mark.parametrize(
    "card",
    [
        "---\ntags: [embedding_space_map]\n---\n# An ESM with broken card data\n",
        "---\nesm_metadata: {base_model: 3}\n---\n",
    ],
)
def test_a_broken_esm_card_is_not_skipped(tmp_path: Path, card: str) -> None:
    folder = tmp_path / "esm"
    folder.mkdir()
    (folder / "README.md").write_text(card)
    report = validate_card(folder / "README.md", only_esm_cards=True)
    assert report.skipped is None
    assert not report.valid


def test_an_esm_config_beside_makes_a_readme_an_esm_card(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(PROJECT_README)
    (tmp_path / "config.json").write_bytes(legacy_config_bytes())
    report = validate_card(tmp_path / "README.md", only_esm_cards=True)
    assert report.skipped is None
    assert [p.code for p in report.problems] == ["no-front-matter"]
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')  # a model's config
    assert validate_card(tmp_path / "README.md", only_esm_cards=True).skipped


def test_exclude_globs_are_relative_and_repeatable(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / "esms" / "other" / "README.md").write_text("---\ntags: [embedding_space_map\n")
    code, out, _ = run(["card", "validate", str(repository)], capsys)
    assert code == 1
    code, out, _ = run(
        ["card", "validate", "--exclude", "esms/oth*", "--exclude", "docs/*", str(repository)],
        capsys,
    )
    assert code == 0, out
    assert "1 card(s) checked: 1 valid, 0 invalid; 1 README.md file(s) skipped" in out


def test_a_repository_with_no_esm_cards_passes_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text(PROJECT_README)
    code, out, _ = run(["card", "validate", str(tmp_path)], capsys)
    assert code == 0
    assert "warning: no ESM card found under this directory" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = run(["card", "validate", str(empty)], capsys)
    assert code == 1
    assert "(no-cards)" in out


def test_symlinks_out_of_the_tree_are_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = _esm_folder(tmp_path / "outside")
    (outside / "README.md").write_text("---\ntags: [embedding_space_map]\n---\n")  # invalid
    tree = tmp_path / "tree"
    inside = _esm_folder(tree / "esm")
    (tree / "linked-folder").symlink_to(outside, target_is_directory=True)
    (tree / "other").mkdir()
    (tree / "other" / "README.md").symlink_to(outside / "README.md")
    (tree / "alias").mkdir()
    (tree / "alias" / "README.md").symlink_to(inside / "README.md")  # stays in the tree
    code, out, _ = run(["card", "validate", str(tree)], capsys)
    assert code == 0, out
    assert "2 card(s) checked: 2 valid" in out


def test_special_files_are_refused_without_reading(tmp_path: Path) -> None:
    report = validate_card("/dev/zero")
    assert [p.code for p in report.problems] == ["not-a-file"]
    fifo = tmp_path / "README.md"
    os.mkfifo(fifo)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(validate_card(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert outcome, "validating a FIFO blocked"
    assert [p.code for p in outcome[0].problems] == ["not-a-file"]  # type: ignore[attr-defined]


def test_cards_hfselect_published_validate_next_to_their_config(
    tmp_path: Path, legacy_card_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The card on the Hub shows no embedding dimension; its config.json says 8.
    (tmp_path / "README.md").write_text(legacy_card_text)
    (tmp_path / "config.json").write_bytes(legacy_config_bytes())
    report = validate_card(tmp_path / "README.md")
    assert report.valid, [p.message for p in report.errors]
    assert any(p.code == "config-mismatch" and p.severity == "warning" for p in report.problems)
    assert not validate_card(tmp_path / "README.md", strict=True).valid
    # With a language in the body, hfselect's card data still has none: a warning.
    with_language = legacy_card_text.replace(
        "**Language(s) (NLP):** [More Information Needed]", "**Language(s) (NLP):** en"
    )
    assert with_language != legacy_card_text
    report = validate_text(with_language)
    assert report.valid, [p.message for p in report.errors]
    assert [p.code for p in report.warnings if p.field == "language"] == ["missing-card-data"]


def test_a_deeply_nested_config_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    folder = _esm_folder(tmp_path / "esm")
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    report = validate_card(folder / "README.md")
    assert [p.code for p in report.errors] == ["config-invalid"]
    assert "nested deeper" in report.errors[0].message


def test_output_under_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    example = repo_root / "metadata" / "examples" / "amz20-dumbbell.yaml"
    code, _, err = run(["card", "render", str(example), "-o", str(blocker / "out.md")], capsys)
    assert code == 2
    assert "cannot write" in err
    assert "Traceback" not in err


def test_output_to_a_device_writes_through_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    """``-o /dev/null`` must never replace the device with a file (an atomic rename would)."""
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    example = repo_root / "metadata" / "examples" / "amz20-dumbbell.yaml"
    code, _, _ = run(["card", "render", str(example), "-o", str(fifo)], capsys)
    reader.join(timeout=10)
    assert code == 0
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the pipe, not a file put in its place
    assert received and received[0].startswith(b"---\n")
