"""The validator: card data and tags, body agreement, config.json, and bad input of any kind."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.card import MAX_CARD_BYTES, render_card, validate_card, validate_text
from registry.metadata import EsmMetadata, load_metadata, to_config

from strategies import metadata


@pytest.fixture
def complete(repo_root: Path) -> EsmMetadata:
    return load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")


@pytest.fixture
def card(complete: EsmMetadata) -> str:
    return render_card(complete)


def codes(text: str | bytes, **kwargs: bool) -> set[str]:
    return {p.code for p in validate_text(text, **kwargs).errors}


def line_of(text: str, number: int | None) -> str:
    assert number is not None
    return text.split("\n")[number - 1]


def test_complete_card_is_valid_even_in_strict_mode(card: str) -> None:
    report = validate_text(card, strict=True)
    assert report.valid
    assert report.problems == []


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("- embedding_space_map\n", "", "missing-tag"),
        (
            "- BaseLM:bert-base-multilingual-uncased\n",
            "- BaseLM:bert-base-uncased\n",
            "missing-tag",
        ),
        (
            "base_model: bert-base-multilingual-uncased\ndatasets",
            "base_model: other/model\ndatasets",
            "card-data-mismatch",
        ),
        ("datasets:\n- kuroneko5943/amz20\n", "datasets:\n- other/data\n", "card-data-mismatch"),
        ("license: apache-2.0\nbase_model", "license: mit\nbase_model", "card-data-mismatch"),
        ("language:\n- en\n", "language:\n- de\n", "card-data-mismatch"),
        ("language:\n- en\n", "", "card-data-mismatch"),
        ("license: apache-2.0\nbase_model", "base_model", "missing-card-data"),
        (
            "- **Base Model:** bert-base-multilingual-uncased",
            "- **Base Model:** bert-base-uncased",
            "body-mismatch",
        ),
        ("- **Sample size [optional]:** 701", "- **Sample size [optional]:** 702", "body-mismatch"),
        ("- **Learning rate:** 2e-05", "- **Learning rate:** 3e-05", "body-mismatch"),
        (
            "- **Dataset Split:** train",
            "- **Dataset Split:** [More Information Needed]",
            "body-mismatch",
        ),
        ("    learning_rate: 2.0e-05", "    learning_rate: -2.0", "schema"),
        ("  architecture: linear", "  architecture: transformer", "schema"),
    ],
)
def test_defects_are_reported(card: str, old: str, new: str, code: str) -> None:
    assert old in card
    broken = card.replace(old, new, 1)
    report = validate_text(broken)
    assert not report.valid
    assert code in {p.code for p in report.errors}
    for problem in report.errors:
        if problem.line is not None:
            assert 1 <= problem.line <= broken.count("\n") + 1


def test_body_mismatch_points_at_the_line(card: str) -> None:
    broken = card.replace("- **Text Column:** sentence", "- **Text Column:** review")
    (problem,) = validate_text(broken).errors
    assert problem.field == "task.text_column"
    assert line_of(broken, problem.line) == "- **Text Column:** review"


def test_edited_free_text_is_a_warning(card: str) -> None:
    head, body = card.split("\n---\n", 1)
    assert "fitted on pairs of embeddings" in body
    broken = head + "\n---\n" + body.replace("fitted on pairs of embeddings", "fitted on them")
    report = validate_text(broken)
    assert report.valid
    assert [p.field for p in report.warnings] == ["description"]


def test_missing_field_line_is_reported(card: str) -> None:
    broken = card.replace("- **Dataset Split:** train\n", "")
    report = validate_text(broken)
    assert report.valid  # warnings only
    assert "missing-field-line" in {p.code for p in report.warnings}
    assert "missing-field-line" in codes(broken, strict=True)


def test_config_json_next_to_the_card_must_agree(tmp_path: Path, complete: EsmMetadata) -> None:
    (tmp_path / "README.md").write_text(render_card(complete))
    config = to_config(complete)
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert validate_card(tmp_path / "README.md").valid

    config["num_examples"] = 1000
    config["transformers_version"] = "4.0"  # other tools' keys are not compared
    (tmp_path / "config.json").write_text(json.dumps(config))
    report = validate_card(tmp_path / "README.md")
    (problem,) = report.errors
    assert problem.code == "config-mismatch"
    assert "num_examples" in problem.message
    assert "701" in problem.message and "1000" in problem.message
    assert validate_card(tmp_path / "README.md", check_config=False).valid

    (tmp_path / "config.json").write_text("{not json")
    assert {p.code for p in validate_card(tmp_path / "README.md").errors} == {"config-invalid"}
    (tmp_path / "config.json").write_text(json.dumps({"base_model_name": "x"}))
    assert {p.code for p in validate_card(tmp_path / "README.md").errors} == {"config-invalid"}


def test_hfselect_config_without_card_fields_is_not_a_mismatch(
    tmp_path: Path, complete: EsmMetadata
) -> None:
    """hfselect's config.json has no license or free texts; their absence is not a conflict."""
    meta = complete.model_copy(update={"license": "mit"})
    (tmp_path / "README.md").write_text(render_card(meta))
    config = {k: v for k, v in to_config(meta).items() if k not in ("license", "model_summary")}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert validate_card(tmp_path / "README.md").valid


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"---\nbase_model: caf\xe9\n---\n", "not-utf8"),
        (b"# Just a heading\n", "no-front-matter"),
        (b"---\nbase_model: x\nno closing marker\n", "no-front-matter"),
        (b"---\n- a\n- b\n---\n", "front-matter-not-mapping"),
        (b"---\njust a string\n---\n", "front-matter-not-mapping"),
        (b"---\nkey: [unclosed\n---\n", "yaml-syntax"),
        (b"---\n!!python/object:os.system ls\n---\n", "yaml-syntax"),
        (b"---\nesm_metadata: 5\n---\n", "schema"),
    ],
)
def test_bad_input_gives_a_clear_problem(content: bytes, code: str) -> None:
    assert code in codes(content)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("---")
    report = validate_text("\n".join(lines) + "\n")
    assert "yaml-alias" in {p.code for p in report.errors}


