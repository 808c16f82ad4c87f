"""Cards: rendering, parsing (new and legacy cards), the round trip, and hostile values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given

from registry.card import CARD_METADATA_KEY, card_data, parse_card, render_card, validate_text
from registry.card._format import FIELD_LINES, PLACEHOLDER
from registry.card._markdown import escape_inline, neutralize_block, unescape_inline
from registry.errors import TemplateError
from registry.metadata import EsmMetadata, load_metadata

from strategies import free_text, metadata, single_line


@pytest.fixture
def complete(repo_root: Path) -> EsmMetadata:
    return load_metadata(repo_root / "metadata/examples/amz20-dumbbell.yaml")


def front_matter(card: str) -> dict[str, Any]:
    lines = card.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    data = yaml.safe_load("\n".join(lines[1:end]))
    assert isinstance(data, dict)
    return data


def headings(card: str) -> list[str]:
    body = card.split("\n---\n", 1)[1]
    in_fence = False
    found = []
    for line in body.split("\n"):
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            found.append(line.split(" ", 1)[0] + " " + line.split(" ", 1)[1].split(" ")[0])
    return found


def test_front_matter_carries_the_hub_contract(complete: EsmMetadata) -> None:
    data = front_matter(render_card(complete))
    assert data["license"] == "apache-2.0"
    assert data["base_model"] == "bert-base-multilingual-uncased"
    assert data["datasets"] == ["kuroneko5943/amz20"]
    assert data["language"] == ["en"]
    assert data["tags"] == ["embedding_space_map", "BaseLM:bert-base-multilingual-uncased"]
    assert EsmMetadata.model_validate(data[CARD_METADATA_KEY]) == complete


def test_language_is_left_out_when_unknown() -> None:
    meta = EsmMetadata.model_validate({"base_model": "m", "task": {"task_id": "d"}})
    assert "language" not in card_data(meta)


def test_body_has_every_field_line_of_the_reference_format(complete: EsmMetadata) -> None:
    card = render_card(complete)
    for line in FIELD_LINES:
        if line.label == "MSE":
            assert "\nMSE: 0.0123\n" in card
        else:
            assert f"- **{line.label}:**" in card, line.label
    assert "- **Sample size [optional]:** 701" in card
    assert "- **Learning rate:** 2e-05" in card
    assert "trainiung" not in card  # the reference template's typo is fixed


def test_rendering_is_deterministic(complete: EsmMetadata) -> None:
    assert render_card(complete) == render_card(complete.model_copy(deep=True))


def test_checked_in_example_card_is_current(complete: EsmMetadata, repo_root: Path) -> None:
    path = repo_root / "metadata/examples/amz20-dumbbell.card.md"
    assert path.read_text(encoding="utf-8") == render_card(complete), (
        "re-render it: esm-registry card render metadata/examples/amz20-dumbbell.yaml "
        "-o metadata/examples/amz20-dumbbell.card.md"
    )


def test_unknown_identifying_fields_show_a_placeholder() -> None:
    meta = EsmMetadata.model_validate({"base_model": "m", "task": {"task_id": "d"}})
    card = render_card(meta)
    assert f"- **ESM embedding dimension:** {PLACEHOLDER}" in card
    assert "- **Subset [optional]:**\n" in card


@given(metadata)
def test_parse_inverts_render(meta: EsmMetadata) -> None:
    card = render_card(meta)
    parsed = parse_card(card)
    assert parsed.problems == []
    assert parsed.metadata == meta


@given(metadata)
def test_rendered_cards_are_valid_and_body_agrees_with_front_matter(meta: EsmMetadata) -> None:
    report = validate_text(render_card(meta))
    assert report.valid, report.problems
    assert [p for p in report.problems if p.code != "placeholder"] == []


@given(metadata)
def test_values_cannot_change_the_card_structure(meta: EsmMetadata) -> None:
    skeleton = EsmMetadata.model_validate(
        {"base_model": meta.base_model, "task": {"task_id": meta.task.task_id}}
    )
    card = render_card(meta)
    assert headings(card) == headings(render_card(skeleton))
    assert front_matter(card)["tags"] == meta.tags
    # The body alone (as older cards are read) gives back every single-line field.
    body_only = parse_card(card.split("\n---\n", 1)[1])
    assert body_only.metadata is not None
    expected = meta.model_dump(
        exclude={
            "summary",
            "description",
            "training_details",
            "additional_info",
            "evaluation",
            "extra",
            "license",
            "language",
            "base_model",
        }
    )
    got = body_only.metadata.model_dump(
        exclude={
            "summary",
            "description",
            "training_details",
            "additional_info",
            "evaluation",
            "extra",
            "license",
            "language",
            "base_model",
        }
    )
    assert got == expected


@given(single_line)
def test_inline_escaping_round_trips(value: str) -> None:
    assert unescape_inline(escape_inline(value)) == value
    assert "<" not in escape_inline(value).replace("\\<", "")


@given(free_text)
def test_neutralised_text_has_no_structural_lines(value: str) -> None:
    in_fence = False
    for line in neutralize_block(value).split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        stripped = line.lstrip(" ")
        assert not stripped.startswith(("#", "- **", "* **", "MSE:", "<", "---", "===")), line


def test_legacy_card_written_by_the_reference_template_parses(legacy_card_text: str) -> None:
    parsed = parse_card(legacy_card_text)
    assert parsed.source == "body"
    meta = parsed.metadata
    assert meta is not None
    assert meta.base_model == "bert-base-multilingual-uncased"
    assert meta.task.task_id == "kuroneko5943/amz20"
    assert meta.task.subset == "Dumbbell"
    assert meta.task.text_column == "sentence"
    assert meta.task.label_column == "label"
    assert meta.task.split == "train"
    assert meta.task.num_examples == 701
    assert meta.task.seed is None
    assert meta.embedding_dim is None  # "[More Information Needed]"
    assert meta.language == []
    assert meta.architecture == "linear"
    assert meta.version == "0.1.0"
    assert meta.developers == "David Schulte"
    assert meta.license == "apache-2.0"
    assert meta.lm_training.learning_rate == 2e-05
    assert meta.lm_training.optimizer == "AdamW"  # '- **Optimizer**:' with the colon outside
    assert meta.esm_training.num_epochs == 10
    assert meta.esm_training.learning_rate == 0.001
    assert meta.evaluation.esm_mse is None


def test_legacy_card_is_valid_but_strict_mode_flags_placeholders(legacy_card_text: str) -> None:
    lenient = validate_text(legacy_card_text)
    assert lenient.valid
    strict = validate_text(legacy_card_text, strict=True)
    assert not strict.valid
    (problem,) = strict.errors
    assert problem.field == "embedding_dim"
    assert problem.code == "placeholder"
    assert legacy_card_text.split("\n")[problem.line - 1].startswith(  # type: ignore[operator]
        "- **ESM embedding dimension:**"
    )


def test_legacy_text_columns_are_understood() -> None:
    card = "---\nbase_model: m\ndatasets: [d]\n---\n## Training Details\n### Intermediate Task\n"
    for shown, expected in [
        ("('premise', 'hypothesis')", ["premise", "hypothesis"]),
        ("premise,hypothesis", ["premise", "hypothesis"]),
        ("['text']", "text"),
        ("text", "text"),
    ]:
        meta = parse_card(card + f"- **Text Column:** {shown}\n").metadata
        assert meta is not None and meta.task.text_column == expected


def test_schema_errors_point_at_the_yaml_line(complete: EsmMetadata) -> None:
    card = render_card(complete).replace("    num_examples: 701", "    num_examples: -5")
    parsed = parse_card(card)
    assert parsed.metadata is None
    (problem,) = parsed.problems
    assert problem.code == "schema"
    assert card.split("\n")[problem.line - 1].strip() == "num_examples: -5"  # type: ignore[operator]


def test_body_value_errors_point_at_the_field_line(legacy_card_text: str) -> None:
    card = legacy_card_text.replace("- **Batch size:** 32", "- **Batch size:** many", 1)
    parsed = parse_card(card)
    problem = next(p for p in parsed.problems if p.field == "lm_training.batch_size")
    assert card.split("\n")[problem.line - 1] == "- **Batch size:** many"  # type: ignore[operator]


def test_custom_template_is_sandboxed(tmp_path: Path, complete: EsmMetadata) -> None:
    evil = tmp_path / "evil.md.j2"
    evil.write_text("{{ meta.__class__.__init__.__globals__ }}")
    with pytest.raises(TemplateError):
        render_card(complete, template=evil)


def test_custom_template_undefined_variable_is_an_error(
    tmp_path: Path, complete: EsmMetadata
) -> None:
    template = tmp_path / "t.md.j2"
    template.write_text("---\n{{ card_data }}\n---\n{{ nonexistent }}\n")
    with pytest.raises(TemplateError, match="undefined"):
        render_card(complete, template=template)
    template.write_text("{% if %}")
    with pytest.raises(TemplateError, match="syntax"):
        render_card(complete, template=template)
    with pytest.raises(TemplateError, match="not found"):
        render_card(complete, template=tmp_path / "missing.j2")


def test_custom_template_renders(tmp_path: Path, complete: EsmMetadata) -> None:
    template = tmp_path / "t.md.j2"
    template.write_text("---\n{{ card_data }}\n---\n# {{ inline(meta.base_model) }}\n")
    card = render_card(complete, template=template)
    assert card.endswith("# bert-base-multilingual-uncased\n")
    assert parse_card(card).metadata == complete