@pytest.mark.parametrize(
    "nested",
    ["- " * 200_000 + "x", "a: " + "[" * 100_000 + "]" * 100_000, "a: " + "{b: " * 5000 + "1"],
)
def test_absurdly_deep_yaml_is_refused_without_crashing(nested: str) -> None:
    """libyaml's composer crashes the interpreter at about 100,000 levels of nesting."""
    report = validate_text(f"---\n{nested}\n---\n")
    assert "yaml-syntax" in {p.code for p in report.errors}
    assert any("nests more than" in p.message for p in report.errors)


def test_yaml_merge_keys_and_custom_tags_are_refused() -> None:
    assert "yaml-alias" in codes("---\n<<: {base_model: x}\n---\n")
    assert "yaml-syntax" in codes("---\na: !!python/object/apply:os.system [ls]\n---\n")
    assert "yaml-syntax" in codes("---\n? [1, 2]\n: unhashable key\n---\n")


def test_oversized_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(b"---\n" + b"a" * (MAX_CARD_BYTES + 1))
    (problem,) = validate_card(path).problems
    assert problem.code == "too-large"


def test_unreadable_path_is_a_problem(tmp_path: Path) -> None:
    (problem,) = validate_card(tmp_path / "missing.md").problems
    assert problem.code == "unreadable"


@given(st.binary(max_size=2000))
def test_validator_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    validate_text(data)
    validate_text(b"---\n" + data)


@given(st.text(max_size=2000))
def test_validator_never_raises_on_arbitrary_text(text: str) -> None:
    validate_text(text)
    validate_text("---\n" + text + "\n---\n" + text)


@given(metadata, st.randoms(use_true_random=False), st.integers(1, 6))
def test_validator_never_raises_on_mutated_cards(
    meta: EsmMetadata, rnd: random.Random, edits: int
) -> None:
    lines = render_card(meta).split("\n")
    pool = [
        "---",
        "",
        "tags: 5",
        "esm_metadata:",
        "  task: []",
        "- **Task ID:** ::",
        "MSE: nope",
        "## Additional Information",
        "```",
        "- **Epochs:** 1e999",
        "*a",
        "&x",
        "  base_model: *x",
        "- **ESM embedding dimension:** -3",
    ]
    for _ in range(edits):
        op = rnd.randrange(3)
        index = rnd.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[index]
        elif op == 1:
            lines[index] = rnd.choice(pool)
        else:
            lines.insert(index, rnd.choice(pool))
    report = validate_text("\n".join(lines))
    for problem in report.problems:
        assert problem.message
        assert problem.line is None or problem.line >= 1
